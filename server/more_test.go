package server

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/stir/stirtest"
)

// A caller's CANCEL while the next hop rings goes downstream; the caller
// gets 487.
func TestProxyCancel(t *testing.T) {
	u := newUAS(t, "udp", 3*time.Second)
	e := newEnv(t, config.Proxy, carrierxRules, func(c *config.Config) { c.SIP.NextHop = "sip:" + u.addr })
	caller := newClient(t, "caller")
	dc := sipgo.NewDialogClientCache(caller, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "caller", Host: "127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := dc.WriteInvite(ctx, newInvite(t, stirtest.Invite{}, "udp", e.udp))
	if err != nil {
		t.Fatal(err)
	}
	recv(t, u.invites, "INVITE")
	wctx, wcancel := context.WithCancel(ctx)
	ringing := make(chan struct{}, 1)
	go func() {
		<-ringing
		wcancel()
	}()
	err = sess.WaitAnswer(wctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if r.StatusCode == 180 {
			select {
			case ringing <- struct{}{}:
			default:
			}
		}
		return nil
	}})
	if err == nil {
		t.Fatal("call was answered, want cancelled")
	}
	var de *sipgo.ErrDialogResponse
	if !errors.Is(err, context.Canceled) && !(errors.As(err, &de) && de.Res.StatusCode == 487) {
		t.Fatalf("WaitAnswer: %v", err)
	}
	c := recv(t, u.cancels, "CANCEL")
	if c.CSeq().MethodName != sip.CANCEL || !strings.HasPrefix(c.Via().Params.GetOr("branch", ""), branchPrefix) {
		t.Errorf("CANCEL %s", c.Short())
	}
	waitIdle(ctx, t, e.srv)
	if l := readCDR(t, e.cdrPath); len(l) != 1 || l[0]["status"] != float64(487) {
		t.Errorf("CDR %v", l)
	}
}

// Calls from outbound_sources, and on outbound_listeners, run the
// outbound rules; stir_sign's Identity rides on the 302.
func TestDirections(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.json")
	writeFile(t, rulesFile, `{"transformations": [
  {"action": "set_header", "direction": "inbound", "operands": ["X-Dir", "{{direction}}"]},
  {"action": "set_header", "direction": "outbound", "operands": ["X-Dir", "{{direction}}"]},
  {"action": "stir_sign", "direction": "outbound", "operands": ["B"]}
]}`)
	pki := testPKI(t)
	files := pki.WriteFilesT(t)
	e := newEnv(t, config.Redirect, rulesFile, func(c *config.Config) {
		c.SIP.Listen = append(c.SIP.Listen, "udp:127.0.0.2:0")
		c.Directions.OutboundListeners = []string{"udp:127.0.0.2:0"}
		c.STIR.SignKey = files.Key[stirtest.Good]
		c.STIR.SignX5U = goodX5U
	})
	var outAddr string
	for _, l := range e.srv.SIPAddrs() {
		if strings.HasPrefix(l.Addr, "127.0.0.2:") {
			outAddr = l.Addr
		}
	}
	caller := newClient(t, "caller")
	res := do(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp))
	if header(res, "X-Dir") != "inbound" || header(res, "Identity") != "" {
		t.Errorf("inbound listener: X-Dir %q Identity %q", header(res, "X-Dir"), header(res, "Identity"))
	}
	res = do(t, caller, newInvite(t, stirtest.Invite{}, "udp", outAddr))
	if header(res, "X-Dir") != "outbound" {
		t.Errorf("outbound listener: X-Dir %q", header(res, "X-Dir"))
	}
	if id := header(res, "Identity"); !strings.Contains(id, ";info=<"+goodX5U+">") || !strings.Contains(id, "ppt=shaken") {
		t.Errorf("302 lacks the signed Identity: %q", id)
	}

	e2 := newEnv(t, config.Redirect, rulesFile, func(c *config.Config) {
		c.Directions.OutboundSources = []string{"127.0.0.0/8"}
	})
	res = do(t, caller, newInvite(t, stirtest.Invite{}, "tcp", e2.tcp))
	if header(res, "X-Dir") != "outbound" {
		t.Errorf("outbound source: X-Dir %q", header(res, "X-Dir"))
	}
}

