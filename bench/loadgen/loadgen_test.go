package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/xformd/xformd/stir/stirtest"
)

func TestInviteParsesWithSipgo(t *testing.T) {
	p := inviteParams{runID: "abcd", index: 42, local: "127.0.0.1:40000", target: "127.0.0.1:5070",
		orig: "12155550042", dest: "13105550042", display: "Alexander Hamilton Jr", identity: "a.b.c;info=<https://x/y.pem>;alg=ES256;ppt=shaken"}
	msg, err := sip.ParseMessage(appendInvite(nil, &p))
	if err != nil {
		t.Fatalf("sipgo cannot parse the INVITE: %v", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != sip.INVITE {
		t.Fatalf("not an INVITE: %T", msg)
	}
	if got := req.CallID().Value(); got != "lg-abcd-42@127.0.0.1" {
		t.Errorf("Call-ID %q", got)
	}
	if got := req.From().DisplayName; got != "Alexander Hamilton Jr" {
		t.Errorf("From display %q", got)
	}
	if got := req.From().Address.User; got != "12155550042" {
		t.Errorf("From user %q", got)
	}
	if got := req.Recipient.User; got != "13105550042" {
		t.Errorf("Request-URI user %q", got)
	}
	if h := req.GetHeader("Identity"); h == nil || h.Value() != p.identity {
		t.Errorf("Identity %v", h)
	}
	if len(req.Body()) != len(sdpBody) {
		t.Errorf("body %d bytes, want %d", len(req.Body()), len(sdpBody))
	}

	p.identity = ""
	msg, err = sip.ParseMessage(appendInvite(nil, &p))
	if err != nil {
		t.Fatal(err)
	}
	if h := msg.(*sip.Request).GetHeader("Identity"); h != nil {
		t.Errorf("unsigned INVITE has Identity %q", h.Value())
	}

	ack, err := sip.ParseMessage(appendAck(nil, &p, []byte("<sip:13105550042@127.0.0.1:5070>;tag=srv1")))
	if err != nil {
		t.Fatalf("sipgo cannot parse the ACK: %v", err)
	}
	areq := ack.(*sip.Request)
	if areq.Method != sip.ACK || areq.CSeq().MethodName != sip.ACK || areq.CSeq().SeqNo != 1 {
		t.Errorf("ACK start line or CSeq wrong: %s %v", areq.Method, areq.CSeq())
	}
	if tag, _ := areq.To().Params.Get("tag"); tag != "srv1" {
		t.Errorf("ACK To tag %q", tag)
	}
	if b, _ := areq.Via().Params.Get("branch"); b != "z9hG4bK-lg-abcd-42" {
		t.Errorf("ACK branch %q", b)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		ok     bool
		status int
		callID string
		to     string
		inv    bool
		want   string
	}{
		{"full", "SIP/2.0 302 Moved Temporarily\r\nVia: SIP/2.0/UDP 127.0.0.1:1\r\nTo: <sip:1@h>;tag=x\r\nCall-ID: lg-r-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nX-StirResult: TN-Validation-Passed-A\r\nContent-Length: 0\r\n\r\n",
			true, 302, "lg-r-1@127.0.0.1", "<sip:1@h>;tag=x", true, "TN-Validation-Passed-A"},
		{"compact and case", "SIP/2.0 403 Forbidden\nt: <sip:1@h>;tag=y\ni: abc\ncseq: 1 INVITE\nx-stirresult:   v  \n\n",
			true, 403, "abc", "<sip:1@h>;tag=y", true, "v"},
		{"not invite", "SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 2 OPTIONS\r\n\r\n", true, 200, "a", "", false, ""},
		{"first of repeated", "SIP/2.0 302 M\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nX-StirResult: one\r\nX-StirResult: two\r\n\r\n", true, 302, "a", "", true, "one"},
		{"request", "INVITE sip:a@b SIP/2.0\r\nCall-ID: a\r\n\r\n", false, 0, "", "", false, ""},
		{"bad code", "SIP/2.0 9x9 What\r\nCall-ID: a\r\n\r\n", false, 0, "", "", false, ""},
		{"no call-id", "SIP/2.0 302 M\r\nCSeq: 1 INVITE\r\n\r\n", false, 302, "", "", true, ""},
		{"empty", "", false, 0, "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			ok := parseResponse([]byte(tt.msg), []byte("x-stirresult"), &r)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if r.status != tt.status || string(r.callID) != tt.callID || string(r.to) != tt.to || r.cseqINV != tt.inv || string(r.want) != tt.want {
				t.Errorf("got %d %q %q %v %q", r.status, r.callID, r.to, r.cseqINV, r.want)
			}
		})
	}
}

