package stir

import (
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"

	"crypto/ecdsa"

	"github.com/xformd/xformd/stir/stirtest"
)

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		in      string
		want    Identity
		wantErr string
	}{
		{in: "a.b.c;info=<https://x/y.pem>;alg=ES256;ppt=shaken", want: Identity{Token: "a.b.c", Info: "https://x/y.pem", Alg: "ES256", Ppt: "shaken"}},
		{in: ` a.b.c ; Info = <https://x/y;v=1.pem> ; ALG=ES256 ; PPT="shaken";x=1;y`, want: Identity{Token: "a.b.c", Info: "https://x/y;v=1.pem", Alg: "ES256", Ppt: "shaken"}},
		{in: `a.b.c;info=https://x/y.pem;ppt="sh\"a"`, want: Identity{Token: "a.b.c", Info: "https://x/y.pem", Ppt: `sh"a`}},
		{in: "a.b.c", want: Identity{Token: "a.b.c"}},
		{in: "a.b.c;", want: Identity{Token: "a.b.c"}},
		{in: "", wantErr: "no token"},
		{in: ";info=<x>", wantErr: "no token"},
		{in: "a.b.c;info=<x", wantErr: "unterminated <"},
		{in: `a.b.c;ppt="shaken`, wantErr: "unterminated quoted"},
		{in: "a.b.c;info=<x>;info=<y>", wantErr: "info parameter repeated"},
		{in: "a.b.c;alg=ES256;alg=RS256", wantErr: "alg parameter repeated"},
		{in: "a.b.c;ppt=shaken;ppt=div", wantErr: "ppt parameter repeated"},
		{in: "a.b.c;=x", wantErr: "bad parameter"},
		{in: "a.b.c;info=<x> junk", wantErr: "unexpected"},
		{in: "a.b.c;alg=", wantErr: "empty value"},
		{in: strings.Repeat("x", MaxIdentityLen+1), wantErr: "more than"},
	}
	for _, tt := range tests {
		got, err := ParseIdentity(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrIdentitySyntax) {
				t.Errorf("ParseIdentity(%.40q) err %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseIdentity(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestCanonicalTN(t *testing.T) {
	tests := map[string]string{
		"12155551212":       "12155551212",
		"+12155551212":      "12155551212",
		"+1 (215) 555-1212": "12155551212",
		"1.215.555.1212":    "12155551212",
		"alice":             "",
		"1215*555":          "",
		"12+15":             "",
		"":                  "",
		"+":                 "",
		"+-":                "",
	}
	for in, want := range tests {
		if got := CanonicalTN(in); got != want {
			t.Errorf("CanonicalTN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseClaimsAndHeader(t *testing.T) {
	tests := []struct {
		payload string
		want    Claims
		wantErr string
	}{
		{payload: `{"attest":"A","dest":{"tn":["1","2"]},"iat":1700000000,"orig":{"tn":"3"},"origid":"x"}`, want: Claims{Attest: "A", Dest: []string{"1", "2"}, IAT: time.Unix(1700000000, 0), Orig: "3", OrigID: "x"}},
		{payload: ` { "origid" : "\ud83d\ude00\n" , "orig":{"uri":"sip:a@b","tn":"3"} } `, want: Claims{Orig: "3", OrigID: "\U0001F600\n"}},
		{payload: `{"iat":1.7e9}`, want: Claims{IAT: time.Unix(1700000000, 0)}},
		{payload: `{}`, want: Claims{}},
		{payload: `{"iat":-5}`, wantErr: "out of range"},
		{payload: `{"iat":1e300}`, wantErr: "out of range"},
		{payload: `{"iat":12 3}`, wantErr: "want , or }"},
		{payload: `{"iat":01}`, wantErr: "out of range"},
		{payload: `{"attest":1}`, wantErr: "want string"},
		{payload: `{"dest":{"tn":"1"}}`, wantErr: "want '['"},
		{payload: `{"dest":{"tn":[1]}}`, wantErr: "want string"},
		{payload: `{"orig":{"tn":"1","tn":"2"}}`, wantErr: "duplicate"},
		{payload: `{"a":1,}`, wantErr: "want object key"},
		{payload: `{"a":"\x"}`, wantErr: "invalid escape"},
		{payload: "{\"a\":\"\x01\"}", wantErr: "control character"},
		{payload: "{\"a\":\"\xff\"}", wantErr: "invalid UTF-8"},
		{payload: `{"a":"\ud800"}`, wantErr: "surrogate"},
		{payload: `{"a":tru}`, wantErr: "unexpected"},
		{payload: `{} {}`, wantErr: "trailing"},
		{payload: `[]`, wantErr: "want '{'"},
		{payload: `{"a":` + strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 21), wantErr: "nested"},
		{payload: ``, wantErr: "unexpected end"},
	}
	for _, tt := range tests {
		got, err := parseClaims(tt.payload)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrTokenSyntax) {
				t.Errorf("parseClaims(%.50q) err %v, want %q", tt.payload, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Attest != tt.want.Attest || got.Orig != tt.want.Orig || got.OrigID != tt.want.OrigID ||
			!got.IAT.Equal(tt.want.IAT) || strings.Join(got.Dest, ",") != strings.Join(tt.want.Dest, ",") {
			t.Errorf("parseClaims(%q) = %+v, %v; want %+v", tt.payload, got, err, tt.want)
		}
	}
	h, err := parseHeader(`{"alg":"ES256","crit":["x"],"ppt":"shaken","typ":"passport","x5u":"https://a/b"}`)
	if err != nil || h != (JOSEHeader{Alg: "ES256", Ppt: "shaken", Typ: "passport", X5U: "https://a/b"}) {
		t.Errorf("parseHeader: %+v %v", h, err)
	}
	for _, bad := range []string{`{"alg":"ES256","alg":"none"}`, `{"alg":null}`, `{"x5u":["a"]}`} {
		if _, err := parseHeader(bad); err == nil {
			t.Errorf("parseHeader(%s) accepted", bad)
		}
	}
}

// TestJSONReaderAgreesWithEncodingJSON: whatever the strict reader accepts
// is valid JSON, and the strings it returns are what encoding/json reads.
func TestJSONReaderAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{"origid":"a\u00e9\/\b\f\n\r\t\"\\z"}`,
		`{"origid":"\ud83d\ude00 ok"}`,
		`{"x":[1,-0.5,2E+3,true,false,null,{"y":{}}],"origid":"é"}`,
	} {
		c, err := parseClaims(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var std struct{ Origid string }
		if err := json.Unmarshal([]byte(s), &std); err != nil || std.Origid != c.OrigID {
			t.Errorf("%s: strict %q, encoding/json %q (%v)", s, c.OrigID, std.Origid, err)
		}
	}
	for _, s := range []string{"", "plain", `a"b\c`, "\x01<&>", "é\xff"} {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		if string(b) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, encoding/json %s", s, b, want)
		}
	}
}

func TestParsePASSporT(t *testing.T) {
	p := stirtest.NewT(t, stirtest.Options{})
	c := stirtest.Claims{Attest: "B", Orig: "1", Dest: []string{"2"}, IAT: time.Unix(1700000000, 0), OrigID: "o"}
	tok := stirtest.PASSporT(p.LeafKey, stirtest.ShakenHeader("https://a/b"), c)
	pp, err := ParsePASSporT(tok)
	if err != nil {
		t.Fatal(err)
	}
	if pp.Header.X5U != "https://a/b" || pp.Claims.Attest != "B" || len(pp.Signature) != 64 || pp.SigningInput != tok[:strings.LastIndexByte(tok, '.')] {
		t.Errorf("%+v", pp)
	}
	for _, bad := range []string{"a", "a.b", "a.b.c.d", "..c", ".b.c", "a..c", "e30.e30.!!", "e30.e30x.c", "eyJ9.e30.c"} {
		if _, err := ParsePASSporT(bad); err == nil || !errors.Is(err, ErrTokenSyntax) {
			t.Errorf("ParsePASSporT(%q) err %v", bad, err)
		}
	}
	// Padding is tolerated.
	parts := strings.Split(tok, ".")
	if _, err := ParsePASSporT(parts[0] + "==." + parts[1] + "." + parts[2] + "="); err != nil {
		t.Errorf("padded token: %v", err)
	}
}

func TestParseTNAuthList(t *testing.T) {
	explicit, _ := stirtest.TNAuthListValue("707J")
	implicit := []byte{0x30, 0x06, 0x80, 0x04, '7', '0', '7', 'J'}
	type rng struct {
		Start string `asn1:"ia5"`
		Count int
	}
	rangeInner, _ := asn1.Marshal(rng{"12155550000", 100})
	rangeEntry, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: rangeInner})
	oneInner, _ := asn1.MarshalWithParams("12155551212", "ia5")
	oneEntry, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: oneInner})
	mixed, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: append(append([]byte{}, rangeEntry...), oneEntry...)})
	tests := []struct {
		name    string
		der     []byte
		want    string
		wantErr string
	}{
		{"explicit spc", explicit, "spc=707J", ""},
		{"implicit spc", implicit, "spc=707J", ""},
		{"range and one", mixed, "range=12155550000+100 tn=12155551212", ""},
		{"empty", []byte{0x30, 0x00}, "", "empty"},
		{"not a sequence", []byte{0x04, 0x00}, "", "TNAuthList"},
		{"trailing", append(append([]byte{}, explicit...), 0), "", "trailing"},
		{"universal entry", []byte{0x30, 0x03, 0x16, 0x01, 'x'}, "", "class"},
		{"unknown tag", []byte{0x30, 0x03, 0x83, 0x01, 'x'}, "", "unknown entry"},
		{"empty spc", []byte{0x30, 0x02, 0x80, 0x00}, "", "empty"},
	}
	for _, tt := range tests {
		got, err := ParseTNAuthList(tt.der)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		var parts []string
		for _, s := range got.SPCs {
			parts = append(parts, "spc="+s)
		}
		for _, r := range got.Ranges {
			parts = append(parts, fmt.Sprintf("range=%s+%d", r.Start, r.Count))
		}
		for _, s := range got.TNs {
			parts = append(parts, "tn="+s)
		}
		if err != nil || strings.Join(parts, " ") != tt.want {
			t.Errorf("%s: %v %v, want %s", tt.name, parts, err, tt.want)
		}
	}
}

