package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/stir/stirtest"
)

var transports = []string{"udp", "tcp"}

// The CarrierX rules in redirect mode, with real Identity headers: a
// verified call gets a 302 carrying X-StirResult and the starred display
// name; an unsigned one "POSSIBLE FRAUD"; a failed one 403 with Reason.
func TestRedirectCarrierX(t *testing.T) {
	e := newEnv(t, config.Redirect, carrierxRules, nil)
	caller := newClient(t, "caller")
	for _, tp := range transports {
		t.Run(tp+"/verified", func(t *testing.T) {
			req := newInvite(t, stirtest.Invite{Identity: []string{e.identity(stirtest.Good, "A")}}, tp, e.addr(tp))
			res := do(t, caller, req)
			if res.StatusCode != 302 {
				t.Fatalf("status %d %s, want 302", res.StatusCode, res.Reason)
			}
			if got := header(res, "X-StirResult"); got != "TN-Validation-Passed-A" {
				t.Errorf("X-StirResult = %q", got)
			}
			c := res.Contact()
			if c == nil || c.Address.User != "12155550000" || c.Address.Host != "xformd.example.org" {
				t.Fatalf("Contact = %v, want the Request-URI", c)
			}
			if c.DisplayName != "Alice*" {
				t.Errorf("Contact display name = %q, want the rewritten CNAM Alice*", c.DisplayName)
			}
			if got := header(res, "X-Xformd-From"); got != `"Alice*" <sip:12155551212@carrier.example.com>` {
				t.Errorf("X-Xformd-From = %q", got)
			}
			// The response's own From is the caller's, untouched.
			if res.From().DisplayName != "Alice" {
				t.Errorf("response From display = %q, want Alice", res.From().DisplayName)
			}
			if header(res, "Identity") != "" {
				t.Errorf("302 repeats the unchanged Identity header")
			}
		})
		t.Run(tp+"/unsigned", func(t *testing.T) {
			res := do(t, caller, newInvite(t, stirtest.Invite{}, tp, e.addr(tp)))
			if res.StatusCode != 302 {
				t.Fatalf("status %d, want 302", res.StatusCode)
			}
			if got := header(res, "X-StirResult"); got != "No-TN-Validation-" {
				t.Errorf("X-StirResult = %q", got)
			}
			if got := res.Contact().DisplayName; got != "POSSIBLE FRAUD" {
				t.Errorf("Contact display = %q", got)
			}
		})
		t.Run(tp+"/untrusted-403", func(t *testing.T) {
			res := do(t, caller, newInvite(t, stirtest.Invite{Identity: []string{e.identity(stirtest.Untrusted, "A")}}, tp, e.addr(tp)))
			if res.StatusCode != 403 {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
			reason := header(res, "Reason")
			if !strings.HasPrefix(reason, `SIP ;cause=437;text="437 `) || !strings.HasSuffix(reason, `"`) {
				t.Errorf("Reason = %q, want SIP ;cause=437;text=\"437 ...\"", reason)
			}
		})
		t.Run(tp+"/orig-mismatch-403", func(t *testing.T) {
			res := do(t, caller, newInvite(t, stirtest.Invite{From: "12155559999", Identity: []string{e.identity(stirtest.Good, "A")}}, tp, e.addr(tp)))
			if res.StatusCode != 403 {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
			if reason := header(res, "Reason"); !strings.HasPrefix(reason, "SIP ;cause=438;") {
				t.Errorf("Reason = %q", reason)
			}
		})
	}
	// CDRs: one valid JSON line per INVITE, with the STIR results.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitIdle(ctx, t, e.srv)
	lines := readCDR(t, e.cdrPath)
	if len(lines) != 8 {
		t.Fatalf("%d CDR lines, want 8", len(lines))
	}
	byCode := map[string]map[string]any{}
	for _, l := range lines {
		byCode[l["stir_verstat"].(string)+"/"+l["stir_error_code"].(string)] = l
	}
	first := byCode["TN-Validation-Passed/"]
	if first == nil {
		t.Fatalf("no CDR of a verified call: %v", lines)
	}
	for _, k := range []string{"call_id", "time", "source", "from", "to", "direction", "disposition", "status", "stir_verstat", "stir_attest", "stir_origid", "stir_error_code", "rules_version", "processing_us"} {
		if _, ok := first[k]; !ok {
			t.Errorf("CDR has no %q: %v", k, first)
		}
	}
	if first["stir_verstat"] != "TN-Validation-Passed" || first["stir_attest"] != "A" || first["disposition"] != "forward" || first["status"] != float64(302) {
		t.Errorf("first CDR = %v", first)
	}
	if l := byCode["TN-Validation-Failed/437"]; l == nil || l["disposition"] != "reject" || l["status"] != float64(403) {
		t.Errorf("CDR of the untrusted call = %v", l)
	}
	code, body := httpDo(t, "GET", "http://"+e.admin+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`xformd_calls_total{disposition="forward",status="302"} 4`,
		`xformd_calls_total{disposition="reject",status="403"} 4`,
		`xformd_stir_verstat_total{attest="A",verstat="TN-Validation-Passed"} 2`,
		`xformd_stir_verstat_total{attest="",verstat="No-TN-Validation"} 2`,
		`xformd_pipeline_duration_seconds_count 8`,
		`xformd_rules_version 1`,
		`xformd_reloads_total{result="ok"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func waitIdle(ctx context.Context, t *testing.T, s *Server) {
	for s.InFlight() > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("calls still in progress")
		case <-time.After(time.Millisecond):
		}
	}
}

func readCDR(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("CDR line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// A 302 larger than sipgo's default UDP limit (1300 bytes) is sent, not
// dropped.
func TestRedirectLargeUDPResponse(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.json")
	writeFile(t, rulesFile, `{"transformations": [
  {"action": "set_header", "operands": ["X-Big", "{{header.X-Pad}}"]},
  {"action": "set_header", "operands": ["X-Big2", "{{header.X-Pad}}"]}
]}`)
	e := newEnv(t, config.Redirect, rulesFile, nil)
	caller := newClient(t, "caller")
	pad := strings.Repeat("p", 900)
	res := do(t, caller, newInvite(t, stirtest.Invite{Extra: []string{"X-Pad: " + pad}}, "udp", e.udp))
	if res.StatusCode != 302 || header(res, "X-Big") != pad || header(res, "X-Big2") != pad {
		t.Fatalf("status %d, X-Big %d bytes", res.StatusCode, len(header(res, "X-Big")))
	}
	if n := len(res.String()); n < 1800 {
		t.Fatalf("response is only %d bytes; the test needs one over 1300", n)
	}
}

func TestOptions(t *testing.T) {
	for _, mode := range []config.Mode{config.Redirect, config.Proxy} {
		e := newEnv(t, mode, carrierxRules, nil)
		caller := newClient(t, "caller")
		for _, tp := range transports {
			req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
			req.SetTransport(strings.ToUpper(tp))
			req.SetDestination(e.addr(tp))
			res := do(t, caller, req)
			if res.StatusCode != 200 {
				t.Errorf("%s %s: OPTIONS answered %d", mode, tp, res.StatusCode)
			}
		}
	}
}

// Garbage datagrams and a broken TCP stream are ignored; the daemon keeps
// answering.
func TestMalformedInput(t *testing.T) {
	e := newEnv(t, config.Redirect, carrierxRules, nil)
	conn, err := net.Dial("udp", e.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range []string{
		"\x00\x01\x02 not sip at all",
		"INVITE\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nVia: garbage\r\nCSeq: x\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnope\r\n\r\n",
		strings.Repeat("A", 60000),
	} {
		if _, err := conn.Write([]byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	tc, err := net.Dial("tcp", e.tcp)
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\nabc"))
	tc.Close()

	caller := newClient(t, "caller")
	for _, tp := range transports {
		res := do(t, caller, newInvite(t, stirtest.Invite{Identity: []string{e.identity(stirtest.Good, "B")}}, tp, e.addr(tp)))
		if res.StatusCode != 302 || header(res, "X-StirResult") != "TN-Validation-Passed-B" {
			t.Fatalf("%s after junk: %d %q", tp, res.StatusCode, header(res, "X-StirResult"))
		}
	}
	// Junk is logged, but cut: no 60 KB log lines.
	if !strings.Contains(e.logs.String(), "(60000 bytes)") {
		t.Errorf("the 60 KB datagram was not logged, cut:\n%.2000s", e.logs.String())
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if len(line) > 2000 {
			t.Errorf("log line of %d bytes: %.200s", len(line), line)
		}
	}
}

// Proxy mode: the rewritten INVITE reaches the next hop with our Via,
// Record-Route and a decremented Max-Forwards; the 200 comes back with the
// caller's own From; ACK and BYE are routed through us.
func TestProxyCall(t *testing.T) {
	// The CarrierX rules plus E.164 rewrites of From, To and Request-URI.
	carrierx, err := os.ReadFile(carrierxRules)
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(t.TempDir(), "rules.json")
	writeFile(t, rulesFile, strings.Replace(string(carrierx), "\n]}", `,
  {"action": "rewrite_from", "operands": ["^1", "+1"]},
  {"action": "rewrite_to", "operands": ["^1", "+1"]}
]}`, 1))
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			u := newUAS(t, tp, 0)
			e := newEnv(t, config.Proxy, rulesFile, func(c *config.Config) {
				c.SIP.NextHop = "sip:" + u.addr + ";transport=" + tp
			})
			caller := newClient(t, "caller")
			dc := sipgo.NewDialogClientCache(caller, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "caller", Host: "127.0.0.1"}})
			req := newInvite(t, stirtest.Invite{Identity: []string{e.identity(stirtest.Good, "A")}}, tp, e.addr(tp))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sess, err := dc.WriteInvite(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
				t.Fatalf("answer: %v", err)
			}
			got := recv(t, u.invites, "INVITE")
			if got.From().DisplayName != "Alice*" {
				t.Errorf("next hop From display = %q, want Alice*", got.From().DisplayName)
			}
			if v := header(got, "X-StirResult"); v != "TN-Validation-Passed-A" {
				t.Errorf("next hop X-StirResult = %q", v)
			}
			if got.From().Address.User != "+12155551212" || got.To().Address.User != "+12155550000" || got.Recipient.User != "+12155550000" {
				t.Errorf("next hop From %q To %q R-URI %q, want the +1 rewrites", got.From().Address.User, got.To().Address.User, got.Recipient.User)
			}
			vias := got.GetHeaders("Via")
			if len(vias) != 2 {
				t.Fatalf("next hop got %d Vias, want 2", len(vias))
			}
			if b, _ := got.Via().Params.Get("branch"); !strings.HasPrefix(b, branchPrefix) || got.Via().Host != "127.0.0.1" {
				t.Errorf("top Via %q is not ours", got.Via().Value())
			}
			if got.RecordRoute() == nil {
				t.Errorf("no Record-Route")
			}
			if mf := got.MaxForwards(); mf == nil || *mf != 69 {
				t.Errorf("Max-Forwards = %v, want 69", mf)
			}
			res := sess.InviteResponse
			if res.StatusCode != 200 {
				t.Fatalf("caller got %d", res.StatusCode)
			}
			if res.From().DisplayName != "Alice" || res.From().Address.User != "12155551212" || res.To().Address.User != "12155550000" {
				t.Errorf("200 From %q To %q, want the caller's own", res.From().Value(), res.To().Value())
			}
			if tag, _ := res.To().Params.Get("tag"); tag == "" {
				t.Errorf("200 To has no tag")
			}
			if len(res.GetHeaders("Via")) != 1 {
				t.Errorf("200 has %d Vias, want 1", len(res.GetHeaders("Via")))
			}
			if res.RecordRoute() == nil {
				t.Errorf("200 has no Record-Route")
			}
			if err := sess.Ack(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
			ack := recv(t, u.acks, "ACK")
			if len(ack.GetHeaders("Via")) != 2 {
				t.Errorf("ACK did not come through the proxy: %d Vias", len(ack.GetHeaders("Via")))
			}
			if err := sess.Bye(ctx); err != nil {
				t.Fatalf("bye: %v", err)
			}
			bye := recv(t, u.byes, "BYE")
			if len(bye.GetHeaders("Via")) != 2 {
				t.Errorf("BYE did not come through the proxy")
			}
			if r := bye.Route(); r != nil {
				t.Errorf("BYE still has Route %q: the proxy must remove its own", r.Value())
			}
			waitIdle(ctx, t, e.srv)
			lines := readCDR(t, e.cdrPath)
			if len(lines) != 1 || lines[0]["status"] != float64(200) || lines[0]["disposition"] != "forward" || !strings.Contains(lines[0]["target"].(string), u.addr) {
				t.Errorf("CDR = %v", lines)
			}
		})
	}
}

// A failed verification is answered by the proxy itself, never forwarded.
func TestProxyReject(t *testing.T) {
	u := newUAS(t, "udp", 0)
	e := newEnv(t, config.Proxy, carrierxRules, func(c *config.Config) { c.SIP.NextHop = "sip:" + u.addr })
	caller := newClient(t, "caller")
	res := do(t, caller, newInvite(t, stirtest.Invite{Identity: []string{e.identity(stirtest.Expired, "A")}}, "udp", e.udp))
	if res.StatusCode != 403 || !strings.HasPrefix(header(res, "Reason"), "SIP ;cause=437;") {
		t.Fatalf("got %d Reason %q", res.StatusCode, header(res, "Reason"))
	}
	select {
	case r := <-u.invites:
		t.Fatalf("rejected call reached the next hop: %s", r.Short())
	case <-time.After(100 * time.Millisecond):
	}
}

// Beyond max_calls in progress, INVITEs get 503 with Retry-After.
func TestOverload(t *testing.T) {
	u := newUAS(t, "udp", 700*time.Millisecond)
	e := newEnv(t, config.Proxy, carrierxRules, func(c *config.Config) {
		c.SIP.NextHop = "sip:" + u.addr
		c.Limits.MaxCalls = 1
	})
	caller := newClient(t, "caller")
	first := doAsync(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp))
	recv(t, u.invites, "first INVITE")
	res := do(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp))
	if res.StatusCode != 503 || header(res, "Retry-After") != "5" {
		t.Fatalf("second call got %d Retry-After %q, want 503 with Retry-After 5", res.StatusCode, header(res, "Retry-After"))
	}
	if r := <-first; r == nil || r.StatusCode != 200 {
		t.Fatalf("first call: %v", r)
	}
}

// Shutdown lets the call in progress finish, answers new calls 503, and
// returns once they are done.
func TestGracefulShutdown(t *testing.T) {
	u := newUAS(t, "udp", 500*time.Millisecond)
	e := newEnv(t, config.Proxy, carrierxRules, func(c *config.Config) { c.SIP.NextHop = "sip:" + u.addr })
	caller := newClient(t, "caller")
	first := doAsync(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp))
	recv(t, u.invites, "INVITE")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	for deadline := time.Now().Add(5 * time.Second); !e.srv.draining.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not draining")
		}
	}
	res := do(t, caller, newInvite(t, stirtest.Invite{}, "tcp", e.tcp))
	if res.StatusCode != 503 {
		t.Errorf("new call during shutdown got %d, want 503", res.StatusCode)
	}
	if r := <-first; r == nil || r.StatusCode != 200 {
		t.Fatalf("call in progress: %v", r)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := len(readCDR(t, e.cdrPath)); n != 2 {
		t.Errorf("%d CDR lines after shutdown, want 2", n)
	}
}

// doAsync sends a request in the background; the channel gets its final
// response (nil on error) within 5 s.
func doAsync(t *testing.T, c *sipgo.Client, req *sip.Request) <-chan *sip.Response {
	ch := make(chan *sip.Response, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := c.Do(ctx, req)
		if err != nil {
			t.Error(err)
		}
		ch <- res
	}()
	return ch
}

// Answered UDP transactions are released at the ACK, not kept for T4
// (5 s) with a parked goroutine each: after 400 calls the process is back
// near its starting number of goroutines at once.
func TestUDPTransactionsReleasedAtACK(t *testing.T) {
	e := newEnv(t, config.Redirect, carrierxRules, nil)
	caller := newClient(t, "caller")
	do(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp))
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	for i := 0; i < 400; i++ {
		do(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp))
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > base+50 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after 400 calls (%d before): transactions are kept", runtime.NumGoroutine(), base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A large INVITE (over sipgo's 1300-byte UDP limit) is forwarded, not
// refused: over UDP by default, over TCP with udp_tcp_threshold set (RFC
// 3261 section 18.1.1).
func TestProxyLargeRequest(t *testing.T) {
	for _, tc := range []struct {
		threshold int
		uas, via  string
	}{
		{0, "udp", "UDP"},
		{1300, "tcp", "TCP"}, // the next hop URI says UDP; nobody listens there
	} {
		u := newUAS(t, tc.uas, 0)
		e := newEnv(t, config.Proxy, carrierxRules, func(c *config.Config) {
			c.SIP.NextHop = "sip:" + u.addr
			c.SIP.UDPTCPThreshold = tc.threshold
		})
		caller := newClient(t, "caller")
		pad := strings.Repeat("x", 3000)
		res := do(t, caller, newInvite(t, stirtest.Invite{Extra: []string{"X-Pad: " + pad}}, "udp", e.udp))
		if res.StatusCode != 200 {
			t.Fatalf("threshold %d: got %d", tc.threshold, res.StatusCode)
		}
		got := recv(t, u.invites, "INVITE")
		if got.Via().Transport != tc.via || header(got, "X-Pad") != pad {
			t.Fatalf("threshold %d: forwarded over %s, X-Pad %d bytes", tc.threshold, got.Via().Transport, len(header(got, "X-Pad")))
		}
	}
}

// A next hop that does not answer within proxy_timeout: the caller gets
// 408, the CDR says so, and the daemon is free again.
func TestProxyNextHopTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // a black hole
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	e := newEnv(t, config.Proxy, carrierxRules, func(c *config.Config) {
		c.SIP.NextHop = "sip:" + pc.LocalAddr().String()
		c.SIP.ProxyTimeout = 300 * time.Millisecond
	})
	caller := newClient(t, "caller")
	start := time.Now()
	res := do(t, caller, newInvite(t, stirtest.Invite{}, "tcp", e.tcp))
	if res.StatusCode != 408 {
		t.Fatalf("got %d, want 408", res.StatusCode)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitIdle(ctx, t, e.srv)
	if l := readCDR(t, e.cdrPath); len(l) != 1 || l[0]["status"] != float64(408) {
		t.Errorf("CDR %v", l)
	}
	_, metrics := httpDo(t, "GET", "http://"+e.admin+"/metrics")
	if !strings.Contains(metrics, `xformd_proxy_errors_total{kind="timeout"} 1`) {
		t.Errorf("no proxy timeout in metrics")
	}
}

// Several readers on one UDP port (SO_REUSEPORT) answer like one; with the
// default of one reader the port is bound exclusively.
func TestUDPReaders(t *testing.T) {
	e := newEnv(t, config.Redirect, carrierxRules, func(c *config.Config) { c.SIP.UDPReaders = 3 })
	for i := 0; i < 6; i++ {
		caller := newClient(t, fmt.Sprintf("caller%d", i)) // each its own source port
		if res := do(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp)); res.StatusCode != 302 {
			t.Fatalf("reader test call %d: %d", i, res.StatusCode)
		}
	}
	single := newEnv(t, config.Redirect, carrierxRules, nil)
	if pc, err := net.ListenPacket("udp", single.udp); err == nil {
		pc.Close()
		t.Errorf("a second socket could bind %s beside a single reader", single.udp)
	}
}
