// Package stirtest builds a throwaway STIR/SHAKEN public key infrastructure
// at run time and signs PASSporTs and SIP Identity headers with it, for
// tests, examples, daemon tests and load generators.
//
// Nothing here is checked in: every key and certificate is generated when
// New is called, so tests never break because a fixture expired. The PKI
// holds
//
//   - a trusted root CA and an intermediate CA under it,
//   - a SHAKEN leaf certificate with a TNAuthList extension (RFC 8226)
//     carrying the Service Provider Code, issued by the intermediate,
//   - an expired leaf (also with TNAuthList) from the same intermediate,
//   - a leaf without TNAuthList from the same intermediate,
//   - an untrusted root and a leaf (with TNAuthList) issued by it.
//
// The package depends only on the standard library (not on package stir),
// so that stir's own tests can use it, and so that it can produce tokens a
// correct verifier must refuse: wrong alg or typ, DER signatures, and so on.
package stirtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DefaultSPC is the Service Provider Code put in the TNAuthList of the
// generated leaf certificates when Options.SPC is empty.
const DefaultSPC = "707J"

// DefaultX5U is a conventional certificate URL for tests that map it to a
// local file (stir.Config.Static) instead of fetching it.
const DefaultX5U = "https://cert.example.org/shaken.pem"

// OIDTNAuthList is the TNAuthList certificate extension, id-pe-TNAuthList
// (RFC 8226 section 9).
var OIDTNAuthList = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 26}

// Options tune New. The zero value is fine.
type Options struct {
	// SPC is the Service Provider Code of the leaf certificates; default
	// DefaultSPC.
	SPC string
	// Now anchors the validity periods; default time.Now(). Valid
	// certificates run from Now-1h to Now+Validity; the expired leaf ran
	// from Now-48h to Now-24h.
	Now time.Time
	// Validity is how long the valid certificates last after Now; default
	// one year.
	Validity time.Duration
}

// Credential names one of the PKI's signing identities.
type Credential int

// The credentials a PKI can sign with.
const (
	// Good is the valid leaf with TNAuthList, chained to the trusted root.
	Good Credential = iota
	// Expired is a leaf with TNAuthList whose validity ended a day before
	// Options.Now.
	Expired
	// NoTNAuthList is a valid, trusted leaf without the TNAuthList
	// extension.
	NoTNAuthList
	// Untrusted is a valid leaf with TNAuthList issued by a root that is
	// not among the trust anchors.
	Untrusted
)

// String names the credential, as used in file names.
func (c Credential) String() string {
	switch c {
	case Good:
		return "shaken"
	case Expired:
		return "expired"
	case NoTNAuthList:
		return "notn"
	case Untrusted:
		return "untrusted"
	}
	return fmt.Sprintf("credential%d", int(c))
}

// Credentials lists every Credential, for loops in tests.
var Credentials = []Credential{Good, Expired, NoTNAuthList, Untrusted}

// PKI is a generated test PKI. Its fields are read-only after New.
type PKI struct {
	// SPC is the Service Provider Code in the leaves' TNAuthList.
	SPC string

	// Root is the trusted root CA (the trust anchor), Intermediate the CA
	// under it that issues the leaves, UntrustedRoot a self-signed CA no
	// verifier trusts; the *Key fields are their private keys.
	Root, Intermediate, UntrustedRoot          *x509.Certificate
	RootKey, IntermediateKey, UntrustedRootKey *ecdsa.PrivateKey
	// Leaf is the Good SHAKEN certificate (TNAuthList with SPC),
	// ExpiredLeaf its expired twin, NoTNLeaf one without TNAuthList, and
	// UntrustedLeaf one issued by UntrustedRoot; the keys follow in the
	// same order (see also Cert and Key).
	Leaf, ExpiredLeaf, NoTNLeaf, UntrustedLeaf     *x509.Certificate
	LeafKey, ExpiredKey, NoTNKey, UntrustedLeafKey *ecdsa.PrivateKey
}