// TestRSToASN1 checks the hand-made DER against encoding/asn1 for values
// with leading zeros and high bits.
func TestRSToASN1(t *testing.T) {
	cases := [][64]byte{{}, {}, {}, {}}
	for i := range cases[1] {
		cases[1][i] = 0xff
	}
	cases[2][31], cases[2][63] = 1, 0x80
	for i := range cases[3] {
		cases[3][i] = byte(i * 7)
	}
	for _, sig := range cases {
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		want, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if got := rsToASN1(nil, &sig); string(got) != string(want) {
			t.Errorf("rsToASN1(%x) = %x, want %x", sig, got, want)
		}
	}
	// A real signature verifies through the conversion.
	p := stirtest.NewT(t, stirtest.Options{})
	tok := stirtest.SignRaw(p.LeafKey, []byte("{}"), []byte("{}"))
	parts, _ := splitToken(tok)
	var sig [64]byte
	if _, err := decodePart(sig[:], parts.sig, "sig"); err != nil {
		t.Fatal(err)
	}
	if !verifyES256(&p.LeafKey.PublicKey, parts, tok, &sig) {
		t.Error("valid signature rejected")
	}
	other := p.UntrustedLeafKey.Public().(*ecdsa.PublicKey)
	if verifyES256(other, parts, tok, &sig) {
		t.Error("signature verified with the wrong key")
	}
}

