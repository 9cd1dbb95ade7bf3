package stir

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// OIDTNAuthList is the TNAuthList certificate extension (RFC 8226 section
// 9), which SHAKEN certificates must carry.
var OIDTNAuthList = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 26}

// maxChainCerts bounds how many certificates an x5u document may hold.
const maxChainCerts = 8

// TNAuthList is the decoded TNAuthList extension: the Service Provider
// Codes and telephone numbers a certificate may sign for.
type TNAuthList struct {
	// SPCs are the Service Provider Code entries ([0]).
	SPCs []string
	// TNs are the single telephone number entries ([2]).
	TNs []string
	// Ranges are the telephone number range entries ([1]).
	Ranges []TNRange
}

// TNRange is a TelephoneNumberRange entry: Count numbers from Start.
type TNRange struct {
	// Start is the first number of the range.
	Start string
	// Count is how many consecutive numbers the range holds.
	Count int
}

// Covers reports whether a certificate with this list may sign for the
// telephone number tn (canonical form). A list with a Service Provider
// Code covers every number, as SHAKEN certificates do; otherwise tn must
// be one of the numbers or inside one of the ranges (RFC 8226 section 9).
func (l TNAuthList) Covers(tn string) bool {
	if len(l.SPCs) > 0 {
		return true
	}
	for _, n := range l.TNs {
		if CanonicalTN(n) == tn {
			return true
		}
	}
	for _, r := range l.Ranges {
		start := CanonicalTN(r.Start)
		if start == "" || len(start) != len(tn) || len(tn) > 18 || r.Count < 1 {
			continue
		}
		s, err1 := strconv.ParseUint(start, 10, 64)
		n, err2 := strconv.ParseUint(tn, 10, 64)
		if err1 == nil && err2 == nil && n >= s && n-s < uint64(r.Count) {
			return true
		}
	}
	return false
}

// ParseTNAuthList decodes the DER value of a TNAuthList extension:
//
//	TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
//	TNEntry ::= CHOICE { spc [0] ServiceProviderCode,
//	                     range [1] TelephoneNumberRange,
//	                     one [2] TelephoneNumber }
//
// The RFC 8226 module uses explicit tags; implicitly tagged entries, which
// some early certificates carry, are accepted too.
func ParseTNAuthList(der []byte) (TNAuthList, error) {
	var out TNAuthList
	var entries []asn1.RawValue
	rest, err := asn1.Unmarshal(der, &entries)
	if err != nil {
		return out, fmt.Errorf("TNAuthList: %w", err)
	}
	if len(rest) > 0 {
		return out, errors.New("TNAuthList: trailing data")
	}
	if len(entries) == 0 {
		return out, errors.New("TNAuthList: empty")
	}
	for _, e := range entries {
		if e.Class != asn1.ClassContextSpecific {
			return out, fmt.Errorf("TNAuthList: unexpected entry class %d tag %d", e.Class, e.Tag)
		}
		switch e.Tag {
		case 0, 2:
			var s string
			if e.IsCompound {
				if _, err := asn1.UnmarshalWithParams(e.Bytes, &s, "ia5"); err != nil {
					return out, fmt.Errorf("TNAuthList entry [%d]: %w", e.Tag, err)
				}
			} else {
				s = string(e.Bytes)
			}
			if s == "" {
				return out, fmt.Errorf("TNAuthList entry [%d]: empty", e.Tag)
			}
			if e.Tag == 0 {
				out.SPCs = append(out.SPCs, s)
			} else {
				out.TNs = append(out.TNs, s)
			}
		case 1:
			var r struct {
				Start string `asn1:"ia5"`
				Count int
			}
			body := e.FullBytes
			if e.IsCompound {
				body = e.Bytes
			}
			if _, err := asn1.Unmarshal(body, &r); err != nil {
				// An implicitly tagged range is the SEQUENCE's contents.
				seq := append([]byte{0x30}, e.FullBytes[1:]...)
				if _, err2 := asn1.Unmarshal(seq, &r); err2 != nil {
					return out, fmt.Errorf("TNAuthList range: %w", err)
				}
			}
			out.Ranges = append(out.Ranges, TNRange{Start: r.Start, Count: r.Count})
		default:
			return out, fmt.Errorf("TNAuthList: unknown entry tag [%d]", e.Tag)
		}
	}
	return out, nil
}

// loadTrust builds the trust-anchor pool from a directory of PEM files and
// a pool, and reports whether it holds any anchor.
func loadTrust(dir string, pool *x509.CertPool) (*x509.CertPool, bool, error) {
	out := x509.NewCertPool()
	has := false
	if pool != nil {
		out = pool.Clone()
		has = !pool.Equal(x509.NewCertPool())
	}
	if dir == "" {
		return out, has, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, fmt.Errorf("stir: trust anchors: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, false, fmt.Errorf("stir: trust anchors: %w", err)
		}
		certs, err := pemCertificates(data, 0)
		if err != nil {
			return nil, false, fmt.Errorf("stir: trust anchor %s: %w", path, err)
		}
		for _, c := range certs {
			out.AddCert(c)
		}
		n += len(certs)
	}
	if n == 0 {
		return nil, false, fmt.Errorf("stir: trust anchors: no PEM certificates in %s", dir)
	}
	return out, true, nil
}