// New generates a PKI. All keys are ECDSA P-256.
func New(opts Options) (*PKI, error) {
	if opts.SPC == "" {
		opts.SPC = DefaultSPC
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Validity <= 0 {
		opts.Validity = 365 * 24 * time.Hour
	}
	start, end := opts.Now.Add(-time.Hour), opts.Now.Add(opts.Validity)
	p := &PKI{SPC: opts.SPC}
	var err error
	if p.Root, p.RootKey, err = issue(nil, nil, caTemplate("xformd test root CA", start, end.Add(24*time.Hour))); err != nil {
		return nil, err
	}
	if p.Intermediate, p.IntermediateKey, err = issue(p.Root, p.RootKey, caTemplate("xformd test intermediate CA", start, end.Add(12*time.Hour))); err != nil {
		return nil, err
	}
	tn, err := TNAuthListValue(opts.SPC)
	if err != nil {
		return nil, err
	}
	if p.Leaf, p.LeafKey, err = issue(p.Intermediate, p.IntermediateKey, leafTemplate("SHAKEN "+opts.SPC, start, end, tn)); err != nil {
		return nil, err
	}
	if p.ExpiredLeaf, p.ExpiredKey, err = issue(p.Intermediate, p.IntermediateKey, leafTemplate("SHAKEN "+opts.SPC+" expired", opts.Now.Add(-48*time.Hour), opts.Now.Add(-24*time.Hour), tn)); err != nil {
		return nil, err
	}
	if p.NoTNLeaf, p.NoTNKey, err = issue(p.Intermediate, p.IntermediateKey, leafTemplate("SHAKEN "+opts.SPC+" without TNAuthList", start, end, nil)); err != nil {
		return nil, err
	}
	if p.UntrustedRoot, p.UntrustedRootKey, err = issue(nil, nil, caTemplate("xformd untrusted root CA", start, end.Add(24*time.Hour))); err != nil {
		return nil, err
	}
	if p.UntrustedLeaf, p.UntrustedLeafKey, err = issue(p.UntrustedRoot, p.UntrustedRootKey, leafTemplate("SHAKEN "+opts.SPC+" untrusted", start, end, tn)); err != nil {
		return nil, err
	}
	return p, nil
}

// NewT is New for tests: it fails tb on error.
func NewT(tb testing.TB, opts Options) *PKI {
	tb.Helper()
	p, err := New(opts)
	if err != nil {
		tb.Fatalf("stirtest: %v", err)
	}
	return p
}

// TNAuthListValue returns the DER value of a TNAuthList extension holding
// one Service Provider Code entry: SEQUENCE { [0] EXPLICIT IA5String }.
func TNAuthListValue(spc string) ([]byte, error) {
	type entry struct {
		SPC string `asn1:"explicit,tag:0,ia5"`
	}
	// A SEQUENCE OF a CHOICE: marshal the one entry as the element.
	inner, err := asn1.Marshal(entry{SPC: spc})
	if err != nil {
		return nil, fmt.Errorf("stirtest: TNAuthList: %w", err)
	}
	// entry marshals as SEQUENCE { [0] {...} }, which is exactly
	// TNAuthorizationList with one TNEntry.
	return inner, nil
}

// TNAuthListTNs returns the DER value of a TNAuthList extension holding
// single telephone numbers ([2] EXPLICIT IA5String entries) and no SPC, as
// a delegate certificate has.
func TNAuthListTNs(tns ...string) ([]byte, error) {
	var body []byte
	for _, tn := range tns {
		inner, err := asn1.MarshalWithParams(tn, "ia5")
		if err != nil {
			return nil, fmt.Errorf("stirtest: TNAuthList: %w", err)
		}
		e, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: inner})
		if err != nil {
			return nil, fmt.Errorf("stirtest: TNAuthList: %w", err)
		}
		body = append(body, e...)
	}
	der, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, fmt.Errorf("stirtest: TNAuthList: %w", err)
	}
	return der, nil
}

// IssueLeaf issues another leaf from the intermediate CA, valid like the
// Good leaf, with the given TNAuthList extension value (nil for none). Use
// it with CertPEM(leaf, p.Intermediate) for the x5u document.
func (p *PKI) IssueLeaf(cn string, tnAuthList []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	return issue(p.Intermediate, p.IntermediateKey, leafTemplate(cn, p.Leaf.NotBefore, p.Leaf.NotAfter, tnAuthList))
}