func TestCacheTTL(t *testing.T) {
	tests := []struct {
		hdr  []string
		want time.Duration
	}{
		{nil, time.Hour},
		{[]string{"max-age=300"}, 300 * time.Second},
		{[]string{"public, max-age=60"}, time.Minute},
		{[]string{"max-age=99999999"}, maxCacheTTL},
		{[]string{"no-store"}, 0},
		{[]string{"max-age=60", "no-cache"}, 0},
		{[]string{"max-age=abc"}, 0},
	}
	for _, tt := range tests {
		if got := cacheTTL(tt.hdr, time.Hour); got != tt.want {
			t.Errorf("cacheTTL(%q) = %s, want %s", tt.hdr, got, tt.want)
		}
	}
}

func TestForbiddenAddr(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "192.168.0.1": "private", "172.16.5.4": "private", "fd00::1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local",
		"0.0.0.0": "unspecified", "::": "unspecified", "239.1.1.1": "multicast", "100.64.1.1": "shared (CGNAT)",
		"8.8.8.8": "", "2001:4860:4860::8888": "",
	}
	for a, want := range tests {
		if got := forbiddenAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("forbiddenAddr(%s) = %q, want %q", a, got, want)
		}
	}
}

// TestASN1ToRS round-trips R||S values through DER, including values
// with leading zeros and high bits, and refuses malformed DER.
func TestASN1ToRS(t *testing.T) {
	cases := [][64]byte{{}, {}, {}}
	for i := range cases[0] {
		cases[0][i] = 0xff
	}
	cases[1][31], cases[1][32] = 1, 0x80
	for i := range cases[2] {
		cases[2][i] = byte(i*13 + 1)
	}
	for _, sig := range cases {
		var got [64]byte
		if !asn1ToRS(&got, rsToASN1(nil, &sig)) || got != sig {
			t.Errorf("round trip of %x gave %x", sig, got)
		}
	}
	for _, bad := range [][]byte{nil, {0x30, 0x06, 0x02, 0x01, 1, 0x02, 0x01}, {0x31, 0x06, 0x02, 0x01, 1, 0x02, 0x01, 1},
		append([]byte{0x30, 0x25, 0x02, 0x21}, make([]byte, 0x21+2)...)} {
		var got [64]byte
		if asn1ToRS(&got, bad) {
			t.Errorf("accepted %x", bad)
		}
	}
}

func TestTNAuthListCovers(t *testing.T) {
	spc := TNAuthList{SPCs: []string{"707J"}}
	tns := TNAuthList{TNs: []string{"12155551212"}, Ranges: []TNRange{{Start: "12155550000", Count: 100}}}
	tests := []struct {
		l    TNAuthList
		tn   string
		want bool
	}{
		{spc, "19998887777", true},
		{tns, "12155551212", true},
		{tns, "12155550000", true},
		{tns, "12155550099", true},
		{tns, "12155550100", false},
		{tns, "1215555000", false},
		{tns, "", false},
		{TNAuthList{}, "12155551212", false},
	}
	for _, tt := range tests {
		if got := tt.l.Covers(tt.tn); got != tt.want {
			t.Errorf("%+v.Covers(%q) = %v", tt.l, tt.tn, got)
		}
	}
}
