package actions_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/stir"
	"github.com/xformd/xformd/stir/stirtest"
)

var stirNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const stirBase = "https://cert.example.org/"

// stirEnv is a test PKI with a verifier (certificates served from local
// files) and a signer.
type stirEnv struct {
	pki   *stirtest.PKI
	files *stirtest.Files
	opts  actions.Options
}

func newStirEnv(t testing.TB) *stirEnv {
	t.Helper()
	p := stirtest.NewT(t, stirtest.Options{Now: stirNow})
	f := p.WriteFilesT(t)
	v, err := stir.NewVerifier(stir.Config{TrustDir: f.TrustDir, Static: f.Static(stirBase)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	s, err := stir.LoadSigner(f.Key[stirtest.Good], stirBase+"shaken.pem")
	if err != nil {
		t.Fatal(err)
	}
	return &stirEnv{pki: p, files: f, opts: actions.Options{Verifier: v, Signer: s}}
}

func (e *stirEnv) compile(t testing.TB, src string) *engine.Pipeline {
	t.Helper()
	f, err := rules.Parse("stir.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(f, actions.Builtin(e.opts), engine.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func (e *stirEnv) run(t testing.TB, p *engine.Pipeline, inv stirtest.Invite) (*engine.Call, engine.Result) {
	t.Helper()
	m, err := sip.ParseMessage(inv.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	c := engine.NewCall(m.(*sip.Request))
	c.Now = stirNow
	c.Tracing = true
	return c, p.Run(c)
}

func (e *stirEnv) id(cred stirtest.Credential, mod func(*stirtest.Claims)) string {
	c := stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: stirNow, OrigID: "4437c7eb-8f52-4b8b-a6f3-aa9e1bfa3ab5"}
	if mod != nil {
		mod(&c)
	}
	return e.pki.Identity(cred, stirBase+cred.String()+".pem", c)
}

func vars(c *engine.Call) map[string]string {
	out := map[string]string{}
	for _, n := range []string{"stir_verstat", "stir_attest", "stir_origid", "stir_status", "stir_error_code", "stir_error", "stir_spc", "stir_x5u"} {
		out[n], _ = c.Var(n)
	}
	return out
}

// TestStirValidate runs stir_validate on one INVITE per outcome and error
// code and checks the variables it sets.
func TestStirValidate(t *testing.T) {
	e := newStirEnv(t)
	p := e.compile(t, `[{action: stir_validate, operands: []}]`)
	tests := []struct {
		name    string
		inv     stirtest.Invite
		status  string
		code    string
		attest  string
		errPart string
	}{
		{name: "passed A", inv: stirtest.Invite{Identity: []string{e.id(stirtest.Good, nil)}}, status: "TN-Validation-Passed-A", attest: "A"},
		{name: "passed B, caller from PAI", inv: stirtest.Invite{From: "anonymous", PAI: "+12155551212", Identity: []string{e.id(stirtest.Good, func(c *stirtest.Claims) { c.Attest = "B" })}}, status: "TN-Validation-Passed-B", attest: "B"},
		{name: "passed C, called number only in Request-URI", inv: stirtest.Invite{To: "18005550100", RURI: "12155550000", Identity: []string{e.id(stirtest.Good, func(c *stirtest.Claims) { c.Attest = "C" })}}, status: "TN-Validation-Passed-C", attest: "C"},
		{name: "passed, compact header name y", inv: stirtest.Invite{Extra: []string{"y: " + e.id(stirtest.Good, nil)}}, status: "TN-Validation-Passed-A", attest: "A"},
		{name: "passed, fresh Date", inv: stirtest.Invite{Date: "Mon, 01 Jun 2026 12:00:10 GMT", Identity: []string{e.id(stirtest.Good, nil)}}, status: "TN-Validation-Passed-A", attest: "A"},
		{name: "428 no Identity", inv: stirtest.Invite{}, status: "No-TN-Validation", code: "428", errPart: "no Identity header"},
		{name: "428 only a div PASSporT", inv: stirtest.Invite{Identity: []string{"e30.e30.c2ln;info=<https://cert.example.org/div.pem>;ppt=div"}}, status: "No-TN-Validation", code: "428", errPart: "another ppt"},
		{name: "403 stale iat", inv: stirtest.Invite{Identity: []string{e.id(stirtest.Good, func(c *stirtest.Claims) { c.IAT = stirNow.Add(-5 * time.Minute) })}}, status: "TN-Validation-Failed-A", code: "403", attest: "A", errPart: "Stale Date"},
		{name: "403 stale Date header", inv: stirtest.Invite{Date: "Mon, 01 Jun 2026 11:50:00 GMT", Identity: []string{e.id(stirtest.Good, nil)}}, status: "TN-Validation-Failed-A", code: "403", attest: "A", errPart: "Date header"},
		{name: "436 info missing", inv: stirtest.Invite{Identity: []string{strings.Replace(e.id(stirtest.Good, nil), ";info=<"+stirBase+"shaken.pem>", "", 1)}}, status: "TN-Validation-Failed", code: "436", errPart: "info parameter missing"},
		{name: "436 certificate cannot be fetched", inv: stirtest.Invite{Identity: []string{stirtest.IdentityHeader(stirtest.PASSporT(e.pki.LeafKey, stirtest.ShakenHeader(stirBase+"gone.pem"), stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: stirNow, OrigID: "x"}), stirBase+"gone.pem")}}, status: "TN-Validation-Failed-A", code: "436", attest: "A", errPart: "Bad Identity Info"},
		{name: "437 untrusted certificate", inv: stirtest.Invite{Identity: []string{e.id(stirtest.Untrusted, nil)}}, status: "TN-Validation-Failed-A", code: "437", attest: "A", errPart: "not trusted"},
		{name: "437 expired certificate", inv: stirtest.Invite{Identity: []string{e.id(stirtest.Expired, nil)}}, status: "TN-Validation-Failed-A", code: "437", attest: "A", errPart: "expired"},
		{name: "437 certificate without TNAuthList", inv: stirtest.Invite{Identity: []string{e.id(stirtest.NoTNAuthList, nil)}}, status: "TN-Validation-Failed-A", code: "437", attest: "A", errPart: "TNAuthList"},
		{name: "438 bad signature", inv: stirtest.Invite{Identity: []string{stirtest.IdentityHeader(stirtest.PASSporT(e.pki.ExpiredKey, stirtest.ShakenHeader(stirBase+"shaken.pem"), stirtest.Claims{Attest: "B", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: stirNow, OrigID: "x"}), stirBase+"shaken.pem")}}, status: "TN-Validation-Failed-B", code: "438", attest: "B", errPart: "signature does not verify"},
		{name: "438 orig does not match From", inv: stirtest.Invite{From: "12155550001", Identity: []string{e.id(stirtest.Good, nil)}}, status: "TN-Validation-Failed-A", code: "438", attest: "A", errPart: "orig.tn 12155551212 does not match caller 12155550001"},
		{name: "438 orig does not match PAI", inv: stirtest.Invite{PAI: "12155550002", Identity: []string{e.id(stirtest.Good, nil)}}, status: "TN-Validation-Failed-A", code: "438", attest: "A", errPart: "caller 12155550002"},
		{name: "438 dest does not match", inv: stirtest.Invite{To: "12155559999", Identity: []string{e.id(stirtest.Good, nil)}}, status: "TN-Validation-Failed-A", code: "438", attest: "A", errPart: "dest.tn"},
		{name: "438 bad attest", inv: stirtest.Invite{Identity: []string{e.id(stirtest.Good, func(c *stirtest.Claims) { c.Attest = "X" })}}, status: "TN-Validation-Failed", code: "438", errPart: `attest "X"`},
		{name: "438 garbage", inv: stirtest.Invite{Identity: []string{"not a passport;info=<https://cert.example.org/shaken.pem>"}}, status: "TN-Validation-Failed", code: "438", errPart: "Invalid Identity Header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, res := e.run(t, p, tt.inv)
			if len(res.Steps) != 1 || res.Steps[0].Status != engine.StepApplied {
				t.Fatalf("steps %+v", res.Steps)
			}
			v := vars(c)
			if v["stir_status"] != tt.status || v["stir_error_code"] != tt.code || v["stir_attest"] != tt.attest {
				t.Fatalf("vars %v", v)
			}
			if !strings.Contains(v["stir_error"], tt.errPart) || !strings.Contains(res.Steps[0].Detail, tt.status) {
				t.Errorf("error %q (want %q), trace %q", v["stir_error"], tt.errPart, res.Steps[0].Detail)
			}
			wantVerstat := tt.status
			if strings.HasPrefix(tt.status, "TN-Validation-") {
				wantVerstat = tt.status[:20]
			}
			if v["stir_verstat"] != wantVerstat {
				t.Errorf("verstat %q, want %q", v["stir_verstat"], wantVerstat)
			}
			if tt.code == "" && (v["stir_spc"] != "707J" || v["stir_x5u"] != stirBase+"shaken.pem" || v["stir_origid"] == "" || v["stir_error"] != "") {
				t.Errorf("pass without spc/x5u/origid: %v", v)
			}
		})
	}
}

// TestStirValidateWithoutVerifier: compiled with no verifier (xformd
// check), stir_validate still runs: unsigned calls read No-TN-Validation,
// signed calls fail for lack of trust anchors.
func TestStirValidateWithoutVerifier(t *testing.T) {
	e := newStirEnv(t)
	bare := &stirEnv{pki: e.pki}
	p := bare.compile(t, `[{action: stir_validate, operands: []}]`)
	c, _ := bare.run(t, p, stirtest.Invite{Identity: []string{e.id(stirtest.Good, nil)}})
	if v := vars(c); v["stir_error_code"] != "437" || !strings.Contains(v["stir_error"], "no trust anchors") {
		t.Errorf("signed call: %v", v)
	}
	c, _ = bare.run(t, p, stirtest.Invite{})
	if v := vars(c); v["stir_verstat"] != "No-TN-Validation" || v["stir_error_code"] != "428" {
		t.Errorf("unsigned call: %v", v)
	}
}

func TestStirValidateOperands(t *testing.T) {
	f, err := rules.Parse("x.yaml", []byte(`[{action: stir_validate, operands: [x]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Compile(f, actions.Builtin(actions.Options{}), engine.Options{}); err == nil {
		t.Fatal("stir_validate with an operand compiled")
	}
}

// TestStirValidateDeadline: a certificate server that never answers costs
// the call no more than its context allows.
func TestStirValidateDeadline(t *testing.T) {
	e := newStirEnv(t)
	stop := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stop)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	v, err := stir.NewVerifier(stir.Config{TrustDir: e.files.TrustDir, AllowFetch: true, AllowPrivate: true, HTTPSRoots: roots, FetchTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	env := &stirEnv{pki: e.pki, opts: actions.Options{Verifier: v}}
	p := env.compile(t, `[{action: stir_validate, operands: []}]`)
	x5u := srv.URL + "/shaken.pem"
	id := stirtest.IdentityHeader(stirtest.PASSporT(e.pki.LeafKey, stirtest.ShakenHeader(x5u), stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: stirNow, OrigID: "x"}), x5u)
	m, _ := sip.ParseMessage(stirtest.Invite{Identity: []string{id}}.Bytes())
	c := engine.NewCall(m.(*sip.Request))
	c.Now = stirNow
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c.Context = ctx
	start := time.Now()
	p.Run(c)
	if vv := vars(c); vv["stir_error_code"] != "436" || !strings.Contains(vv["stir_error"], "did not finish in time") || time.Since(start) > 2*time.Second {
		t.Fatalf("%v after %s", vv, time.Since(start))
	}
}

// TestCarrierXExampleWithStir runs the example rule file of issue 2 with
// the real stir_validate on a signed, an unsigned and a forged INVITE.
func TestCarrierXExampleWithStir(t *testing.T) {
	e := newStirEnv(t)
	f, err := rules.LoadFile("../examples/carrierx-stir/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(f, actions.Builtin(e.opts), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	forged := stirtest.IdentityHeader(stirtest.PASSporT(e.pki.UntrustedLeafKey, stirtest.ShakenHeader(stirBase+"shaken.pem"), stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: stirNow, OrigID: "x"}), stirBase+"shaken.pem")
	tests := []struct {
		name     string
		ids      []string
		header   string
		display  string
		rejected int
	}{
		{"signed A", []string{e.id(stirtest.Good, nil)}, "TN-Validation-Passed-A", "Alice*", 0},
		{"unsigned", nil, "No-TN-Validation-", "POSSIBLE FRAUD", 0},
		{"forged", []string{forged}, "TN-Validation-Failed-A", "Alice", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, res := e.run(t, p, stirtest.Invite{Identity: tt.ids})
			if got, _ := c.Var("header.X-StirResult"); got != tt.header {
				t.Errorf("X-StirResult %q, want %q", got, tt.header)
			}
			if got := c.Request.From().DisplayName; got != tt.display {
				t.Errorf("display %q, want %q", got, tt.display)
			}
			if tt.rejected != 0 && (res.Disposition.Kind != engine.Reject || res.Disposition.Status != tt.rejected) {
				t.Errorf("disposition %+v", res.Disposition)
			}
			if tt.rejected == 0 && res.Disposition.Kind != engine.Forward {
				t.Errorf("disposition %+v", res.Disposition)
			}
		})
	}
}

// BenchmarkStirValidate is stir_validate as a rule on a parsed, signed
// INVITE (certificate cached): header lookup, verification and setting the
// eight variables. Compare with stir's BenchmarkECDSAVerify.
func BenchmarkStirValidate(b *testing.B) {
	e := newStirEnv(b)
	p := e.compile(b, `[{action: stir_validate, operands: []}]`)
	m, err := sip.ParseMessage(stirtest.Invite{From: "+12155551212", Identity: []string{e.id(stirtest.Good, nil)}}.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	req := m.(*sip.Request)
	c := engine.NewCall(req)
	c.Now = stirNow
	if p.Run(c); vars(c)["stir_status"] != "TN-Validation-Passed-A" {
		b.Fatal(vars(c))
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Run(c)
	}
}

func TestSTIRInput(t *testing.T) {
	tests := []struct {
		name string
		inv  stirtest.Invite
		want stir.Input
	}{
		{"From and To", stirtest.Invite{From: "+12155551212", To: "12155550000", RURI: "18005550100"},
			stir.Input{Orig: "+12155551212", Dest: []string{"12155550000", "18005550100"}}},
		{"PAI wins", stirtest.Invite{PAI: "12155559999", Identity: []string{"a", "b"}, Extra: []string{"y: c"}, Date: "Mon, 01 Jun 2026 12:00:00 GMT"},
			stir.Input{Identities: []string{"a", "b", "c"}, Orig: "12155559999", Dest: []string{"12155550000", "12155550000"}, Date: "Mon, 01 Jun 2026 12:00:00 GMT"}},
		{"PAI without user falls back to From", stirtest.Invite{Extra: []string{"P-Asserted-Identity: <sip:carrier.example.com>"}},
			stir.Input{Orig: "12155551212", Dest: []string{"12155550000", "12155550000"}}},
		{"tel PAI", stirtest.Invite{Extra: []string{"P-Asserted-Identity: <tel:+12155557777;npdi>"}},
			stir.Input{Orig: "+12155557777", Dest: []string{"12155550000", "12155550000"}}},
		{"tel From, To and Request-URI", stirtest.Invite{},
			stir.Input{Orig: "+12155551212", Dest: []string{"+12155550000", "+12155550000"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.inv.Bytes()
			if strings.HasPrefix(tt.name, "tel ") && len(tt.inv.Extra) == 0 {
				raw = []byte(strings.NewReplacer(
					"INVITE sip:12155550000@xformd.example.org", "INVITE tel:+12155550000",
					"<sip:12155551212@carrier.example.com>", "<tel:+12155551212>",
					"<sip:12155550000@xformd.example.org>", "<tel:+12155550000>").Replace(string(raw)))
			}
			m, err := sip.ParseMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			got := actions.STIRInput(m.(*sip.Request), stirNow)
			tt.want.Now = stirNow
			if strings.Join(got.Identities, "|") != strings.Join(tt.want.Identities, "|") || got.Orig != tt.want.Orig ||
				strings.Join(got.Dest, "|") != strings.Join(tt.want.Dest, "|") || got.Date != tt.want.Date || !got.Now.Equal(stirNow) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
