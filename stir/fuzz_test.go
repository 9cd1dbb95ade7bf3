package stir

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xformd/xformd/stir/stirtest"
)

// FuzzParseIdentity feeds arbitrary Identity header values through the
// header parser and the PASSporT decoder. Seeds (testdata/fuzz/
// FuzzParseIdentity) hold hostile shapes: huge values, bad base64, deep
// JSON, alg none/HS256/RS256, compact form, DER signatures, odd quoting.
func FuzzParseIdentity(f *testing.F) {
	p := stirtest.NewT(f, stirtest.Options{})
	f.Add(p.Identity(stirtest.Good, testX5U, goodClaims()))
	f.Add(`a.b.c;info="<x>";ppt="shaken`)
	f.Fuzz(func(t *testing.T, value string) {
		id, err := ParseIdentity(value)
		if err != nil {
			return
		}
		if id.Token == "" || len(value) > MaxIdentityLen {
			t.Fatalf("accepted %q as %+v", value, id)
		}
		pp, err := ParsePASSporT(id.Token)
		if err != nil {
			return
		}
		if !strings.HasPrefix(id.Token, pp.SigningInput+".") {
			t.Fatalf("signing input %q is not a prefix of %q", pp.SigningInput, id.Token)
		}
		// What the strict reader accepts, encoding/json accepts too.
		parts, _ := splitToken(id.Token)
		h, pl, err := decodeJSONParts(parts)
		if err != nil || !json.Valid([]byte(h)) || !json.Valid([]byte(pl)) {
			t.Fatalf("strict reader accepted invalid JSON %q / %q (%v)", h, pl, err)
		}
	})
}

// FuzzVerify runs whole verifications on arbitrary Identity values with a
// static certificate (no network). Whatever comes in, the result is one of
// the defined outcomes with a consistent code, and nothing forged passes.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	for _, c := range stirtest.Credentials {
		f.Add(fx.pki.Identity(c, testBase+c.String()+".pem", goodClaims()), "")
	}
	f.Add(fx.pki.Identity(stirtest.Good, testX5U, goodClaims()), "Mon, 01 Jun 2026 12:00:00 GMT")
	f.Add("a.b.c;info=<https://127.0.0.1/x.pem>;alg=ES256;ppt=shaken", "")
	validCodes := map[string]bool{"403": true, "428": true, "436": true, "437": true, "438": true}
	f.Fuzz(func(t *testing.T, value, date string) {
		in := Input{Identities: []string{value}, Orig: caller, Dest: []string{called}, Date: date, Now: testNow}
		r := fx.v.Verify(context.Background(), in)
		switch r.Verstat {
		case VerstatPassed:
			if r.ErrorCode != "" || r.Error != "" || r.Status != "TN-Validation-Passed-"+r.Attest {
				t.Fatalf("inconsistent pass %+v", r)
			}
			// Only tokens signed by the good key pass.
			id, _ := ParseIdentity(value)
			pp, err := ParsePASSporT(id.Token)
			if err != nil || CanonicalTN(pp.Claims.Orig) != caller {
				t.Fatalf("passed %q: %+v (%v)", value, r, err)
			}
		case VerstatFailed:
			if !validCodes[r.ErrorCode] || r.ErrorCode == "428" || !strings.HasPrefix(r.Error, r.ErrorCode+" ") {
				t.Fatalf("inconsistent failure %+v", r)
			}
			if r.Status != VerstatFailed && r.Status != "TN-Validation-Failed-"+r.Attest {
				t.Fatalf("status %q with attest %q", r.Status, r.Attest)
			}
		case VerstatNone:
			if r.ErrorCode != "428" || r.Ignored != 1 {
				t.Fatalf("inconsistent none %+v", r)
			}
		default:
			t.Fatalf("verstat %q", r.Verstat)
		}
	})
}

// FuzzParseTNAuthList feeds arbitrary DER to the TNAuthList decoder, which
// reads an extension of a certificate fetched from an untrusted URL.
func FuzzParseTNAuthList(f *testing.F) {
	spc, _ := stirtest.TNAuthListValue("707J")
	tns, _ := stirtest.TNAuthListTNs("12155551212", "12155551213")
	f.Add(spc)
	f.Add(tns)
	f.Add([]byte{0x30, 0x06, 0x80, 0x04, '7', '0', '7', 'J'})
	f.Add([]byte{0x30, 0x0a, 0xa1, 0x08, 0x30, 0x06, 0x16, 0x01, '1', 0x02, 0x01, 0x05})
	f.Fuzz(func(t *testing.T, der []byte) {
		l, err := ParseTNAuthList(der)
		if err != nil {
			return
		}
		if len(l.SPCs)+len(l.TNs)+len(l.Ranges) == 0 {
			t.Fatalf("accepted an empty list from %x", der)
		}
		l.Covers("12155551212")
	})
}

// FuzzParseChain feeds arbitrary x5u documents to the chain parser.
func FuzzParseChain(f *testing.F) {
	p := stirtest.NewT(f, stirtest.Options{})
	for _, c := range stirtest.Credentials {
		f.Add(p.ChainPEM(c))
	}
	f.Add(p.Leaf.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := parseChain("https://x.example/c.pem", data)
		if e.code == 0 && (e.leaf == nil || e.pub == nil || e.inter == nil) {
			t.Fatalf("usable entry without leaf or key: %+v", e)
		}
		if e.code != 0 && e.err == nil {
			t.Fatal("failure without an error")
		}
	})
}