// nextSerial returns a random 127-bit serial number, as RFC 5280 allows,
// so that concurrent New calls never collide.
func nextSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("stirtest: serial: " + err.Error()) // only if crypto/rand fails
	}
	return n.Add(n, big.NewInt(1))
}

func caTemplate(cn string, from, to time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"xformd tests"}},
		NotBefore:             from,
		NotAfter:              to,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func leafTemplate(cn string, from, to time.Time, tnAuthList []byte) *x509.Certificate {
	t := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"xformd tests"}},
		NotBefore:             from,
		NotAfter:              to,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if tnAuthList != nil {
		t.ExtraExtensions = []pkix.Extension{{Id: OIDTNAuthList, Value: tnAuthList}}
	}
	return t
}

// issue makes a key and a certificate for tmpl, signed by parent (or self
// signed when parent is nil).
func issue(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("stirtest: generate key: %w", err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("stirtest: certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("stirtest: certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, key, nil
}

// CertPEM encodes certificates as concatenated PEM blocks.
func CertPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// KeyPEM encodes a private key as a PKCS#8 "PRIVATE KEY" PEM block.
func KeyPEM(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic("stirtest: PKCS#8: " + err.Error()) // cannot happen for P-256
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// KeySEC1PEM encodes a private key as a SEC 1 "EC PRIVATE KEY" PEM block,
// the form `openssl ecparam -genkey` writes.
func KeySEC1PEM(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic("stirtest: SEC 1: " + err.Error()) // cannot happen for P-256
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// Key returns the private key of a credential.
func (p *PKI) Key(c Credential) *ecdsa.PrivateKey {
	switch c {
	case Expired:
		return p.ExpiredKey
	case NoTNAuthList:
		return p.NoTNKey
	case Untrusted:
		return p.UntrustedLeafKey
	}
	return p.LeafKey
}

// Cert returns the leaf certificate of a credential.
func (p *PKI) Cert(c Credential) *x509.Certificate {
	switch c {
	case Expired:
		return p.ExpiredLeaf
	case NoTNAuthList:
		return p.NoTNLeaf
	case Untrusted:
		return p.UntrustedLeaf
	}
	return p.Leaf
}

// ChainPEM returns what the credential's x5u URL serves: the leaf followed
// by its issuing CA (the intermediate, or the untrusted root).
func (p *PKI) ChainPEM(c Credential) []byte {
	if c == Untrusted {
		return CertPEM(p.UntrustedLeaf, p.UntrustedRoot)
	}
	return CertPEM(p.Cert(c), p.Intermediate)
}

// RootPEM returns the trusted root certificate, the trust anchor.
func (p *PKI) RootPEM() []byte { return CertPEM(p.Root) }

// Files are the paths WriteFiles wrote.
type Files struct {
	// Dir is the directory everything was written to.
	Dir string
	// TrustDir holds only the trusted root (root.pem): the value for
	// stir.Config.TrustDir.
	TrustDir string
	// Root is the trusted root certificate; UntrustedRoot the other one.
	Root, UntrustedRoot string
	// Intermediate is the intermediate CA certificate alone.
	Intermediate string
	// Chain maps each credential to its PEM file of leaf + issuer (what
	// its x5u URL serves), e.g. Chain[stirtest.Good] = Dir/shaken.pem.
	Chain map[Credential]string
	// Key maps each credential to its PKCS#8 private key file.
	Key map[Credential]string
	// KeySEC1 is the Good leaf's key in SEC 1 form (EC PRIVATE KEY).
	KeySEC1 string
	// Leaf is the Good leaf certificate alone.
	Leaf string
}

// WriteFiles writes the PKI as PEM files into dir (created if needed):
// trust/root.pem, untrusted-root.pem, intermediate.pem, leaf.pem,
// <credential>.pem (leaf + issuer), <credential>-key.pem (PKCS#8) and
// shaken-key-sec1.pem.
func (p *PKI) WriteFiles(dir string) (*Files, error) {
	f := &Files{
		Dir:           dir,
		TrustDir:      filepath.Join(dir, "trust"),
		UntrustedRoot: filepath.Join(dir, "untrusted-root.pem"),
		Intermediate:  filepath.Join(dir, "intermediate.pem"),
		Leaf:          filepath.Join(dir, "leaf.pem"),
		KeySEC1:       filepath.Join(dir, "shaken-key-sec1.pem"),
		Chain:         map[Credential]string{},
		Key:           map[Credential]string{},
	}
	f.Root = filepath.Join(f.TrustDir, "root.pem")
	if err := os.MkdirAll(f.TrustDir, 0o755); err != nil {
		return nil, fmt.Errorf("stirtest: %w", err)
	}
	write := func(path string, data []byte, mode os.FileMode) error {
		if err := os.WriteFile(path, data, mode); err != nil {
			return fmt.Errorf("stirtest: %w", err)
		}
		return nil
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.Root, p.RootPEM(), 0o644},
		{f.UntrustedRoot, CertPEM(p.UntrustedRoot), 0o644},
		{f.Intermediate, CertPEM(p.Intermediate), 0o644},
		{f.Leaf, CertPEM(p.Leaf), 0o644},
		{f.KeySEC1, KeySEC1PEM(p.LeafKey), 0o600},
	}
	for _, c := range Credentials {
		f.Chain[c] = filepath.Join(dir, c.String()+".pem")
		f.Key[c] = filepath.Join(dir, c.String()+"-key.pem")
		files = append(files,
			struct {
				path string
				data []byte
				mode os.FileMode
			}{f.Chain[c], p.ChainPEM(c), 0o644},
			struct {
				path string
				data []byte
				mode os.FileMode
			}{f.Key[c], KeyPEM(p.Key(c)), 0o600})
	}
	for _, w := range files {
		if err := write(w.path, w.data, w.mode); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// WriteFilesT is WriteFiles into tb.TempDir() for tests: it fails tb on
// error.
func (p *PKI) WriteFilesT(tb testing.TB) *Files {
	tb.Helper()
	f, err := p.WriteFiles(tb.TempDir())
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return f
}

// Static returns a stir.Config.Static map that serves every credential's
// chain file from x5u URLs under base (e.g. "https://cert.example.org/"):
// base+"shaken.pem", base+"expired.pem", base+"notn.pem",
// base+"untrusted.pem".
func (f *Files) Static(base string) map[string]string {
	m := make(map[string]string, len(f.Chain))
	for c, path := range f.Chain {
		m[base+c.String()+".pem"] = path
	}
	return m
}

// Header is a PASSporT JOSE header. Empty fields are left out of the JSON,
// so tests can build headers without typ, x5u and so on.
type Header struct {
	Alg string `json:"alg,omitempty"`
	Ppt string `json:"ppt,omitempty"`
	Typ string `json:"typ,omitempty"`
	X5U string `json:"x5u,omitempty"`
}

// ShakenHeader is the standard SHAKEN header for a certificate URL:
// alg ES256, ppt shaken, typ passport.
func ShakenHeader(x5u string) Header {
	return Header{Alg: "ES256", Ppt: "shaken", Typ: "passport", X5U: x5u}
}

// Claims are the SHAKEN PASSporT claims (RFC 8225, RFC 8588). Orig and
// Dest are telephone numbers as they go into orig.tn and dest.tn.
type Claims struct {
	// Attest is the attestation level, normally A, B or C.
	Attest string
	// Orig is orig.tn, the calling number.
	Orig string
	// Dest is dest.tn, the called numbers.
	Dest []string
	// IAT is the iat claim, signed in whole seconds.
	IAT time.Time
	// OrigID is the origid claim.
	OrigID string
}

type tnObj struct {
	TN string `json:"tn"`
}

type tnList struct {
	TN []string `json:"tn"`
}

type payload struct {
	Attest string `json:"attest"`
	Dest   tnList `json:"dest"`
	IAT    int64  `json:"iat"`
	Orig   tnObj  `json:"orig"`
	OrigID string `json:"origid"`
}

// Payload returns the claims as PASSporT JSON, keys in lexicographic
// order as RFC 8225 section 9 recommends.
func (c Claims) Payload() []byte {
	dest := c.Dest
	if dest == nil {
		dest = []string{}
	}
	b, err := json.Marshal(payload{Attest: c.Attest, Dest: tnList{TN: dest}, IAT: c.IAT.Unix(), Orig: tnObj{TN: c.Orig}, OrigID: c.OrigID})
	if err != nil {
		panic("stirtest: " + err.Error()) // plain strings always marshal
	}
	return b
}

// JSON returns the header as JSON.
func (h Header) JSON() []byte {
	b, err := json.Marshal(h)
	if err != nil {
		panic("stirtest: " + err.Error())
	}
	return b
}

// B64 is base64url without padding, the JWS encoding.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// SignRaw builds a JWS compact serialization from raw header and payload
// bytes, exactly as given (they need not be valid JSON), signed ES256 with
// key: base64url(header) "." base64url(payload) "." base64url(R||S).
func SignRaw(key *ecdsa.PrivateKey, header, payload []byte) string {
	input := B64(header) + "." + B64(payload)
	return input + "." + B64(SignES256(key, []byte(input)))
}

// SignES256 returns the JWS ES256 signature of input: SHA-256, then ECDSA
// P-256, as 64 bytes R||S (RFC 7518 section 3.4).
func SignES256(key *ecdsa.PrivateKey, input []byte) []byte {
	h := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		panic("stirtest: ecdsa: " + err.Error()) // only if crypto/rand fails
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// SignDER is like SignRaw but with the ASN.1 DER signature encoding that
// JWS forbids; a verifier must refuse it.
func SignDER(key *ecdsa.PrivateKey, header, payload []byte) string {
	input := B64(header) + "." + B64(payload)
	h := sha256.Sum256([]byte(input))
	der, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		panic("stirtest: ecdsa: " + err.Error())
	}
	return input + "." + B64(der)
}

// PASSporT signs a SHAKEN PASSporT with the given header and claims.
func PASSporT(key *ecdsa.PrivateKey, h Header, c Claims) string {
	return SignRaw(key, h.JSON(), c.Payload())
}

// IdentityHeader returns the value of a SIP Identity header in the full
// form: token;info=<x5u>;alg=ES256;ppt=shaken.
func IdentityHeader(token, x5u string) string {
	return token + ";info=<" + x5u + ">;alg=ES256;ppt=shaken"
}

// Identity signs claims with a credential's key under the standard SHAKEN
// header for x5u and returns the Identity header value.
func (p *PKI) Identity(c Credential, x5u string, claims Claims) string {
	return IdentityHeader(PASSporT(p.Key(c), ShakenHeader(x5u), claims), x5u)
}

// Invite describes a SIP INVITE for tests. Empty fields get defaults.
type Invite struct {
	// From and To are the caller and called numbers (URI users), defaults
	// "12155551212" and "12155550000". RURI is the Request-URI user,
	// default To.
	From, To, RURI string
	// PAI, when set, adds P-Asserted-Identity: <sip:PAI@example.org>.
	PAI string
	// Date, when set, adds a Date header with this value.
	Date string
	// Identity adds one Identity header per element, in order.
	Identity []string
	// CallID defaults to a fixed value.
	CallID string
	// Extra headers, each a full "Name: value" line.
	Extra []string
}

// Bytes renders the INVITE as SIP message text with CRLF line ends and an
// empty body.
func (in Invite) Bytes() []byte {
	from, to := or(in.From, "12155551212"), or(in.To, "12155550000")
	ruri := or(in.RURI, to)
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:%s@xformd.example.org SIP/2.0\r\n", ruri)
	b.WriteString("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n")
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: \"Alice\" <sip:%s@carrier.example.com>;tag=1928301774\r\n", from)
	fmt.Fprintf(&b, "To: <sip:%s@xformd.example.org>\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", or(in.CallID, "a84b4c76e66710@192.0.2.10"))
	b.WriteString("CSeq: 314159 INVITE\r\n")
	b.WriteString("Contact: <sip:alice@192.0.2.10:5060>\r\n")
	if in.PAI != "" {
		fmt.Fprintf(&b, "P-Asserted-Identity: <sip:%s@carrier.example.com>\r\n", in.PAI)
	}
	if in.Date != "" {
		fmt.Fprintf(&b, "Date: %s\r\n", in.Date)
	}
	for _, id := range in.Identity {
		fmt.Fprintf(&b, "Identity: %s\r\n", id)
	}
	for _, h := range in.Extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
