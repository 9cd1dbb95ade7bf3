package server

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/stir/stirtest"
)

// fakeTx is a server transaction that keeps the response, so the INVITE
// handler can be measured without the network.
type fakeTx struct {
	res  *sip.Response
	done chan struct{}
}

func (f *fakeTx) Terminate()                         {}
func (f *fakeTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (f *fakeTx) Done() <-chan struct{}              { return f.done }
func (f *fakeTx) Err() error                         { return nil }
func (f *fakeTx) Respond(res *sip.Response) error    { f.res = res; return nil }
func (f *fakeTx) Acks() <-chan *sip.Request          { return nil }
func (f *fakeTx) OnCancel(sip.FnTxCancel) bool       { return true }

// BenchmarkInviteRedirect is the daemon's work on one INVITE in redirect
// mode with the CarrierX rules and a valid Identity header (certificate
// cached): clone, pipeline with STIR verification, 302 with the changed
// headers, metrics, CDR line. Parsing and the transaction layer are
// sipgo's and not included.
func BenchmarkInviteRedirect(b *testing.B) {
	pki, err := stirtest.New(stirtest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	files, err := pki.WriteFiles(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := config.Default()
	cfg.SIP.Listen = []string{"udp:127.0.0.1:0"}
	cfg.Admin.Listen = ""
	cfg.Rules.Inbound = carrierxRules
	cfg.STIR.TrustDir = files.TrustDir
	cfg.STIR.StaticCerts = files.Static(certBase)
	cfg.STIR.Fetch = false
	cfg.STIR.Window = time.Hour
	cfg.CDR.Path = b.TempDir() + "/cdr.jsonl"
	cfg.Log.Level = "warn"
	s, err := New(Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st := &stack{srv: s, direction: 1, ports: map[string]int{}}
	id := pki.Identity(stirtest.Good, goodX5U, stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: time.Now(), OrigID: "x"})
	msg, err := sip.ParseMessage(stirtest.Invite{Identity: []string{id}}.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetSource("192.0.2.10:5060")
	req.SetTransport("UDP") // as sipgo's transport sets it
	tx := &fakeTx{done: make(chan struct{})}
	// handleInvite: onInvite would then wait for the ACK of the 302,
	// which no network brings here.
	st.handleInvite(req, tx)
	if tx.res == nil || tx.res.StatusCode != 302 || header(tx.res, "X-StirResult") != "TN-Validation-Passed-A" {
		b.Fatalf("warm-up call: %v", tx.res)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.handleInvite(req, tx)
	}
}
