package stirtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestPKIChains(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := NewT(t, Options{Now: now})
	roots := x509.NewCertPool()
	roots.AddCert(p.Root)
	tests := []struct {
		c     Credential
		ok    bool
		hasTN bool
	}{
		{Good, true, true},
		{Expired, false, true},
		{NoTNAuthList, true, false},
		{Untrusted, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.c.String(), func(t *testing.T) {
			inter := x509.NewCertPool()
			if tt.c == Untrusted {
				inter.AddCert(p.UntrustedRoot)
			} else {
				inter.AddCert(p.Intermediate)
			}
			_, err := p.Cert(tt.c).Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if (err == nil) != tt.ok {
				t.Fatalf("verify: err=%v, want ok=%v", err, tt.ok)
			}
			found := false
			for _, e := range p.Cert(tt.c).Extensions {
				if e.Id.Equal(OIDTNAuthList) {
					found = true
					// SEQUENCE { [0] { IA5String "707J" } }
					if got := hex.EncodeToString(e.Value); got != "3008a006160437303"+"74a" {
						t.Errorf("TNAuthList DER = %s", got)
					}
				}
			}
			if found != tt.hasTN {
				t.Errorf("TNAuthList present = %v, want %v", found, tt.hasTN)
			}
			if !p.Key(tt.c).PublicKey.Equal(p.Cert(tt.c).PublicKey) {
				t.Error("key does not match certificate")
			}
		})
	}
}

func TestIdentityVerifies(t *testing.T) {
	p := NewT(t, Options{})
	iat := time.Unix(1700000000, 0)
	id := p.Identity(Good, DefaultX5U, Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: iat, OrigID: "x"})
	tok, params, ok := strings.Cut(id, ";")
	if !ok || params != "info=<"+DefaultX5U+">;alg=ES256;ppt=shaken" {
		t.Fatalf("identity %q", id)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(hdr) != `{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"`+DefaultX5U+`"}` {
		t.Errorf("header %s", hdr)
	}
	pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if string(pl) != `{"attest":"A","dest":{"tn":["12155550000"]},"iat":1700000000,"orig":{"tn":"12155551212"},"origid":"x"}` {
		t.Errorf("payload %s", pl)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if len(sig) != 64 {
		t.Fatalf("signature length %d", len(sig))
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&p.LeafKey.PublicKey, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Error("signature does not verify")
	}
	der := SignDER(p.LeafKey, hdr, pl)
	dsig, _ := base64.RawURLEncoding.DecodeString(der[strings.LastIndexByte(der, '.')+1:])
	if !ecdsa.VerifyASN1(&p.LeafKey.PublicKey, h[:], dsig) {
		t.Error("DER signature does not verify")
	}
}

func TestWriteFiles(t *testing.T) {
	p := NewT(t, Options{})
	f := p.WriteFilesT(t)
	for _, c := range Credentials {
		data, err := os.ReadFile(f.Chain[c])
		if err != nil || !bytes.Equal(data, p.ChainPEM(c)) {
			t.Errorf("%s chain: %v", c, err)
		}
		key, err := os.ReadFile(f.Key[c])
		if err != nil || !bytes.Contains(key, []byte("BEGIN PRIVATE KEY")) {
			t.Errorf("%s key: %v", c, err)
		}
	}
	entries, err := os.ReadDir(f.TrustDir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("trust dir: %v %v", entries, err)
	}
	if s := f.Static("https://x.test/"); s["https://x.test/shaken.pem"] != f.Chain[Good] || len(s) != 4 {
		t.Errorf("static %v", s)
	}
}

func TestInviteParses(t *testing.T) {
	in := Invite{PAI: "12155559999", Date: "Sat, 13 Nov 2010 23:29:00 GMT", Identity: []string{"a.b.c;info=<https://x/y>", "d.e.f;info=<https://x/z>;ppt=div"}}
	msg, err := sip.ParseMessage(in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	if req.Recipient.User != "12155550000" || req.From().Address.User != "12155551212" {
		t.Errorf("users: %s %s", req.Recipient.User, req.From().Address.User)
	}
	if ids := req.GetHeaders("Identity"); len(ids) != 2 || ids[1].Value() != in.Identity[1] {
		t.Errorf("identity headers %v", ids)
	}
}
