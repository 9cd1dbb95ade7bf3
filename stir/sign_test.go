package stir

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xformd/xformd/stir/stirtest"
)

func TestNewSignerKeys(t *testing.T) {
	p := stirtest.NewT(t, stirtest.Options{})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalECPrivateKey(p384)
	ecParams := append([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"), stirtest.KeySEC1PEM(p.LeafKey)...)
	tests := []struct {
		name    string
		key     []byte
		x5u     string
		wantErr string
	}{
		{"PKCS#8", stirtest.KeyPEM(p.LeafKey), testX5U, ""},
		{"SEC 1", stirtest.KeySEC1PEM(p.LeafKey), testX5U, ""},
		{"SEC 1 after EC PARAMETERS", ecParams, testX5U, ""},
		{"http x5u", stirtest.KeyPEM(p.LeafKey), "http://cert.example.org/a.pem", ""},
		{"RSA key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}), testX5U, "not an ECDSA P-256 key"},
		{"P-384 key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384DER}), testX5U, "not an ECDSA P-256 key"},
		{"certificate instead of key", stirtest.CertPEM(p.Leaf), testX5U, "unsupported PEM block"},
		{"not PEM", []byte("hello"), testX5U, "no PEM private key"},
		{"broken PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), testX5U, "signing key"},
		{"relative x5u", stirtest.KeyPEM(p.LeafKey), "/cert.pem", "not an absolute https URL"},
		{"ftp x5u", stirtest.KeyPEM(p.LeafKey), "ftp://a/b", "not an absolute https URL"},
		{"x5u with >", stirtest.KeyPEM(p.LeafKey), "https://a/b>c", "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.key, tt.x5u)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !s.Public().Equal(&p.LeafKey.PublicKey) || s.X5U() != tt.x5u {
				t.Error("signer does not hold the key or x5u")
			}
		})
	}
}

func TestLoadSigner(t *testing.T) {
	fx := newFixture(t)
	if _, err := LoadSigner(fx.files.Key[stirtest.Good], testX5U); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(filepath.Join(t.TempDir(), "nope.pem"), testX5U); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := LoadSigner(fx.files.Chain[stirtest.Good], testX5U); err == nil || !strings.Contains(err.Error(), fx.files.Chain[stirtest.Good]) {
		t.Fatalf("error does not name the file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestSignVerifies(t *testing.T) {
	fx := newFixture(t)
	s, err := LoadSigner(fx.files.Key[stirtest.Good], testX5U)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		claims Claims
		in     Input
	}{
		{"A with origid", Claims{Attest: "A", Orig: "+1 215 555 1212", Dest: []string{"+12155550000"}, IAT: testNow, OrigID: "my-id"}, Input{Orig: caller, Dest: []string{called}}},
		{"B generated origid", Claims{Attest: "B", Orig: caller, Dest: []string{called}, IAT: testNow}, Input{Orig: caller, Dest: []string{called}}},
		{"C two destinations", Claims{Attest: "C", Orig: caller, Dest: []string{"19995550000", called}, IAT: testNow.Add(-30 * time.Second)}, Input{Orig: caller, Dest: []string{called}}},
		{"origid needing escapes", Claims{Attest: "A", Orig: caller, Dest: []string{called}, IAT: testNow, OrigID: "q\"<x>\\é"}, Input{Orig: caller, Dest: []string{called}}},
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.Sign(tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(id, ";info=<"+testX5U+">;alg=ES256;ppt=shaken") {
				t.Errorf("identity %q", id)
			}
			pp, err := ParsePASSporT(id[:strings.IndexByte(id, ';')])
			if err != nil {
				t.Fatal(err)
			}
			if pp.Header != (JOSEHeader{Alg: "ES256", Ppt: "shaken", Typ: "passport", X5U: testX5U}) {
				t.Errorf("header %+v", pp.Header)
			}
			if tt.claims.OrigID == "" && !uuidRE.MatchString(pp.Claims.OrigID) {
				t.Errorf("generated origid %q is not a UUID v4", pp.Claims.OrigID)
			} else if tt.claims.OrigID != "" && pp.Claims.OrigID != tt.claims.OrigID {
				t.Errorf("origid %q", pp.Claims.OrigID)
			}
			in := tt.in
			in.Identities, in.Now = []string{id}, testNow
			if r := fx.v.Verify(context.Background(), in); r.Verstat != VerstatPassed || r.Attest != tt.claims.Attest {
				t.Fatalf("%+v", r)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	p := stirtest.NewT(t, stirtest.Options{})
	s, err := NewSigner(stirtest.KeyPEM(p.LeafKey), testX5U)
	if err != nil {
		t.Fatal(err)
	}
	ok := Claims{Attest: "A", Orig: caller, Dest: []string{called}, IAT: testNow}
	tests := []struct {
		name string
		mod  func(*Claims)
		want string
	}{
		{"attest", func(c *Claims) { c.Attest = "a" }, "attest"},
		{"orig", func(c *Claims) { c.Orig = "alice" }, "orig"},
		{"no dest", func(c *Claims) { c.Dest = nil }, "no destination"},
		{"bad dest", func(c *Claims) { c.Dest = []string{"bob"} }, "dest"},
		{"no iat", func(c *Claims) { c.IAT = time.Time{} }, "iat"},
	}
	for _, tt := range tests {
		c := ok
		tt.mod(&c)
		if _, err := s.Sign(c); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v", tt.name, err)
		}
	}
	var nilSigner *Signer
	if _, err := nilSigner.Sign(ok); err == nil || !strings.Contains(err.Error(), "no signing key") {
		t.Errorf("nil signer: %v", err)
	}
}
