package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/stir/stirtest"
)

// certBase is where the test PKI's certificates "live": the verifier maps
// these URLs to local files, nothing is fetched.
const certBase = "https://cert.example.org/"

var goodX5U = certBase + "shaken.pem"

// carrierxRules is the example rule file the daemon runs by default.
var carrierxRules = filepath.Join("..", "examples", "carrierx-stir", "rules.json")

// env is one running daemon on loopback with OS-chosen ports.
type env struct {
	t       *testing.T
	srv     *Server
	cfg     *config.Config
	pki     *stirtest.PKI
	cdrPath string
	udp     string
	tcp     string
	admin   string
	logs    *syncBuffer
}

// syncBuffer collects the daemon's logs for assertions and for the test
// log on failure.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var sharedPKI struct {
	once sync.Once
	pki  *stirtest.PKI
	err  error
}

func testPKI(t *testing.T) *stirtest.PKI {
	sharedPKI.once.Do(func() { sharedPKI.pki, sharedPKI.err = stirtest.New(stirtest.Options{}) })
	if sharedPKI.err != nil {
		t.Fatal(sharedPKI.err)
	}
	return sharedPKI.pki
}

// newEnv starts a daemon in mode on rulesFile; mod may adjust the
// configuration before it is validated.
func newEnv(t *testing.T, mode config.Mode, rulesFile string, mod func(*config.Config)) *env {
	t.Helper()
	pki := testPKI(t)
	files := pki.WriteFilesT(t)
	dir := t.TempDir()
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.SIP.Listen = []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}
	cfg.SIP.Mode = mode
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Rules.Inbound = rulesFile
	cfg.Rules.Watch = false
	cfg.STIR.TrustDir = files.TrustDir
	cfg.STIR.StaticCerts = files.Static(certBase)
	cfg.STIR.Fetch = false
	cfg.CDR.Path = filepath.Join(dir, "cdr.jsonl")
	cfg.Limits.ShutdownTimeout = 5 * time.Second
	if mod != nil {
		mod(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := New(Options{Config: cfg, Logger: NewLogger(cfg.Log, logs)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, cfg: cfg, pki: pki, cdrPath: cfg.CDR.Path, admin: srv.AdminAddr(), logs: logs}
	for _, l := range srv.SIPAddrs() {
		switch {
		case l.Network == "udp" && e.udp == "":
			e.udp = l.Addr
		case l.Network == "tcp" && e.tcp == "":
			e.tcp = l.Addr
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return e
}

// addr returns the daemon's address for a transport.
func (e *env) addr(transport string) string {
	if transport == "tcp" {
		return e.tcp
	}
	return e.udp
}

// identity signs a SHAKEN PASSporT for the default test numbers.
func (e *env) identity(cred stirtest.Credential, attest string) string {
	return e.pki.Identity(cred, certBase+cred.String()+".pem", stirtest.Claims{
		Attest: attest, Orig: "12155551212", Dest: []string{"12155550000"},
		IAT: time.Now(), OrigID: "123e4567-e89b-12d3-a456-426614174000",
	})
}

var callSeq atomic.Int64

// newInvite builds an INVITE from a stirtest description, ready for a
// sipgo client: no Via (the client adds its own), a unique Call-ID, sent
// to dst over transport.
func newInvite(t testing.TB, in stirtest.Invite, transport, dst string) *sip.Request {
	t.Helper()
	if in.CallID == "" {
		in.CallID = fmt.Sprintf("xformd-test-%d-%d@127.0.0.1", time.Now().UnixNano(), callSeq.Add(1))
	}
	msg, err := sip.ParseMessage(in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.RemoveHeader("Via")
	req.RemoveHeader("Contact")
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "caller", Host: "127.0.0.1"}})
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(dst)
	return req
}

// newClient makes a sipgo UA and client, closed when the test ends.
func newClient(t testing.TB, name string) *sipgo.Client {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return c
}

// do sends a request and returns its final response, within 5 s.
func do(t testing.TB, c *sipgo.Client, req *sip.Request) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s to %s over %s: %v", req.Method, req.Destination(), req.Transport(), err)
	}
	return res
}

func header(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// httpGet fetches an admin URL and returns status and body.
func httpDo(t testing.TB, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// uas is a next-hop user agent server for proxy tests: it answers INVITEs
// with 200 (after delay) and records what it received.
type uas struct {
	addr    string
	invites chan *sip.Request
	acks    chan *sip.Request
	byes    chan *sip.Request
	cancels chan *sip.Request
	delay   time.Duration
	status  int
}

func newUAS(t *testing.T, transport string, delay time.Duration) *uas {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("uas"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	u := &uas{invites: make(chan *sip.Request, 100), acks: make(chan *sip.Request, 100), byes: make(chan *sip.Request, 100), cancels: make(chan *sip.Request, 100), delay: delay, status: 200}
	var port int
	var closer io.Closer
	var serve func() error
	if transport == "tcp" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port, closer = ln.Addr().(*net.TCPAddr).Port, ln
		serve = func() error { return srv.ServeTCP(ln) }
	} else {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port, closer = pc.LocalAddr().(*net.UDPAddr).Port, pc
		serve = func() error { return srv.ServeUDP(pc) }
	}
	u.addr = fmt.Sprintf("127.0.0.1:%d", port)
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "uas", Host: "127.0.0.1", Port: port}}
	if transport == "tcp" {
		contact.Address.UriParams = sip.HeaderParams{{K: "transport", V: "tcp"}}
	}
	dsc := sipgo.NewDialogServerCache(cl, contact)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		u.invites <- req.Clone()
		sess, err := dsc.ReadInvite(req, tx)
		if err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
			return
		}
		tx.OnCancel(func(r *sip.Request) { u.cancels <- r.Clone() })
		if u.delay > 0 {
			sess.Respond(180, "Ringing", nil)
			select {
			case <-time.After(u.delay):
			case <-tx.Done():
				return
			}
		}
		// An error here (the caller went away) shows in the caller's test.
		sess.Respond(u.status, "OK", nil)
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		u.acks <- req.Clone()
		dsc.ReadAck(req, tx)
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		u.byes <- req.Clone()
		if err := dsc.ReadBye(req, tx); err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		}
	})
	done := make(chan struct{})
	go func() { defer close(done); serve() }()
	t.Cleanup(func() {
		closer.Close()
		<-done
		ua.Close()
	})
	return u
}

func recv(t *testing.T, ch chan *sip.Request, what string) *sip.Request {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("uas: no %s within 5s", what)
		return nil
	}
}

// writeFile writes a file atomically (write + rename), as editors and
// deploy tools do.
func writeFile(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// httpRecord runs one request through an admin handler.
func httpRecord(h http.Handler, method, path, auth string) int {
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}