// route, redirect, reject with a code and phrase, and rewrite_to in
// redirect mode.
func TestRedirectDispositions(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesFile, `
- action: if_match
  operands: ["{{header.X-Case}}", "^route$", "route", "sip:gw1@10.0.0.1:5080"]
- action: if_match
  operands: ["{{header.X-Case}}", "^redirect$", "redirect", "sip:voicemail@10.0.0.9"]
- action: if_match
  operands: ["{{header.X-Case}}", "^reject$", "reject", "486", "Busy Here"]
- action: if_match
  operands: ["{{header.X-Case}}", "^rewrite$", "rewrite_to", "^1", "+1"]
`)
	e := newEnv(t, config.Redirect, rulesFile, nil)
	caller := newClient(t, "caller")
	for _, tc := range []struct {
		name, status, contact string
	}{
		{"route", "302", "sip:gw1@10.0.0.1:5080"},
		{"redirect", "302", "sip:voicemail@10.0.0.9"},
		{"reject", "486", ""},
		{"rewrite", "302", "sip:+12155550000@xformd.example.org"},
		{"none", "302", "sip:12155550000@xformd.example.org"},
	} {
		res := do(t, caller, newInvite(t, stirtest.Invite{Extra: []string{"X-Case: " + tc.name}}, "udp", e.udp))
		if got := res.StartLine(); !strings.Contains(got, tc.status) {
			t.Errorf("%s: %s", tc.name, got)
		}
		if tc.contact != "" && (res.Contact() == nil || res.Contact().Address.String() != tc.contact) {
			t.Errorf("%s: Contact %v, want %s", tc.name, res.Contact(), tc.contact)
		}
		if tc.name == "reject" && (res.Reason != "Busy Here" || header(res, "Reason") != "") {
			t.Errorf("reject: %q Reason header %q", res.Reason, header(res, "Reason"))
		}
		if tc.name == "rewrite" && header(res, "X-Xformd-To") != "<sip:+12155550000@xformd.example.org>" {
			t.Errorf("rewrite: X-Xformd-To %q", header(res, "X-Xformd-To"))
		}
	}
}

// The admin API wants the bearer token when one is set.
func TestAdminToken(t *testing.T) {
	e := newEnv(t, config.Redirect, carrierxRules, func(c *config.Config) { c.Admin.Token = "s3cret" })
	if code, _ := httpDo(t, "GET", "http://"+e.admin+"/status"); code != 401 {
		t.Errorf("no token: %d", code)
	}
	h := e.srv.AdminHandler()
	for _, path := range []string{"/healthz", "/readyz", "/status", "/metrics"} {
		rec := httpRecord(h, "GET", path, "Bearer s3cret")
		if rec != 200 {
			t.Errorf("%s with token: %d", path, rec)
		}
		if rec := httpRecord(h, "GET", path, "Bearer wrong"); rec != 401 {
			t.Errorf("%s with a wrong token: %d", path, rec)
		}
	}
	if rec := httpRecord(h, "GET", "/reload", "Bearer s3cret"); rec != 405 {
		t.Errorf("GET /reload: %d, want 405", rec)
	}
}

// Go profiles are served only when admin.pprof is on, and then behind the
// token like everything else.
func TestAdminPprof(t *testing.T) {
	off := newEnv(t, config.Redirect, carrierxRules, nil)
	if code := httpRecord(off.srv.AdminHandler(), "GET", "/debug/pprof/", ""); code != 404 {
		t.Errorf("pprof off: /debug/pprof/ answered %d, want 404", code)
	}
	on := newEnv(t, config.Redirect, carrierxRules, func(c *config.Config) { c.Admin.Pprof = true; c.Admin.Token = "s3cret" })
	h := on.srv.AdminHandler()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		if code := httpRecord(h, "GET", path, "Bearer s3cret"); code != 200 {
			t.Errorf("pprof on: %s answered %d", path, code)
		}
		if code := httpRecord(h, "GET", path, ""); code != 401 {
			t.Errorf("pprof on, no token: %s answered %d, want 401", path, code)
		}
	}
}

// At debug level every rule's step is logged for each call.
func TestDebugTrace(t *testing.T) {
	e := newEnv(t, config.Redirect, carrierxRules, func(c *config.Config) { c.Log.Level = "debug" })
	caller := newClient(t, "caller")
	do(t, caller, newInvite(t, stirtest.Invite{CallID: "trace-me@test"}, "udp", e.udp))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitIdle(ctx, t, e.srv)
	logs := e.logs.String()
	if !strings.Contains(logs, "msg=call call_id=trace-me@test") {
		t.Errorf("no call log line:\n%s", logs)
	}
	for _, want := range []string{"action=stir_validate status=applied", "action=set_header status=applied", "action=if_match status=\"not matched\""} {
		if !strings.Contains(logs, "msg=rule call_id=trace-me@test") || !strings.Contains(logs, want) {
			t.Errorf("no debug trace with %q:\n%s", want, logs)
		}
	}
}

// Headers of the transaction or the hop never ride on a 302, however a
// peer spells them; headers the rules add do.
func TestStructural(t *testing.T) {
	for _, name := range []string{"Via", "v", "FROM", "f", "t", "Call-ID", "i", "CSeq", "l", "Max-Forwards", "m", "Contact", "Route", "record-route", "c"} {
		if !structural(name) {
			t.Errorf("%s is not structural", name)
		}
	}
	for _, name := range []string{"X-StirResult", "Identity", "P-Asserted-Identity", "k", "Reason"} {
		if structural(name) {
			t.Errorf("%s is structural", name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { structural("Record-Route"); structural("X-StirResult") }); n != 0 {
		t.Errorf("structural allocates %.0f times", n)
	}
}
