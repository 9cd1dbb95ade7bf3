package stir

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xformd/xformd/stir/stirtest"
)

const (
	testBase = "https://cert.example.org/"
	testX5U  = testBase + "shaken.pem"
	caller   = "12155551212"
	called   = "12155550000"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	pki   *stirtest.PKI
	files *stirtest.Files
	v     *Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	p := stirtest.NewT(t, stirtest.Options{Now: testNow})
	f := p.WriteFilesT(t)
	v, err := NewVerifier(Config{TrustDir: f.TrustDir, Static: f.Static(testBase)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return &fixture{pki: p, files: f, v: v}
}

func goodClaims() stirtest.Claims {
	return stirtest.Claims{Attest: "A", Orig: caller, Dest: []string{called}, IAT: testNow, OrigID: "123e4567-e89b-12d3-a456-426614174000"}
}

// raw signs arbitrary header and payload JSON with the good leaf key and
// wraps it in a standard Identity header for testX5U.
func (fx *fixture) raw(header, payload string) string {
	return stirtest.IdentityHeader(stirtest.SignRaw(fx.pki.LeafKey, []byte(header), []byte(payload)), testX5U)
}

const goodHeader = `{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"` + testX5U + `"}`

func payloadJSON(fields string) string { return "{" + fields + "}" }

const (
	fAttest = `"attest":"A"`
	fDest   = `"dest":{"tn":["12155550000"]}`
	fOrig   = `"orig":{"tn":"12155551212"}`
	fOrigID = `"origid":"abc"`
)

func fIAT(t time.Time) string { return `"iat":` + itoa(t.Unix()) }

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func TestVerify(t *testing.T) {
	fx := newFixture(t)
	p := fx.pki
	good := func(mod func(*stirtest.Claims)) string {
		c := goodClaims()
		if mod != nil {
			mod(&c)
		}
		return p.Identity(stirtest.Good, testX5U, c)
	}
	goodTok := stirtest.PASSporT(p.LeafKey, stirtest.ShakenHeader(testX5U), goodClaims())
	allFields := func(except string, extra ...string) string {
		var fs []string
		for _, f := range []string{fAttest, fDest, fIAT(testNow), fOrig, fOrigID} {
			if !strings.HasPrefix(f, `"`+except+`"`) {
				fs = append(fs, f)
			}
		}
		return payloadJSON(strings.Join(append(fs, extra...), ","))
	}
	tests := []struct {
		name    string
		ids     []string
		orig    string
		dest    []string
		date    string
		now     time.Time
		verstat string
		code    string
		attest  string
		status  string
		errPart string
		spc     string
		ignored int
	}{
		{name: "pass A", ids: []string{good(nil)}, verstat: VerstatPassed, attest: "A", status: "TN-Validation-Passed-A", spc: "707J"},
		{name: "pass B", ids: []string{good(func(c *stirtest.Claims) { c.Attest = "B" })}, verstat: VerstatPassed, attest: "B", status: "TN-Validation-Passed-B"},
		{name: "pass C", ids: []string{good(func(c *stirtest.Claims) { c.Attest = "C" })}, verstat: VerstatPassed, attest: "C", status: "TN-Validation-Passed-C"},
		{name: "caller with + and separators", orig: "+1 (215) 555-1212", ids: []string{good(nil)}, verstat: VerstatPassed},
		{name: "claims with + are canonicalised", ids: []string{good(func(c *stirtest.Claims) { c.Orig = "+12155551212"; c.Dest = []string{"+1-215-555-0000"} })}, verstat: VerstatPassed},
		{name: "dest matches Request-URI only", dest: []string{"18005550199", called}, ids: []string{good(nil)}, verstat: VerstatPassed},
		{name: "dest list holds the number", ids: []string{good(func(c *stirtest.Claims) { c.Dest = []string{"19995550000", called} })}, verstat: VerstatPassed},
		{name: "quoted ppt and spacing", ids: []string{goodTok + ` ; INFO = <` + testX5U + `> ; alg=ES256 ; ppt="shaken" ; foo=bar`}, verstat: VerstatPassed},
		{name: "no alg parameter means ES256", ids: []string{goodTok + `;info=<` + testX5U + `>;ppt=shaken`}, verstat: VerstatPassed},
		{name: "no ppt parameter, shaken token", ids: []string{goodTok + `;info=<` + testX5U + `>`}, verstat: VerstatPassed},
		{name: "iat at the window edge", ids: []string{good(func(c *stirtest.Claims) { c.IAT = testNow.Add(-60 * time.Second) })}, verstat: VerstatPassed},
		{name: "fresh Date", date: "Mon, 01 Jun 2026 12:00:30 GMT", ids: []string{good(nil)}, verstat: VerstatPassed},
		{name: "fractional iat", ids: []string{fx.raw(goodHeader, allFields("iat", `"iat":`+itoa(testNow.Unix())+`.25`))}, verstat: VerstatPassed},
		{name: "escaped origid and unknown claims", ids: []string{fx.raw(goodHeader, allFields("origid", `"origid":"a\u00e9\"b"`, `"rcd":{"nam":["x",{"y":[1,2.5e3,true,null]}]}`))}, verstat: VerstatPassed},
		{name: "div ignored, shaken passes", ids: []string{"a.b.c;info=<https://x.example/d.pem>;ppt=div", good(nil)}, verstat: VerstatPassed, ignored: 1},
		{name: "first fails, second passes", ids: []string{good(func(c *stirtest.Claims) { c.Orig = "19998887777" }), good(nil)}, verstat: VerstatPassed},

		{name: "428 no Identity", verstat: VerstatNone, status: VerstatNone, code: "428", errPart: "no Identity header"},
		{name: "428 only div", ids: []string{"a.b.c;info=<https://x.example/d.pem>;alg=ES256;ppt=\"div\""}, verstat: VerstatNone, status: VerstatNone, code: "428", errPart: "1 with another ppt", ignored: 1},

		{name: "403 stale iat", ids: []string{good(func(c *stirtest.Claims) { c.IAT = testNow.Add(-61 * time.Second) })}, code: "403", attest: "A", status: "TN-Validation-Failed-A", errPart: "403 Stale Date: iat"},
		{name: "403 future iat", ids: []string{good(func(c *stirtest.Claims) { c.IAT = testNow.Add(2 * time.Minute) })}, code: "403", errPart: "iat"},
		{name: "403 stale Date", date: "Mon, 01 Jun 2026 11:58:00 GMT", ids: []string{good(nil)}, code: "403", errPart: "Date header is"},
		{name: "403 bad Date", date: "yesterday", ids: []string{good(nil)}, code: "403", errPart: "cannot be parsed"},

		{name: "436 info missing", ids: []string{goodTok + ";alg=ES256;ppt=shaken"}, code: "436", errPart: "436 Bad Identity Info: info parameter missing"},
		{name: "436 x5u differs from info", ids: []string{stirtest.IdentityHeader(goodTok, testBase+"other.pem")}, code: "436", errPart: "differs from info"},
		{name: "436 x5u missing", ids: []string{fx.raw(`{"alg":"ES256","ppt":"shaken","typ":"passport"}`, allFields(""))}, code: "436", errPart: "no x5u"},
		{name: "436 certificate not available", ids: []string{stirtest.IdentityHeader(stirtest.PASSporT(p.LeafKey, stirtest.ShakenHeader(testBase+"missing.pem"), goodClaims()), testBase+"missing.pem")}, code: "436", errPart: "fetching is disabled"},

		{name: "437 alg parameter", ids: []string{goodTok + ";info=<" + testX5U + ">;alg=RS256;ppt=shaken"}, code: "437", errPart: "alg parameter"},
		{name: "437 alg none", ids: []string{stirtest.B64([]byte(`{"alg":"none","ppt":"shaken","typ":"passport","x5u":"`+testX5U+`"}`)) + "." + stirtest.B64([]byte(allFields(""))) + ".;info=<" + testX5U + ">;ppt=shaken"}, code: "437", errPart: `alg "none"`},
		{name: "437 alg HS256", ids: []string{fx.raw(`{"alg":"HS256","ppt":"shaken","typ":"passport","x5u":"`+testX5U+`"}`, allFields(""))}, code: "437", errPart: `alg "HS256"`},
		{name: "437 alg RS256", ids: []string{fx.raw(`{"alg":"RS256","ppt":"shaken","typ":"passport","x5u":"`+testX5U+`"}`, allFields(""))}, code: "437", errPart: `alg "RS256"`},
		{name: "437 typ JWT", ids: []string{fx.raw(`{"alg":"ES256","ppt":"shaken","typ":"JWT","x5u":"`+testX5U+`"}`, allFields(""))}, code: "437", errPart: `typ "JWT"`},
		{name: "437 typ missing", ids: []string{fx.raw(`{"alg":"ES256","ppt":"shaken","x5u":"`+testX5U+`"}`, allFields(""))}, code: "437", errPart: `typ ""`},
		{name: "437 expired certificate", ids: []string{p.Identity(stirtest.Expired, testBase+"expired.pem", goodClaims())}, code: "437", attest: "A", status: "TN-Validation-Failed-A", errPart: "expired or not yet valid"},
		{name: "437 not yet valid", now: testNow.Add(-2 * time.Hour), ids: []string{good(func(c *stirtest.Claims) { c.IAT = testNow.Add(-2 * time.Hour) })}, code: "437", errPart: "expired or not yet valid"},
		{name: "437 untrusted root", ids: []string{p.Identity(stirtest.Untrusted, testBase+"untrusted.pem", goodClaims())}, code: "437", errPart: "not trusted"},
		{name: "437 no TNAuthList", ids: []string{p.Identity(stirtest.NoTNAuthList, testBase+"notn.pem", goodClaims())}, code: "437", errPart: "no TNAuthList"},

		{name: "438 bad signature", ids: []string{stirtest.IdentityHeader(stirtest.PASSporT(p.UntrustedLeafKey, stirtest.ShakenHeader(testX5U), goodClaims()), testX5U)}, code: "438", attest: "A", status: "TN-Validation-Failed-A", errPart: "signature does not verify"},
		{name: "438 tampered payload", ids: []string{tamper(p, goodClaims())}, code: "438", errPart: "signature does not verify"},
		{name: "438 DER signature", ids: []string{stirtest.IdentityHeader(stirtest.SignDER(p.LeafKey, []byte(goodHeader), []byte(allFields(""))), testX5U)}, code: "438", errPart: "not the 64-byte R||S"},
		{name: "438 ppt param shaken, token div", ids: []string{fx.raw(`{"alg":"ES256","ppt":"div","typ":"passport","x5u":"`+testX5U+`"}`, allFields(""))}, code: "438", errPart: `ppt "div"`},
		{name: "438 attest D", ids: []string{good(func(c *stirtest.Claims) { c.Attest = "D" })}, code: "438", attest: "", status: VerstatFailed, errPart: `attest "D"`},
		{name: "438 attest missing", ids: []string{fx.raw(goodHeader, allFields("attest"))}, code: "438", errPart: "attest claim missing"},
		{name: "438 orig missing", ids: []string{fx.raw(goodHeader, allFields("orig"))}, code: "438", errPart: "orig.tn claim missing"},
		{name: "438 dest missing", ids: []string{fx.raw(goodHeader, allFields("dest"))}, code: "438", errPart: "dest.tn claim missing"},
		{name: "438 dest empty", ids: []string{fx.raw(goodHeader, allFields("dest", `"dest":{"tn":[]}`))}, code: "438", errPart: "dest.tn claim missing"},
		{name: "438 iat missing", ids: []string{fx.raw(goodHeader, allFields("iat"))}, code: "438", errPart: "iat claim missing"},
		{name: "438 iat string", ids: []string{fx.raw(goodHeader, allFields("iat", `"iat":"1780315200"`))}, code: "438", errPart: "iat"},
		{name: "438 origid missing", ids: []string{fx.raw(goodHeader, allFields("origid"))}, code: "438", errPart: "origid claim missing"},
		{name: "438 orig mismatch", ids: []string{good(func(c *stirtest.Claims) { c.Orig = "12155550001" })}, code: "438", attest: "A", status: "TN-Validation-Failed-A", errPart: "438 Invalid Identity Header: orig.tn 12155550001 does not match caller 12155551212"},
		{name: "438 dest mismatch", ids: []string{good(func(c *stirtest.Claims) { c.Dest = []string{"12155559999"} })}, code: "438", errPart: "dest.tn 12155559999 does not contain"},
		{name: "438 orig is not a number", orig: "alice", ids: []string{good(nil)}, code: "438", errPart: "does not match caller alice"},
		{name: "438 duplicate claim", ids: []string{fx.raw(goodHeader, allFields("", `"attest":"C"`))}, code: "438", errPart: "duplicate"},
		{name: "438 case-folded claim names are not claims", ids: []string{fx.raw(goodHeader, allFields("attest", `"ATTEST":"A"`))}, code: "438", errPart: "attest claim missing"},
		{name: "438 bad base64", ids: []string{"e30!.e30.AAAA;info=<" + testX5U + ">;alg=ES256;ppt=shaken"}, code: "438", errPart: "base64"},
		{name: "438 not a JWS", ids: []string{"garbage;info=<" + testX5U + ">;alg=ES256;ppt=shaken"}, code: "438", errPart: "not a JWS"},
		{name: "438 compact form", ids: []string{"..c2ln;info=<" + testX5U + ">;alg=ES256;ppt=shaken"}, code: "438", errPart: "compact form"},
		{name: "438 header not JSON", ids: []string{fx.raw(`{"alg":"ES256",`, allFields(""))}, code: "438", errPart: "invalid JSON"},
		{name: "438 deep JSON", ids: []string{fx.raw(goodHeader, allFields("", `"x":`+strings.Repeat("[", 1500)+strings.Repeat("]", 1500)))}, code: "438", errPart: "nested"},
		{name: "438 huge header", ids: []string{strings.Repeat("A", MaxIdentityLen+1) + ";info=<" + testX5U + ">"}, code: "438", errPart: "more than"},
		{name: "438 empty header", ids: []string{""}, code: "438", errPart: "no token"},
		{name: "438 unterminated info", ids: []string{goodTok + ";info=<" + testX5U}, code: "438", errPart: "unterminated"},
		{name: "both fail: first reported", ids: []string{good(func(c *stirtest.Claims) { c.Orig = "19998887777" }), good(func(c *stirtest.Claims) { c.IAT = testNow.Add(-time.Hour) })}, code: "438", errPart: "orig.tn 19998887777"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Identities: tt.ids, Orig: caller, Dest: []string{called, called}, Date: tt.date, Now: testNow}
			if tt.orig != "" {
				in.Orig = tt.orig
			}
			if tt.dest != nil {
				in.Dest = tt.dest
			}
			if !tt.now.IsZero() {
				in.Now = tt.now
			}
			r := fx.v.Verify(context.Background(), in)
			want := tt.verstat
			if want == "" {
				want = VerstatFailed
			}
			if r.Verstat != want || r.ErrorCode != tt.code {
				t.Fatalf("verstat %q code %q, want %q %q (error %q)", r.Verstat, r.ErrorCode, want, tt.code, r.Error)
			}
			if tt.errPart != "" && !strings.Contains(r.Error, tt.errPart) {
				t.Errorf("error %q does not contain %q", r.Error, tt.errPart)
			}
			if tt.code != "" && !strings.HasPrefix(r.Error, tt.code+" ") {
				t.Errorf("error %q does not start with its code", r.Error)
			}
			if tt.code == "" && r.Error != "" {
				t.Errorf("error %q on success", r.Error)
			}
			if tt.attest != "" && r.Attest != tt.attest {
				t.Errorf("attest %q, want %q", r.Attest, tt.attest)
			}
			if tt.status != "" && r.Status != tt.status {
				t.Errorf("status %q, want %q", r.Status, tt.status)
			}
			if tt.spc != "" && r.SPC != tt.spc {
				t.Errorf("spc %q, want %q", r.SPC, tt.spc)
			}
			if r.Ignored != tt.ignored {
				t.Errorf("ignored %d, want %d", r.Ignored, tt.ignored)
			}
			if want == VerstatPassed {
				if r.OrigID == "" || r.X5U == "" || r.SPC != "707J" || r.Status != "TN-Validation-Passed-"+r.Attest {
					t.Errorf("incomplete result %+v", r)
				}
			}
		})
	}
}

