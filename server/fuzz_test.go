package server

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/stir/stirtest"
)

var fuzzServer struct {
	once sync.Once
	st   *stack
	err  error
}

// fuzzStack is a daemon in redirect mode on the CarrierX rules, with CDRs
// and debug traces on (every code path of a call), not listening: the
// fuzz target calls the INVITE handler directly.
func fuzzStack(tb testing.TB) *stack {
	fuzzServer.once.Do(func() {
		cfg, err := config.Default()
		if err != nil {
			fuzzServer.err = err
			return
		}
		cfg.Admin.Listen = ""
		cfg.Rules.Inbound = carrierxRules
		cfg.Rules.Watch = false
		cfg.STIR.Fetch = false
		cfg.CDR.Path = "-"
		cfg.Log.Level = "debug"
		s, err := New(Options{Config: cfg, LogOutput: io.Discard, Stdout: io.Discard})
		if err != nil {
			fuzzServer.err = err
			return
		}
		fuzzServer.st = &stack{srv: s, direction: 1, ports: map[string]int{}}
	})
	if fuzzServer.err != nil {
		tb.Fatal(fuzzServer.err)
	}
	return fuzzServer.st
}

// FuzzInvite runs arbitrary INVITEs that sipgo parses through the
// daemon's INVITE handling: it must always answer with one final
// response and never panic, whatever the headers hold.
func FuzzInvite(f *testing.F) {
	pki, err := stirtest.New(stirtest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	id := pki.Identity(stirtest.Good, goodX5U, stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: time.Now(), OrigID: "x"})
	f.Add(stirtest.Invite{}.Bytes())
	f.Add(stirtest.Invite{Identity: []string{id}}.Bytes())
	f.Add(stirtest.Invite{Identity: []string{"garbage;info=<x>"}, PAI: "1215", Extra: []string{"X-A: \"q\\\"", "y: z"}}.Bytes())
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 1 INVITE\r\nFrom: \"\\\"\" <sip:@>;tag=1\r\nTo: <tel:+1>\r\nCall-ID: \x7f\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || !req.IsInvite() || req.Via() == nil || req.CSeq() == nil {
			return // sipgo's transaction layer refuses these before any handler
		}
		req.SetSource("192.0.2.1:5060")
		req.SetTransport("UDP")
		st := fuzzStack(t)
		tx := &fakeTx{done: make(chan struct{})}
		st.handleInvite(req, tx)
		if inDialog(req) {
			return
		}
		if tx.res == nil || tx.res.StatusCode < 300 {
			t.Fatalf("no final answer: %v", tx.res)
		}
		// Nothing taken from the request may break the response's framing:
		// one header block, ended once, no body.
		if out := tx.res.String(); strings.Index(out, "\r\n\r\n") != len(out)-4 {
			t.Fatalf("response framing broken: %q", out)
		}
	})
}
