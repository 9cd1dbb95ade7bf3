package actions_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

// FuzzCompile loads and compiles arbitrary rule-file bytes: it must return
// a pipeline or positioned errors, never panic.
func FuzzCompile(f *testing.F) {
	for _, p := range []string{"../examples/carrierx-stir/rules.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`[{action: set_header, operands: [X-A, "{{from_user}}"]}]`,
		`[{action: if_match, operands: ["{{from_user}}", '^\+1(\d+)', rewrite_from, '(\d)', '\1\1']}]`,
		`{"transformations": [{"action": "reject", "operands": ["busy"]}]}`,
		`[{action: set_header, when: 'from_user startsWith "1"', operands: [X-A, b]}]`,
		`[{action: if_match, operands: [a, b, if_match, c, d, if_match, e, f, stop]}]`,
		`[{action: rewrite_from_header_param, operands: [cnam, '(?<n>.{1,14})', '${n}*']}]`,
		"[{\"action\": \"set_header\",\t\"operands\": [\"X\", \"<<x\"]}]",
		`{transformations: }`,
		`- &a {action: stop}` + "\n" + `- *a`,
	} {
		f.Add([]byte(s))
	}
	reg := actions.Builtin(actions.Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := rules.Parse("fuzz.yaml", data)
		if file == nil {
			if err == nil {
				t.Fatal("nil file without error")
			}
			return
		}
		p, cerr := engine.Compile(file, reg, engine.Options{})
		if cerr != nil {
			for _, e := range rules.Errors(cerr) {
				if e.Msg == "" {
					t.Fatalf("empty error message")
				}
			}
			return
		}
		if err != nil {
			return
		}
		// A compiled pipeline must run on a real INVITE without panicking.
		m, perr := sip.ParseMessage([]byte(fuzzInvite))
		if perr != nil {
			t.Fatal(perr)
		}
		res := p.Run(engine.NewCall(m.(*sip.Request)))
		if res.Err != nil {
			t.Fatalf("pipeline panicked: %v", res.Err)
		}
	})
}

const fuzzInvite = "INVITE sip:+12155551213@example.net SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n" +
	"From: \"A\" <sip:+12155551212@example.com>;tag=1\r\n" +
	"To: <sip:+12155551213@example.net>\r\n" +
	"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

// fuzzRules exercises every action on whatever message the fuzzer makes.
const fuzzRules = `
- {action: set_header, operands: [X-StirResult, "{{from_display}}-{{header.Identity}}"]}
- {action: add_header, operands: [X-Pai, "{{pai_user}}"]}
- {action: remove_header, operands: [X-Remove]}
- {action: rewrite_from, operands: ['^\+?1?(\d{10})$', '+1\1']}
- {action: rewrite_to, operands: ['^(\d+)$', '+\1']}
- {action: if_match, operands: ["{{from_display}}", '(.{1,14})', rewrite_from_header_param, cnam, '(.{1,14})', '\1*']}
- {action: rewrite_to_header_param, operands: [cnam, '.*', 'Callee "x"']}
- {action: rewrite_from_header_param, operands: [verstat, '.*', 'TN-Validation-Passed']}
- {action: set_variable, operands: [v, "{{ruri_user}}{{src_ip}}{{to_uri}}{{from_uri}}{{from_host}}"]}
- {action: route, operands: ["sip:{{to_user}}@192.0.2.9"]}
- {action: if_not_match, operands: ["{{call_id}}", 'x', redirect, "sip:{{ruri_user}}@vm.example.net"]}
- {action: reject, operands: [forbidden]}
`

// FuzzPipeline runs a pipeline that uses every action on arbitrary bytes
// that parse as a SIP request: no input may make it panic, and the message
// it leaves must still be valid SIP.
func FuzzPipeline(f *testing.F) {
	f.Add([]byte(fuzzInvite))
	for _, name := range []string{"invite_signed_a.sip", "invite_unsigned.sip", "invite_tampered.sip"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("INVITE tel:+12155551213 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK\r\nFrom: <tel:+1215>;tag=1\r\nTo: tel:555\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nP-Asserted-Identity: tel:+1;a=b\r\n\r\n"))
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nFrom: \"\\\"\\\\\" <sip:x@y>\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n\r\n"))
	file, err := rules.Parse("fuzz.yaml", []byte(fuzzRules))
	if err != nil {
		f.Fatal(err)
	}
	p, err := engine.Compile(file, actions.Builtin(actions.Options{}), engine.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		c := engine.NewCall(req)
		c.Tracing = true
		res := p.Run(c)
		if res.Err != nil {
			t.Fatalf("pipeline panicked: %v", res.Err)
		}
		// If sipgo itself round-trips the input, the rewritten message
		// must parse too: rules must never produce broken SIP.
		m0, _ := sip.ParseMessage(data)
		if _, err := sip.ParseMessage([]byte(m0.String())); err != nil {
			return
		}
		out := req.String()
		if _, err := sip.ParseMessage([]byte(out)); err != nil {
			t.Fatalf("rules produced a message that does not parse: %v\nin:  %q\nout: %q", err, data, out)
		}
	})
}
