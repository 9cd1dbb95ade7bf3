package actions_test

import (
	"os"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

// parseRequest parses SIP text written with LF line ends in tests.
func parseRequest(t testing.TB, text string) *sip.Request {
	t.Helper()
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	m, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse request: %v", err)
	}
	req, ok := m.(*sip.Request)
	if !ok {
		t.Fatalf("not a request")
	}
	return req
}

func readRequest(t testing.TB, path string) *sip.Request {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseRequest(t, string(b))
}

// compile compiles rule-file text (JSON or YAML) with the built-in actions.
func compile(t testing.TB, src string) *engine.Pipeline {
	t.Helper()
	p, err := compileErr(src)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func compileErr(src string) (*engine.Pipeline, error) {
	f, err := rules.Parse("test.yaml", []byte(src))
	if err != nil {
		return nil, err
	}
	return engine.Compile(f, actions.Builtin(actions.Options{}), engine.Options{})
}

const baseInvite = `INVITE sip:+12155551213@xformd.example.net SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
Max-Forwards: 70
From: "Alice" <sip:+12155551212@carrier.example.com>;tag=f1;verstat=No-TN-Validation
To: <sip:+12155551213@xformd.example.net>
Call-ID: test-call@192.0.2.10
CSeq: 1 INVITE
Contact: <sip:+12155551212@192.0.2.10:5060>
X-Foo: one
x-foo: two
P-Asserted-Identity: <sip:+12155559999@carrier.example.com>
k: 100rel
Content-Length: 0

`

// run compiles src, runs it on a fresh copy of invite and returns the call
// and result.
func run(t testing.TB, src, invite string) (*engine.Call, engine.Result) {
	t.Helper()
	p := compile(t, src)
	c := engine.NewCall(parseRequest(t, invite))
	c.Tracing = true
	return c, p.Run(c)
}

func actionsRegistry() *engine.Registry { return actions.Builtin(actions.Options{}) }
