package actions_test

import (
	"strings"
	"testing"

	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

// TestActions runs each action on baseInvite and checks the message and
// disposition that result.
func TestActions(t *testing.T) {
	cases := []struct {
		name  string
		rules string
		// check inspects the message text after the run.
		has, hasNot []string
		kind        engine.Kind
		status      int
		target      string
		vars        map[string]string
	}{
		{name: "set_header adds", rules: `[{action: set_header, operands: [X-New, "v-{{from_user}}"]}]`,
			has: []string{"X-New: v-+12155551212"}},
		{name: "set_header replaces every instance across spellings", rules: `[{action: set_header, operands: [X-FOO, three]}]`,
			has: []string{"X-Foo: three"}, hasNot: []string{"one", "two", "x-foo:"}},
		{name: "set_header compact form", rules: `[{action: set_header, operands: [Supported, timer]}]`,
			has: []string{"k: timer"}, hasNot: []string{"100rel"}},
		{name: "set_header typed Contact", rules: `[{action: set_header, operands: [m, "<sip:new@192.0.2.99>"]}]`,
			has: []string{"Contact: <sip:new@192.0.2.99>"}, hasNot: []string{"192.0.2.10:5060>"}},
		{name: "add_header appends", rules: `[{action: add_header, operands: [X-Foo, three]}]`,
			has: []string{"X-Foo: one", "x-foo: two", "X-Foo: three"}},
		{name: "remove_header removes every instance", rules: `[{action: remove_header, operands: [x-FOO]}]`,
			hasNot: []string{"one", "two"}},
		{name: "remove_header prefix", rules: `[{action: remove_header, operands: ["x-*"]}]`,
			hasNot: []string{"X-Foo", "x-foo"}, has: []string{"P-Asserted-Identity"}},
		{name: "remove_header prefix never takes protected headers", rules: `[{action: remove_header, operands: ["C*"]}]`,
			has: []string{"Call-ID:", "CSeq:", "Content-Length:"}, hasNot: []string{"Contact:"}},
		{name: "remove_header compact", rules: `[{action: remove_header, operands: [supported]}]`,
			hasNot: []string{"100rel"}},
		{name: "rewrite_from user", rules: `[{action: rewrite_from, operands: ['^\+1(\d{10})$', '\1']}]`,
			has: []string{"From: \"Alice\" <sip:2155551212@carrier.example.com>"}},
		{name: "rewrite_from no match", rules: `[{action: rewrite_from, operands: ['^44', '']}]`,
			has: []string{"<sip:+12155551212@carrier.example.com>"}},
		{name: "rewrite_from dollar groups", rules: `[{action: rewrite_from, operands: ['^\+(?<cc>1)(\d+)$', '00${cc}$1']}]`,
			has: []string{"<sip:0012155551212@carrier.example.com>"}},
		{name: "rewrite_from first match only", rules: `[{action: rewrite_from, operands: ['5', 'X']}]`,
			has: []string{"<sip:+121X5551212@"}},
		{name: "rewrite_to rewrites To and Request-URI", rules: `[{action: rewrite_to, operands: ['^\+1', '']}]`,
			has: []string{"INVITE sip:2155551213@xformd.example.net", "To: <sip:2155551213@xformd.example.net>"}},
		{name: "display name cnam", rules: `[{action: rewrite_from_header_param, operands: [cnam, '(.{1,3})', '\1*']}]`,
			has: []string{`From: "Ali*ce" <sip:`}},
		{name: "display name quoting", rules: `[{action: rewrite_from_header_param, operands: [display, '.*', 'Say "hi" \\ now']}]`,
			has: []string{`From: "Say \"hi\" \\ now" <sip:`}},
		{name: "from header param", rules: `[{action: rewrite_from_header_param, operands: [verstat, '.*', 'TN-Validation-Passed']}]`,
			has: []string{";verstat=TN-Validation-Passed"}, hasNot: []string{"No-TN-Validation"}},
		{name: "from header param quoted when not a token", rules: `[{action: rewrite_from_header_param, operands: [note, '^$', 'a b']}]`,
			has: []string{`;note="a b"`}},
		{name: "to display name", rules: `[{action: rewrite_to_header_param, operands: [cnam, '^$', 'Bob']}]`,
			has: []string{`To: "Bob" <sip:+12155551213@`}},
		{name: "set_variable then template", rules: `[{action: set_variable, operands: [x, "{{pai_user}}"]}, {action: set_header, operands: [X-Pai, "{{x}}"]}]`,
			has: []string{"X-Pai: +12155559999"}, vars: map[string]string{"x": "+12155559999"}},
		{name: "if_match applies nested", rules: `[{action: if_match, operands: ["{{from_user}}", '^\+1215', set_header, X-Local, yes]}]`,
			has: []string{"X-Local: yes"}},
		{name: "if_match not matched", rules: `[{action: if_match, operands: ["{{from_user}}", '^\+44', set_header, X-Local, yes]}]`,
			hasNot: []string{"X-Local"}},
		{name: "if_not_match", rules: `[{action: if_not_match, operands: ["{{from_user}}", '^\+44', set_header, X-Foreign, no]}]`,
			has: []string{"X-Foreign: no"}},
		{name: "nested if_match", rules: `[{action: if_match, operands: ["{{call_id}}", test, if_match, "{{to_user}}", '1213$', reject, busy]}]`,
			kind: engine.Reject, status: 486},
		{name: "reject name", rules: `[{action: reject, operands: [forbidden]}, {action: set_header, operands: [X-After, x]}]`,
			kind: engine.Reject, status: 403, hasNot: []string{"X-After"}},
		{name: "reject code and phrase", rules: `[{action: reject, operands: ["607", "Unwanted call from {{from_user}}"]}]`,
			kind: engine.Reject, status: 607},
		{name: "redirect", rules: `[{action: redirect, operands: ["sip:voicemail@192.0.2.50"]}]`,
			kind: engine.Redirect, status: 302, target: "sip:voicemail@192.0.2.50"},
		{name: "redirect templated", rules: `[{action: redirect, operands: ["sip:{{to_user}}@vm.example.net"]}]`,
			kind: engine.Redirect, status: 302, target: "sip:+12155551213@vm.example.net"},
		{name: "route continues", rules: `[{action: route, operands: ["<sip:screen@192.0.2.60;transport=tcp>"]}, {action: set_header, operands: [X-After, x]}]`,
			kind: engine.Forward, target: "sip:screen@192.0.2.60;transport=tcp", has: []string{"X-After: x"}},
		{name: "stop ends", rules: `[{action: stop}, {action: reject, operands: [busy]}]`,
			kind: engine.Forward},
		{name: "log continues", rules: `[{action: log, operands: ["call from {{from_user}}"]}, {action: set_header, operands: [X-After, x]}]`,
			has: []string{"X-After: x"}},
		{name: "direction filter", rules: `[{action: set_header, direction: outbound, operands: [X-Out, x]}, {action: set_header, direction: inbound, operands: [X-In, x]}]`,
			has: []string{"X-In: x"}, hasNot: []string{"X-Out"}},
		{name: "when condition", rules: `[{action: set_header, when: 'from_user startsWith "+1" && header("X-Foo") == "one"', operands: [X-When, yes]}, {action: set_header, when: 'to_user == "nobody"', operands: [X-No, x]}]`,
			has: []string{"X-When: yes"}, hasNot: []string{"X-No"}},
		{name: "header variable", rules: `[{action: set_header, operands: [X-Copy, "{{header.x-foo}}/{{header.k}}"]}]`,
			has: []string{"X-Copy: one/100rel"}},
		{name: "angle template spelling", rules: `[{action: set_header, operands: [X-Angle, "<<from_user>>"]}]`,
			has: []string{"X-Angle: +12155551212"}},
		{name: "literal braces", rules: `[{action: set_header, operands: [X-Lit, '\{{from_user}}']}]`,
			has: []string{"X-Lit: {{from_user}}"}},
		{name: "replacement variable values are not group references", rules: `[{action: set_variable, operands: [v, "$1\\1"]}, {action: rewrite_from_header_param, operands: [cnam, '(A)', '{{v}}']}]`,
			has: []string{`From: "$1\\1lice"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, res := run(t, tc.rules, baseInvite)
			for _, s := range res.Steps {
				if s.Status == engine.StepFailed || s.Status == engine.StepPanicked {
					t.Fatalf("rule %d failed: %s", s.Rule+1, s.Detail)
				}
			}
			if res.Disposition.Kind != tc.kind || res.Disposition.Status != tc.status || res.Disposition.Target != tc.target {
				t.Errorf("disposition = %+v, want kind %v status %d target %q", res.Disposition, tc.kind, tc.status, tc.target)
			}
			msg := c.Request.String()
			for _, h := range tc.has {
				if !strings.Contains(msg, h) {
					t.Errorf("message lacks %q:\n%s", h, msg)
				}
			}
			for _, h := range tc.hasNot {
				if strings.Contains(msg, h) {
					t.Errorf("message still has %q:\n%s", h, msg)
				}
			}
			for k, v := range tc.vars {
				if got, _ := c.Var(k); got != v {
					t.Errorf("variable %s = %q, want %q", k, got, v)
				}
			}
			// Whatever the rules did, the message must still parse.
			parseRequest(t, msg)
		})
	}
}

// TestCompileErrors checks that every kind of rule mistake is a positioned
// compile error with a useful message.
func TestCompileErrors(t *testing.T) {
	cases := []struct{ rules, want string }{
		{`[{action: set_headr, operands: [a, b]}]`, `1:11: unknown action "set_headr" (did you mean set_header?)`},
		{`[{action: set_header, operands: [a]}]`, `set_header takes 2 operands, got 1`},
		{`[{action: stop, operands: [a]}]`, `stop takes 0 operands, got 1`},
		{`[{action: if_match, operands: [a, b]}]`, `if_match takes at least 3 operands, got 2`},
		{`[{action: set_header, operands: [Via, x]}]`, `header Via is protected`},
		{`[{action: remove_header, operands: [f]}]`, `use rewrite_from`},
		{`[{action: set_header, operands: [t, x]}]`, `use rewrite_to`},
		{`[{action: add_header, operands: [Call-ID, x]}]`, `protected`},
		{`[{action: remove_header, operands: [Content-Length]}]`, `protected`},
		{`[{action: remove_header, operands: ["*"]}]`, `invalid header prefix`},
		{`[{action: set_header, operands: ["Bad Name", x]}]`, `invalid header name "Bad Name"`},
		{`[{action: set_header, operands: [X-A, "{{stir_verstatt}}"]}]`, `1:40: unknown variable "stir_verstatt"`},
		{`[{action: set_header, operands: [X-A, "{{fromuser}}"]}]`, `did you mean from_user?`},
		{`[{action: set_header, operands: [X-A, "{{later}}"]}, {action: set_variable, operands: [later, x]}]`, `unknown variable "later"`},
		{`[{action: set_variable, operands: [from_user, x]}]`, `built-in variable`},
		{`[{action: set_variable, operands: ["a b", x]}]`, `invalid variable name`},
		{`[{action: rewrite_from, operands: ['(', x]}]`, `invalid regex "("`},
		{`[{action: rewrite_from, operands: ['(a)', '\2']}]`, `refers to group 2`},
		{`[{action: rewrite_from, operands: ['a', '${name}']}]`, `no such named group`},
		{`[{action: rewrite_from_header_param, operands: [tag, a, b]}]`, `tag identifies the dialog`},
		{`[{action: rewrite_to_header_param, operands: ["a b", a, b]}]`, `invalid parameter name`},
		{`[{action: reject, operands: ["302"]}]`, `not a final error response`},
		{`[{action: reject, operands: ["700"]}]`, `not a final error response`},
		{`[{action: reject, operands: [forbiden]}]`, `did you mean forbidden?`},
		{`[{action: redirect, operands: ["not a uri"]}]`, `invalid URI`},
		{`[{action: route, operands: ["http://x"]}]`, `use a sip:, sips: or tel: URI`},
		{`[{action: if_match, operands: [a, b, nope]}]`, `unknown action "nope"`},
		{`[{action: if_match, operands: [a, b, set_header, Via, x]}]`, `protected`},
		{`[{action: if_match, operands: [a, "(", stop]}]`, `invalid regex`},
		{`[{action: set_header, when: 'from_usr == "1"', operands: [X-A, b]}]`, `did you mean from_user?`},
		{`[{action: set_header, when: 'from_user', operands: [X-A, b]}]`, `invalid when condition`},
		{`[{action: set_header, operands: [X-A, "{{x"]}]`, `unclosed "{{"`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := compileErr(tc.rules)
			if err == nil {
				t.Fatalf("compiled without error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			for _, e := range rules.Errors(err) {
				if e.Pos.Line == 0 {
					t.Errorf("error without position: %v", e)
				}
			}
		})
	}
}

// TestAllErrorsReported checks that one pass reports every broken rule.
func TestAllErrorsReported(t *testing.T) {
	_, err := compileErr(`[{action: nope}, {action: set_header, operands: [Via, x]}, {action: reject, operands: [x]}]`)
	if got := len(rules.Errors(err)); got != 3 {
		t.Fatalf("got %d errors, want 3: %v", got, err)
	}
}

// TestRegexTimeout checks that a catastrophic pattern counts as no match
// within its time budget and is flagged in the trace.
func TestRegexTimeout(t *testing.T) {
	f, err := rules.Parse("t.yaml", []byte(`[{action: if_match, operands: ["{{header.X-Evil}}", '^(a+)+$', reject, busy]}]`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(f, actionsRegistry(), engine.Options{RegexTimeout: 20e6})
	if err != nil {
		t.Fatal(err)
	}
	inv := strings.Replace(baseInvite, "X-Foo: one", "X-Evil: "+strings.Repeat("a", 40)+"!", 1)
	c := engine.NewCall(parseRequest(t, inv))
	res := p.Run(c)
	if res.Disposition.Kind != engine.Forward {
		t.Fatalf("disposition = %+v, want forward (timeout = no match)", res.Disposition)
	}
	if res.Steps[0].Flags&engine.FlagRegexTimeout == 0 || res.Steps[0].Status != engine.StepNotMatched {
		t.Fatalf("step = %+v, want not matched with timeout flag", res.Steps[0])
	}
}

// TestHeaderInjection checks that a variable holding CR LF cannot add
// headers.
func TestHeaderInjection(t *testing.T) {
	inv := strings.Replace(baseInvite, `"Alice"`, `"Alice"`, 1)
	c, res := run(t, `[{action: set_variable, operands: [v, "{{from_display}}"]}, {action: set_header, operands: [X-A, "{{header.X-Inject}}"]}]`,
		strings.Replace(inv, "X-Foo: one", "X-Inject: a\\r\\nVia: evil", 1))
	_ = c
	if strings.Contains(c.Request.String(), "\r\nVia: evil") {
		t.Fatal("header injected")
	}
	if res.Steps[1].Status != engine.StepApplied {
		t.Fatalf("step = %+v", res.Steps[1])
	}
}
