package engine

import (
	"strings"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/templates"
)

const invite = "INVITE sip:+12155551213@example.net SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n" +
	"From: \"A\" <sip:+12155551212@example.com>;tag=1\r\n" +
	"To: <sip:+12155551213@example.net>\r\n" +
	"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

func newReq(t testing.TB) *sip.Request {
	m, err := sip.ParseMessage([]byte(invite))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

// testRegistry has small actions that exercise the engine without the
// actions package.
func testRegistry() *Registry {
	return NewRegistry(
		Spec{Name: "boom", MaxOperands: 0, Build: func(b *Builder, ops []rules.Value) (Action, error) {
			return ActionFunc(func(c *Call) Outcome { panic("kaboom") }), nil
		}},
		Spec{Name: "put", MinOperands: 2, MaxOperands: 2, Build: func(b *Builder, ops []rules.Value) (Action, error) {
			t, err := b.Template(ops[1])
			if err != nil {
				return nil, err
			}
			ref, err := b.Declare(ops[0])
			if err != nil {
				return nil, err
			}
			return ActionFunc(func(c *Call) Outcome {
				c.Set(ref, t.Render(c))
				c.Notef("put %s", ops[0].Text)
				return Done()
			}), nil
		}},
		Spec{Name: "fail", Build: func(b *Builder, ops []rules.Value) (Action, error) {
			return ActionFunc(func(c *Call) Outcome { return Fail("broken %d", 7) }), nil
		}},
		Spec{Name: "deny", Build: func(b *Builder, ops []rules.Value) (Action, error) {
			return ActionFunc(func(c *Call) Outcome { return RejectCall(403, "Forbidden") }), nil
		}},
		Spec{Name: "provider", Provides: []string{"prov_var"}, Build: func(b *Builder, ops []rules.Value) (Action, error) {
			ref := b.Var("prov_var")
			return ActionFunc(func(c *Call) Outcome { c.Set(ref, "p"); return Done() }), nil
		}},
	)
}

func compileT(t testing.TB, src string) *Pipeline {
	t.Helper()
	f, err := rules.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(f, testRegistry(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPanicIsContained(t *testing.T) {
	p := compileT(t, `[{action: put, operands: [a, x]}, {action: boom}, {action: put, operands: [b, y]}]`)
	c := NewCall(newReq(t))
	res := p.Run(c)
	if res.Disposition.Kind != Reject || res.Disposition.Status != 500 {
		t.Fatalf("disposition = %+v, want reject 500", res.Disposition)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), "kaboom") || !strings.Contains(res.Err.Error(), "t.yaml:1:35") {
		t.Fatalf("err = %v", res.Err)
	}
	if len(res.Steps) != 2 || res.Steps[1].Status != StepPanicked {
		t.Fatalf("steps = %+v", res.Steps)
	}
	if _, set := c.SetVars()["b"]; set {
		t.Fatal("rule after the panic ran")
	}
}

func TestFailContinues(t *testing.T) {
	p := compileT(t, `[{action: fail}, {action: deny}]`)
	res := p.Run(NewCall(newReq(t)))
	if res.Steps[0].Status != StepFailed || res.Steps[0].Detail != "broken 7" {
		t.Fatalf("step 0 = %+v", res.Steps[0])
	}
	if res.Disposition.Status != 403 {
		t.Fatalf("disposition = %+v", res.Disposition)
	}
}

func TestVariablesAndTrace(t *testing.T) {
	p := compileT(t, `[{action: put, operands: [a, "{{from_user}}"]}, {action: put, operands: [b, "{{a}}-{{prov_var}}-{{direction}}"]}, {action: provider}]`)
	c := NewCall(newReq(t))
	c.Tracing = true
	res := p.Run(c)
	vars := c.SetVars()
	if vars["a"] != "+12155551212" || vars["b"] != "+12155551212--inbound" || vars["prov_var"] != "p" {
		t.Fatalf("vars = %v", vars)
	}
	if res.Steps[0].Detail != "put a" || res.Steps[0].Pos.Line != 1 || res.Steps[1].Action != "put" {
		t.Fatalf("steps = %+v", res.Steps)
	}
	if v, ok := c.Var("call_id"); !ok || v != "c1" {
		t.Fatalf("call_id = %q %v", v, ok)
	}
	if v, ok := c.Var("header.call-id"); !ok || v != "c1" {
		t.Fatalf("header.call-id = %q %v", v, ok)
	}
	if v, _ := c.Var("src_ip"); v != "192.0.2.1" {
		t.Fatalf("src_ip from Via = %q", v)
	}
}

func TestDirections(t *testing.T) {
	p := compileT(t, `[{action: put, direction: inbound, operands: [i, x]}, {action: put, direction: outbound, operands: [o, x]}, {action: put, operands: [a, x]}]`)
	for _, tc := range []struct {
		dir  rules.Direction
		want string
	}{{rules.Inbound, "a,i"}, {rules.Outbound, "a,o"}, {rules.Any, "a,i,o"}} {
		c := NewCall(newReq(t))
		c.Direction = tc.dir
		p.Run(c)
		var got []string
		for _, k := range []string{"a", "i", "o"} {
			if _, ok := c.SetVars()[k]; ok {
				got = append(got, k)
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%v: ran %v, want %s", tc.dir, got, tc.want)
		}
	}
}

func TestWhen(t *testing.T) {
	p := compileT(t, `[{action: put, operands: [a, A]}, {action: deny, when: 'a == "A" && from_user matches "^\\+1"'}]`)
	res := p.Run(NewCall(newReq(t)))
	if res.Disposition.Status != 403 {
		t.Fatalf("when did not hold: %+v", res.Steps)
	}
	p = compileT(t, `[{action: deny, when: 'header("X-Missing") != ""'}]`)
	res = p.Run(NewCall(newReq(t)))
	if res.Disposition.Kind != Forward || res.Steps[0].Status != StepSkippedWhen {
		t.Fatalf("steps = %+v", res.Steps)
	}
}

func TestProvidedVariablesAreKnown(t *testing.T) {
	compileT(t, `[{action: put, operands: [x, "{{prov_var}}"]}]`)
}

// TestConcurrentRuns checks that one pipeline serves many goroutines (run
// with -race).
func TestConcurrentRuns(t *testing.T) {
	p := compileT(t, `[{action: put, operands: [a, "{{from_user}}"]}, {action: put, operands: [b, "{{a}}{{a}}"]}]`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				c := NewCall(newReq(t))
				p.Run(c)
				if c.SetVars()["b"] != "+12155551212+12155551212" {
					t.Error("wrong value")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestReplacement(t *testing.T) {
	p := compileT(t, `[{action: put, operands: [v, "$9"]}]`)
	c := NewCall(newReq(t))
	p.Run(c)
	pat, err := compilePattern(`(\d)(?<x>\d)`, DefaultRegexTimeout)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ repl, in, want string }{
		{`\1`, "a12b", "a1b"},
		{`$1`, "a12b", "a1b"},
		{`${1}0`, "a12b", "a10b"},
		{`${x}`, "a12b", "a2b"},
		{`$$\\`, "a12b", `a$\b`},
		{`[$0]`, "a12b", "a[12]b"},
		{`{{v}}`, "a12b", "a$9b"},
	} {
		tmpl, err := templates.Compile(tc.repl, func(name string) (templates.Ref, error) { return c.p.index[name], nil })
		if err != nil {
			t.Fatal(err)
		}
		r, err := compileReplacement(tmpl, pat)
		if err != nil {
			t.Fatalf("%s: %v", tc.repl, err)
		}
		got, ok := pat.ReplaceFirst(c, tc.in, r)
		if !ok || got != tc.want {
			t.Errorf("%s on %s = %q, want %q", tc.repl, tc.in, got, tc.want)
		}
	}
	// Non-ASCII subjects: offsets are runes in regexp2, bytes in Go.
	pat2, _ := compilePattern(`(é+)x`, DefaultRegexTimeout)
	tmpl, _ := templates.Compile(`<\1>`, nil)
	r, _ := compileReplacement(tmpl, pat2)
	if got, _ := pat2.ReplaceFirst(c, "ñaééxz", r); got != "ña<éé>z" {
		t.Errorf("unicode replace = %q", got)
	}
}