// tamper signs c, then changes its origid and keeps the signature.
func tamper(p *stirtest.PKI, c stirtest.Claims) string {
	tok := stirtest.PASSporT(p.LeafKey, stirtest.ShakenHeader(testX5U), c)
	parts := strings.Split(tok, ".")
	c.OrigID = "tampered"
	parts[1] = stirtest.B64(c.Payload())
	return stirtest.IdentityHeader(strings.Join(parts, "."), testX5U)
}

func TestVerifyResultFields(t *testing.T) {
	fx := newFixture(t)
	c := goodClaims()
	c.OrigID = "my-origid"
	r := fx.v.Verify(context.Background(), Input{Identities: []string{fx.pki.Identity(stirtest.Good, testX5U, c)}, Orig: caller, Dest: []string{called}, Now: testNow})
	want := Result{Verstat: VerstatPassed, Attest: "A", OrigID: "my-origid", Status: "TN-Validation-Passed-A", SPC: "707J", X5U: testX5U}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
}

func TestVerifyNoTrustAnchors(t *testing.T) {
	fx := newFixture(t)
	v, err := NewVerifier(Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Verify(context.Background(), Input{Identities: []string{fx.pki.Identity(stirtest.Good, testX5U, goodClaims())}, Orig: caller, Dest: []string{called}, Now: testNow})
	if r.ErrorCode != "437" || !strings.Contains(r.Error, "no trust anchors") {
		t.Fatalf("%+v", r)
	}
	r = v.Verify(context.Background(), Input{Orig: caller, Dest: []string{called}})
	if r.Verstat != VerstatNone || r.ErrorCode != "428" {
		t.Fatalf("%+v", r)
	}
}

func TestNewVerifierErrors(t *testing.T) {
	fx := newFixture(t)
	empty := t.TempDir()
	many := t.TempDir() + "/many.pem"
	var nine []byte
	for i := 0; i < 9; i++ {
		nine = append(nine, stirtest.CertPEM(fx.pki.Leaf)...)
	}
	broken := t.TempDir() + "/broken"
	os.Mkdir(broken, 0o755)
	for path, data := range map[string][]byte{many: nine, broken + "/bad.pem": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing trust dir", Config{TrustDir: empty + "/nope"}, "trust anchors"},
		{"trust dir without certificates", Config{TrustDir: empty}, "no PEM certificates"},
		{"missing static file", Config{Static: map[string]string{testX5U: empty + "/nope.pem"}}, "static certificate"},
		{"static file not a certificate", Config{Static: map[string]string{testX5U: fx.files.Key[stirtest.Good]}}, "no certificate"},
		{"static chain too long", Config{Static: map[string]string{testX5U: many}}, "more than 8 certificates"},
		{"broken trust anchor", Config{TrustDir: broken}, "trust anchor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestVerifyMaxIdentities(t *testing.T) {
	fx := newFixture(t)
	var ids []string
	for i := 0; i < MaxIdentities; i++ {
		ids = append(ids, "garbage;info=<"+testX5U+">")
	}
	ids = append(ids, fx.pki.Identity(stirtest.Good, testX5U, goodClaims()))
	r := fx.v.Verify(context.Background(), Input{Identities: ids, Orig: caller, Dest: []string{called}, Now: testNow})
	if r.Verstat != VerstatFailed {
		t.Fatalf("header beyond MaxIdentities was examined: %+v", r)
	}
}

func TestVerifyDefaultNow(t *testing.T) {
	p := stirtest.NewT(t, stirtest.Options{})
	f := p.WriteFilesT(t)
	v, err := NewVerifier(Config{TrustDir: f.TrustDir, Static: f.Static(testBase)})
	if err != nil {
		t.Fatal(err)
	}
	c := goodClaims()
	c.IAT = time.Now()
	r := v.Verify(context.Background(), Input{Identities: []string{p.Identity(stirtest.Good, testX5U, c)}, Orig: caller, Dest: []string{called}})
	if r.Verstat != VerstatPassed {
		t.Fatal(r.Error)
	}
}

// TestVerifyTNAuthListWithNumbers: a certificate whose TNAuthList lists
// telephone numbers instead of an SPC signs only for those numbers.
func TestVerifyTNAuthListWithNumbers(t *testing.T) {
	fx := newFixture(t)
	tn, err := stirtest.TNAuthListTNs("12155551212")
	if err != nil {
		t.Fatal(err)
	}
	leaf, key, err := fx.pki.IssueLeaf("delegate", tn)
	if err != nil {
		t.Fatal(err)
	}
	path := fx.files.Dir + "/delegate.pem"
	if err := os.WriteFile(path, stirtest.CertPEM(leaf, fx.pki.Intermediate), 0o644); err != nil {
		t.Fatal(err)
	}
	x5u := testBase + "delegate.pem"
	v, err := NewVerifier(Config{TrustDir: fx.files.TrustDir, Static: map[string]string{x5u: path}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		orig, code string
	}{{"12155551212", ""}, {"12155551213", "437"}} {
		c := goodClaims()
		c.Orig = tt.orig
		id := stirtest.IdentityHeader(stirtest.PASSporT(key, stirtest.ShakenHeader(x5u), c), x5u)
		r := v.Verify(context.Background(), Input{Identities: []string{id}, Orig: tt.orig, Dest: []string{called}, Now: testNow})
		if r.ErrorCode != tt.code || r.SPC != "" {
			t.Errorf("orig %s: %+v", tt.orig, r)
		}
	}
}
