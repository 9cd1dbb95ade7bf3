package stir

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Claims are the SHAKEN PASSporT claims (RFC 8225 section 5, RFC 8588
// section 4): what Signer.Sign signs, and what ParsePASSporT decodes.
type Claims struct {
	// Attest is the attestation level: "A", "B" or "C".
	Attest string
	// Orig is the calling number (orig.tn).
	Orig string
	// Dest are the called numbers (dest.tn).
	Dest []string
	// IAT is when the PASSporT was issued; it is signed in whole seconds.
	IAT time.Time
	// OrigID is the origination identifier, a UUID by convention.
	OrigID string
}

// Signer is an authentication service (RFC 8224 section 6.1): it signs
// SHAKEN PASSporTs with a P-256 private key and names the certificate URL
// verifiers fetch. A Signer is safe for concurrent use.
type Signer struct {
	key    *ecdsa.PrivateKey
	x5u    string
	header string // base64url of the JOSE header, made once
	params string // ";info=<x5u>;alg=ES256;ppt=shaken"
}

// NewSigner makes a Signer from a PEM private key, PKCS#8 ("PRIVATE KEY")
// or SEC 1 ("EC PRIVATE KEY"; an "EC PARAMETERS" block before it, as
// `openssl ecparam -genkey` writes, is skipped), which must be ECDSA P-256,
// and the https (or http) URL of its certificate chain.
func NewSigner(keyPEM []byte, x5u string) (*Signer, error) {
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	if err := checkX5U(x5u); err != nil {
		return nil, err
	}
	hdr := appendJSONString([]byte(`{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":`), x5u)
	hdr = append(hdr, '}')
	return &Signer{
		key:    key,
		x5u:    x5u,
		header: b64.EncodeToString(hdr),
		params: ";info=<" + x5u + ">;alg=ES256;ppt=shaken",
	}, nil
}

// LoadSigner reads the private key from keyFile and calls NewSigner.
func LoadSigner(keyFile, x5u string) (*Signer, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("stir: signing key: %w", err)
	}
	s, err := NewSigner(data, x5u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return s, nil
}

// X5U returns the certificate URL the signer names.
func (s *Signer) X5U() string { return s.x5u }

// Public returns the signer's public key, to check it against a
// certificate.
func (s *Signer) Public() *ecdsa.PublicKey { return &s.key.PublicKey }

func parseKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("stir: signing key: no PEM private key found")
		}
		var key any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("stir: signing key: unsupported PEM block %q (want PRIVATE KEY or EC PRIVATE KEY)", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("stir: signing key: %w", err)
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("stir: signing key: %T is not an ECDSA P-256 key, which ES256 requires", key)
		}
		return ec, nil
	}
}

// checkX5U checks that a certificate URL is an absolute http(s) URL that
// can go into an Identity header unchanged.
func checkX5U(x5u string) error {
	u, err := url.Parse(x5u)
	if err != nil {
		return fmt.Errorf("stir: x5u: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("stir: x5u %q is not an absolute https URL", x5u)
	}
	if strings.ContainsAny(x5u, "<>\" \t\r\n") {
		return fmt.Errorf("stir: x5u %q contains characters not allowed in an Identity header", x5u)
	}
	return nil
}

// Sign builds and signs a SHAKEN PASSporT and returns the Identity header
// value: token;info=<x5u>;alg=ES256;ppt=shaken. Numbers are signed in
// canonical form (CanonicalTN); an empty OrigID gets a random UUID.
func (s *Signer) Sign(c Claims) (string, error) {
	if s == nil {
		return "", errors.New("stir: no signing key configured")
	}
	if c.Attest != "A" && c.Attest != "B" && c.Attest != "C" {
		return "", fmt.Errorf("stir: attest %q: want A, B or C", c.Attest)
	}
	orig := CanonicalTN(c.Orig)
	if orig == "" {
		return "", fmt.Errorf("stir: orig %q is not a telephone number", c.Orig)
	}
	if len(c.Dest) == 0 {
		return "", errors.New("stir: no destination number")
	}
	if c.IAT.IsZero() {
		return "", errors.New("stir: iat not set")
	}
	origID := c.OrigID
	if origID == "" {
		var err error
		if origID, err = NewUUID(); err != nil {
			return "", err
		}
	}
	p := make([]byte, 0, 160+len(origID))
	p = append(p, `{"attest":"`...)
	p = append(p, c.Attest...)
	p = append(p, `","dest":{"tn":[`...)
	for i, d := range c.Dest {
		tn := CanonicalTN(d)
		if tn == "" {
			return "", fmt.Errorf("stir: dest %q is not a telephone number", d)
		}
		if i > 0 {
			p = append(p, ',')
		}
		p = append(p, '"')
		p = append(p, tn...)
		p = append(p, '"')
	}
	p = append(p, `]},"iat":`...)
	p = strconv.AppendInt(p, c.IAT.Unix(), 10)
	p = append(p, `,"orig":{"tn":"`...)
	p = append(p, orig...)
	p = append(p, `"},"origid":`...)
	p = appendJSONString(p, origID)
	p = append(p, '}')

	hl, pl := len(s.header), b64.EncodedLen(len(p))
	out := make([]byte, 0, hl+1+pl+1+86+len(s.params))
	out = append(out, s.header...)
	out = append(out, '.')
	out = b64.AppendEncode(out, p)
	sum := sha256.Sum256(out)
	der, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", fmt.Errorf("stir: sign: %w", err)
	}
	var sig [64]byte
	if !asn1ToRS(&sig, der) {
		return "", errors.New("stir: sign: crypto/ecdsa returned a malformed signature")
	}
	out = append(out, '.')
	out = b64.AppendEncode(out, sig[:])
	out = append(out, s.params...)
	return string(out), nil
}

// NewUUID returns a random (version 4) UUID, the usual origid.
func NewUUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("stir: uuid: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:]), nil
}

// asn1ToRS converts the DER signature crypto/ecdsa produces, SEQUENCE {
// INTEGER r, INTEGER s }, into the 64-byte R||S of JWS ES256, without
// big.Int. Both values of a P-256 signature fit in 32 bytes.
func asn1ToRS(dst *[64]byte, der []byte) bool {
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return false
	}
	rest := der[2:]
	for half := 0; half < 2; half++ {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1]) > len(rest)-2 {
			return false
		}
		v := rest[2 : 2+int(rest[1])]
		rest = rest[2+len(v):]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > 32 {
			return false
		}
		copy(dst[half*32+32-len(v):half*32+32], v)
	}
	return len(rest) == 0
}