// certEntry is a certificate URL's content, parsed once and shared by
// every call that names the URL: the leaf, its key, its intermediates and
// SPC, and a memo of the last chain verification. A failed fetch or parse
// is an entry too, with code and err set.
type certEntry struct {
	url    string
	leaf   *x509.Certificate
	pub    *ecdsa.PublicKey
	inter  *x509.CertPool
	spc    string
	tnList TNAuthList
	tnErr  error // TNAuthList missing or malformed
	code   int   // non-zero for a failure entry
	err    error
	expiry time.Time // cache expiry (real time); zero for static entries
	memo   atomic.Pointer[chainMemo]
}

// chainMemo remembers a chain verification: a success holds for every
// verification time inside the chain's common validity period; a failure
// is reused for verification times within failureTTL of when it happened.
type chainMemo struct {
	from, until time.Time
	err         error
	at          time.Time
}

// parseChain parses an x5u document: PEM certificates (leaf first, then
// intermediates), or a DER certificate sequence. It checks the leaf's key
// and decodes its TNAuthList.
func parseChain(url string, data []byte) *certEntry {
	fail := func(err error) *certEntry {
		return &certEntry{url: url, code: 437, err: err}
	}
	certs, err := pemCertificates(data, maxChainCerts)
	if err != nil {
		return fail(err)
	}
	if len(certs) == 0 {
		der, err := x509.ParseCertificates(data)
		if err != nil || len(der) == 0 {
			return fail(errors.New("no certificate (neither PEM nor DER)"))
		}
		if len(der) > maxChainCerts {
			return fail(fmt.Errorf("more than %d certificates", maxChainCerts))
		}
		certs = der
	}
	e := &certEntry{url: url, leaf: certs[0], inter: x509.NewCertPool()}
	for _, c := range certs {
		// TNAuthList is understood here; a CA that marks it critical must
		// not make crypto/x509 refuse the chain.
		c.UnhandledCriticalExtensions = removeOID(c.UnhandledCriticalExtensions, OIDTNAuthList)
	}
	for _, c := range certs[1:] {
		e.inter.AddCert(c)
	}
	pub, ok := e.leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fail(fmt.Errorf("certificate key is %s, not ECDSA P-256", e.leaf.PublicKeyAlgorithm))
	}
	e.pub = pub
	e.tnErr = errors.New("certificate has no TNAuthList extension (RFC 8226)")
	for _, ext := range e.leaf.Extensions {
		if ext.Id.Equal(OIDTNAuthList) {
			tn, err := ParseTNAuthList(ext.Value)
			switch {
			case err != nil:
				e.tnErr = fmt.Errorf("certificate %w", err)
			default:
				e.tnErr, e.tnList = nil, tn
				if len(tn.SPCs) > 0 {
					e.spc = tn.SPCs[0]
				}
			}
			break
		}
	}
	return e
}

// pemCertificates parses the CERTIFICATE blocks of PEM data, skipping
// other blocks; more than max certificates (if max > 0) is an error.
func pemCertificates(data []byte, max int) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return certs, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if max > 0 && len(certs) == max {
			return nil, fmt.Errorf("more than %d certificates", max)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
}

func removeOID(list []asn1.ObjectIdentifier, oid asn1.ObjectIdentifier) []asn1.ObjectIdentifier {
	out := list[:0]
	for _, o := range list {
		if !o.Equal(oid) {
			out = append(out, o)
		}
	}
	return out
}

// verifyChain checks the entry's chain against the anchors at time now,
// reusing the memo when it applies.
func (e *certEntry) verifyChain(roots *x509.CertPool, now time.Time, failureTTL time.Duration) error {
	if m := e.memo.Load(); m != nil {
		if m.err == nil && !now.Before(m.from) && !now.After(m.until) {
			return nil
		}
		if m.err != nil && absDuration(now.Sub(m.at)) <= failureTTL {
			return m.err
		}
	}
	chains, err := e.leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: e.inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			err = fmt.Errorf("certificate expired or not yet valid at %s: %w", now.UTC().Format(time.RFC3339), err)
		} else {
			err = fmt.Errorf("certificate not trusted: %w", err)
		}
		e.memo.Store(&chainMemo{err: err, at: now})
		return err
	}
	m := &chainMemo{from: e.leaf.NotBefore, until: e.leaf.NotAfter}
	for _, c := range chains[0] {
		if c.NotBefore.After(m.from) {
			m.from = c.NotBefore
		}
		if c.NotAfter.Before(m.until) {
			m.until = c.NotAfter
		}
	}
	e.memo.Store(m)
	return nil
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
