package actions_test

import (
	"strings"
	"testing"

	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/stir/stirtest"
)

// TestStirSign signs INVITEs in a pipeline and verifies the result with
// stir_validate in the same pipeline.
func TestStirSign(t *testing.T) {
	e := newStirEnv(t)
	tests := []struct {
		name   string
		rules  string
		inv    stirtest.Invite
		attest string
		origid string
	}{
		{name: "literal A", rules: `[{action: stir_sign, operands: [A]}]`, inv: stirtest.Invite{}, attest: "A"},
		{name: "origid operand", rules: `[{action: stir_sign, operands: [B, "call-{{call_id}}"]}]`, inv: stirtest.Invite{CallID: "abc"}, attest: "B", origid: "call-abc"},
		{name: "attest chosen by rules", rules: `
- {action: set_variable, operands: [att, C]}
- {action: if_match, operands: ["{{from_user}}", "^1215555", set_variable, att, A]}
- {action: stir_sign, operands: ["{{att}}"]}`, inv: stirtest.Invite{}, attest: "A"},
		{name: "attest chosen by rules, other caller", rules: `
- {action: set_variable, operands: [att, C]}
- {action: if_match, operands: ["{{from_user}}", "^1215555", set_variable, att, A]}
- {action: stir_sign, operands: ["{{att}}"]}`, inv: stirtest.Invite{From: "+44 20 7946 0000"}, attest: "C"},
		{name: "orig from PAI", rules: `[{action: stir_sign, operands: [A]}]`, inv: stirtest.Invite{From: "anonymous", PAI: "+12155551212"}, attest: "A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.compile(t, tt.rules+"\n")
			c, res := e.run(t, p, tt.inv)
			last := res.Steps[len(res.Steps)-1]
			if last.Status != engine.StepApplied || !strings.Contains(last.Detail, "signed attest "+tt.attest) {
				t.Fatalf("step %+v", last)
			}
			ids := c.Request.GetHeaders("Identity")
			if len(ids) != 1 || !strings.HasSuffix(ids[0].Value(), ";info=<"+stirBase+"shaken.pem>;alg=ES256;ppt=shaken") {
				t.Fatalf("Identity headers %v", ids)
			}
			// The signed INVITE verifies.
			vp := e.compile(t, `[{action: stir_validate, operands: []}]`)
			vc := engine.NewCall(c.Request)
			vc.Now = stirNow
			vp.Run(vc)
			v := vars(vc)
			if v["stir_status"] != "TN-Validation-Passed-"+tt.attest {
				t.Fatalf("verification: %v", v)
			}
			if tt.origid != "" && v["stir_origid"] != tt.origid {
				t.Errorf("origid %q, want %q", v["stir_origid"], tt.origid)
			}
		})
	}
}

func TestStirSignFailures(t *testing.T) {
	e := newStirEnv(t)
	noSigner := &stirEnv{pki: e.pki, opts: actions.Options{Verifier: e.opts.Verifier}}
	tests := []struct {
		name  string
		env   *stirEnv
		rules string
		inv   stirtest.Invite
		want  string
	}{
		{"no signer", noSigner, `[{action: stir_sign, operands: [A]}]`, stirtest.Invite{}, "no signing key configured"},
		{"attest template gives D", e, `[{action: set_variable, operands: [att, D]}, {action: stir_sign, operands: ["{{att}}"]}]`, stirtest.Invite{}, `attest "D"`},
		{"caller is not a number", e, `[{action: stir_sign, operands: [A]}]`, stirtest.Invite{From: "alice"}, `orig "alice"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, res := tt.env.run(t, tt.env.compile(t, tt.rules), tt.inv)
			last := res.Steps[len(res.Steps)-1]
			if last.Status != engine.StepFailed || !strings.Contains(last.Detail, tt.want) {
				t.Fatalf("step %+v, want failure with %q", last, tt.want)
			}
			if res.Disposition.Kind != engine.Forward {
				t.Errorf("a failed signature must not end the call: %+v", res.Disposition)
			}
			if sipmsg.Count(c.Request, sipmsg.MakeName("Identity")) != 0 {
				t.Error("Identity header added despite the failure")
			}
		})
	}
}

func TestStirSignCompileErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{`[{action: stir_sign, operands: [D]}]`, `attest "D"`},
		{`[{action: stir_sign, operands: []}]`, "operand"},
		{`[{action: stir_sign, operands: [A, b, c]}]`, "operand"},
		{`[{action: stir_sign, operands: ["{{nope}}"]}]`, "unknown variable"},
	}
	for _, tt := range tests {
		f, err := rules.Parse("x.yaml", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		_, err = engine.Compile(f, actions.Builtin(actions.Options{}), engine.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.src, err, tt.want)
		}
	}
	// Without a signer, a valid rule still compiles (xformd check).
	f, _ := rules.Parse("x.yaml", []byte(`[{action: stir_sign, operands: [A]}]`))
	if _, err := engine.Compile(f, actions.Builtin(actions.Options{}), engine.Options{}); err != nil {
		t.Fatal(err)
	}
}