func TestParseCallIndex(t *testing.T) {
	for _, i := range []int{0, 1, 9, 12345, 999999} {
		id := appendCallID(nil, "cafe", i)
		if got := parseCallIndex(id, "cafe"); got != i {
			t.Errorf("index of %q = %d, want %d", id, got, i)
		}
		if got := parseCallIndex(id, "beef"); got != -1 {
			t.Errorf("other run's %q = %d, want -1", id, got)
		}
	}
	for _, bad := range []string{"", "lg-cafe-", "lg-cafe-@x", "lg-cafe-1x@x", "lg-cafe1@x", "xx-cafe-1@x", "lg-cafe-99999999999999999999@x"} {
		if got := parseCallIndex([]byte(bad), "cafe"); got != -1 {
			t.Errorf("parseCallIndex(%q) = %d, want -1", bad, got)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := make([]int64, 100)
	for i := range v {
		v[i] = int64(i + 1)
	}
	for _, tt := range []struct {
		p    float64
		want int64
	}{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {0, 1}} {
		if got := percentile(v, tt.p); got != tt.want {
			t.Errorf("p%v = %d, want %d", tt.p, got, tt.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty percentile not 0")
	}
	if got := percentile([]int64{7}, 99); got != 7 {
		t.Errorf("single value p99 = %d", got)
	}
}

func TestKindOfShares(t *testing.T) {
	c := config{unsignedPct: 10, badSigPct: 5}
	var n [3]int
	for i := 0; i < 100000; i++ {
		n[c.kindOf(i)]++
	}
	if n[kindUnsigned] < 9500 || n[kindUnsigned] > 10500 || n[kindBadSig] < 4500 || n[kindBadSig] > 5500 {
		t.Errorf("shares signed/unsigned/bad = %v, want about 85000/10000/5000", n)
	}
	all := config{}
	for i := 0; i < 1000; i++ {
		if all.kindOf(i) != kindSigned {
			t.Fatal("default mix must be all signed")
		}
	}
}

// verifyES256 checks a JWS token's ES256 signature, independently of the
// code under test.
func verifyES256(t *testing.T, pub *ecdsa.PublicKey, token string) bool {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil || len(sig) != 64 {
		return false
	}
	h := sha256.Sum256([]byte(token[:i]))
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func TestSignerAndBrokenSignature(t *testing.T) {
	dir := t.TempDir()
	files, err := writePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := loadSigner(files.Key[stirtest.Good], "https://cert.example.org/shaken.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub := &s.key.PublicKey
	pool, err := newTokenPool(s, "A", 3)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 3; j++ {
		good, bad := pool.valid(j), pool.broken(j)
		tok, params, _ := strings.Cut(good, ";")
		if params != "info=<https://cert.example.org/shaken.pem>;alg=ES256;ppt=shaken" {
			t.Errorf("parameters %q", params)
		}
		if !verifyES256(t, pub, tok) {
			t.Errorf("token %d does not verify", j)
		}
		btok, _, _ := strings.Cut(bad, ";")
		if len(btok) != len(tok) || verifyES256(t, pub, btok) {
			t.Errorf("broken token %d verifies or changed length", j)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"attest":"A"`, `"orig":{"tn":"` + origNumber(j) + `"}`, `"dest":{"tn":["` + destNumber(j) + `"]}`} {
			if !bytes.Contains(payload, []byte(want)) {
				t.Errorf("payload %s lacks %s", payload, want)
			}
		}
	}
	if _, err := loadSigner(filepath.Join(dir, "trust", "root.pem"), "x"); err == nil {
		t.Error("a certificate was accepted as a key")
	}
}

// fakeUAS answers INVITEs like the CarrierX rules in redirect mode would:
// 302 with X-StirResult for signed and unsigned calls, 403 for broken
// signatures. It does not verify signatures; it learns each call's kind from
// the run's config, as the load generator does. It counts ACKs, and drops
// the INVITEs whose index dropEvery divides, if set.
type fakeUAS struct {
	conn      *net.UDPConn
	cfg       *config
	dropEvery int
	acks      atomic.Int64
	invites   atomic.Int64
}

func (f *fakeUAS) serve() {
	buf := make([]byte, 65536)
	for {
		n, from, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		if strings.HasPrefix(msg, "ACK ") {
			f.acks.Add(1)
			continue
		}
		if !strings.HasPrefix(msg, "INVITE ") {
			continue
		}
		f.invites.Add(1)
		req, err := sip.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		r := req.(*sip.Request)
		callID := r.CallID().Value()
		idx := strings.TrimSuffix(callID[strings.LastIndexByte(callID, '-')+1:], "@127.0.0.1")
		i := 0
		for _, c := range idx {
			i = i*10 + int(c-'0')
		}
		if f.dropEvery > 0 && i%f.dropEvery == 0 {
			continue
		}
		code, extra := 302, "X-StirResult: TN-Validation-Passed-A\r\n"
		switch f.cfg.kindOf(i) {
		case kindUnsigned:
			extra = "X-StirResult: No-TN-Validation-\r\n"
		case kindBadSig:
			code, extra = 403, ""
		}
		if r.GetHeader("Identity") == nil && f.cfg.kindOf(i) != kindUnsigned {
			code = 500 // the load generator forgot the Identity header
		}
		var b strings.Builder
		b.WriteString("SIP/2.0 100 Trying\r\n")
		for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
			b.WriteString(h + ": " + r.GetHeader(h).Value() + "\r\n")
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		_, _ = f.conn.WriteToUDP([]byte(b.String()), from)
		b.Reset()
		b.WriteString("SIP/2.0 " + map[int]string{302: "302 Moved Temporarily", 403: "403 Forbidden", 500: "500 Oops"}[code] + "\r\n")
		for _, h := range []string{"Via", "From"} {
			b.WriteString(h + ": " + r.GetHeader(h).Value() + "\r\n")
		}
		b.WriteString("To: " + r.GetHeader("To").Value() + ";tag=uas\r\n")
		b.WriteString("Call-ID: " + callID + "\r\nCSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1>\r\n" + extra + "Content-Length: 0\r\n\r\n")
		_, _ = f.conn.WriteToUDP([]byte(b.String()), from)
	}
}

func startFakeUAS(t *testing.T, cfg *config, dropEvery int) *fakeUAS {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUAS{conn: c, cfg: cfg, dropEvery: dropEvery}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.serve() }()
	t.Cleanup(func() { c.Close(); wg.Wait() })
	cfg.target = c.LocalAddr().String()
	return f
}

func testConfig() config {
	return config{
		rate: 400, duration: 500 * time.Millisecond, conns: 3, timeout: 3 * time.Second,
		unsignedPct: 20, badSigPct: 10, numbers: 7, display: "Alexander Hamilton Jr",
		wantStatus: [3]int{302, 302, 403}, wantHeader: "X-StirResult", wantValue: "TN-Validation-Passed-A",
	}
}

func testPool(t *testing.T) *tokenPool {
	t.Helper()
	files, err := writePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := loadSigner(files.Key[stirtest.Good], "https://cert.example.org/shaken.pem")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := newTokenPool(s, "A", 7)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// runOnce runs cfg to the end with a fresh token pool.
func runOnce(t *testing.T, cfg config) *summary {
	t.Helper()
	r, err := newRunner(cfg, testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(s.line())
	return s
}

func TestRunAgainstFakeUAS(t *testing.T) {
	cfg := testConfig()
	uas := startFakeUAS(t, &cfg, 0)
	s := runOnce(t, cfg)
	if s.Calls != 200 || s.Sent != 200 || s.OK != 200 || s.Failed != 0 {
		t.Errorf("calls/sent/ok/failed = %d/%d/%d/%d, want 200/200/200/0", s.Calls, s.Sent, s.OK, s.Failed)
	}
	if s.Statuses[302]+s.Statuses[403] != 200 || s.Statuses[403] == 0 {
		t.Errorf("statuses %v", s.Statuses)
	}
	if got := uas.acks.Load(); got != 200 {
		t.Errorf("ACKs = %d, want 200 (one per non-2xx final)", got)
	}
	if s.P50Ms <= 0 || s.P50Ms > s.P99Ms || s.P99Ms > s.MaxMs {
		t.Errorf("percentiles not ordered: %v %v %v", s.P50Ms, s.P99Ms, s.MaxMs)
	}
	// 200 calls at 400/s take about 0.5 s; the pacing must not run ahead.
	if s.SendRate > 480 {
		t.Errorf("send rate %.1f/s, want about 400", s.SendRate)
	}
}

func TestRunCountsFailures(t *testing.T) {
	cfg := testConfig()
	cfg.unsignedPct, cfg.badSigPct = 0, 0
	cfg.timeout = time.Second // the dropped calls wait this long
	startFakeUAS(t, &cfg, 10) // drops calls 0, 10, 20, ...
	cfg.wantValue = "TN-Validation-Passed-B"
	s := runOnce(t, cfg)
	if s.Timeouts != 20 || s.BadHeader != 180 || s.OK != 0 || s.Failed != 200 {
		t.Errorf("timeouts/bad_header/ok/failed = %d/%d/%d/%d, want 20/180/0/200", s.Timeouts, s.BadHeader, s.OK, s.Failed)
	}
}

func TestConfigRefusesNonLoopback(t *testing.T) {
	c := testConfig()
	for _, target := range []string{"10.0.0.1:5060", "192.168.1.1:5060", "example.org:5060", "8.8.8.8:53"} {
		c.target = target
		if c.validate() == nil {
			t.Errorf("target %s accepted", target)
		}
	}
	c.target = "127.0.0.1:5060"
	if err := c.validate(); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
}

func TestMainUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-target", "10.1.1.1:5060", "-unsigned-pct", "100"}, &out, &errb); code != 1 {
		t.Errorf("non-loopback target: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"-target", "127.0.0.1:5060"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "-key") {
		t.Errorf("signed run without key: exit %d, stderr %q", code, errb.String())
	}
}

func TestParseSnmpUDP(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n" +
		"Udp: 382505 71 19353 401930 19350 2\n" +
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n" +
		"UdpLite: 0 0 0 0 7 0\n"
	if got := parseSnmpUDP(snmp, "RcvbufErrors"); got != 19350 {
		t.Errorf("RcvbufErrors = %d, want 19350", got)
	}
	if got := parseSnmpUDP(snmp, "Nope"); got != -1 {
		t.Errorf("missing field = %d, want -1", got)
	}
	if got := parseSnmpUDP("", "RcvbufErrors"); got != -1 {
		t.Errorf("empty = %d, want -1", got)
	}
	if udpRcvbufErrors() < -1 {
		t.Error("impossible counter")
	}
}

func TestTokenPoolKeepsFresh(t *testing.T) {
	pool := testPool(t) // 7 pairs
	first := pool.valid(3)
	start := pool.oldest()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pool.keepFresh(ctx, 70*time.Millisecond) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	if !pool.oldest().After(start) {
		t.Errorf("oldest iat %v not after the initial %v: not every pair was re-signed", pool.oldest(), start)
	}
	if pool.valid(3) == first {
		t.Error("pair 3 still has its first token")
	}
}
