package stir

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// JOSEHeader is the protected header of a PASSporT (RFC 8225 section 4).
type JOSEHeader struct {
	// Alg is the signature algorithm; SHAKEN requires ES256.
	Alg string
	// Typ is the token type; PASSporTs say passport.
	Typ string
	// Ppt is the PASSporT extension; SHAKEN says shaken.
	Ppt string
	// X5U is the URL of the signer's certificate chain.
	X5U string
}

// PASSporT is a decoded PASSporT token: its header, claims and signature.
// Decoding checks syntax only; Verifier.Verify checks the values.
type PASSporT struct {
	Header JOSEHeader
	// Claims holds the SHAKEN claims; a claim that is absent is the zero
	// value (IAT is the zero time).
	Claims Claims
	// SigningInput is the base64url header and payload joined by ".", the
	// bytes the signature covers.
	SigningInput string
	// Signature is the decoded third part; ES256 requires 64 bytes R||S.
	Signature []byte
}

// ErrTokenSyntax is wrapped by every PASSporT decoding error.
var ErrTokenSyntax = errors.New("invalid PASSporT")

// tokenParts is a compact JWS split into its three base64url parts.
type tokenParts struct {
	header, payload, sig string
}

// splitToken splits a JWS compact serialization. The compact form of RFC
// 8224 section 7 (empty header and payload, rebuilt from the SIP message)
// is recognised and refused, since SHAKEN uses the full form.
func splitToken(tok string) (tokenParts, error) {
	d1 := strings.IndexByte(tok, '.')
	if d1 < 0 {
		return tokenParts{}, fmt.Errorf("%w: not a JWS (no \".\")", ErrTokenSyntax)
	}
	d2 := strings.IndexByte(tok[d1+1:], '.')
	if d2 < 0 {
		return tokenParts{}, fmt.Errorf("%w: not a JWS (two parts)", ErrTokenSyntax)
	}
	d2 += d1 + 1
	p := tokenParts{header: tok[:d1], payload: tok[d1+1 : d2], sig: tok[d2+1:]}
	if strings.IndexByte(p.sig, '.') >= 0 {
		return tokenParts{}, fmt.Errorf("%w: more than three parts (JWE is not supported)", ErrTokenSyntax)
	}
	if p.header == "" && p.payload == "" {
		return tokenParts{}, fmt.Errorf("%w: compact form (no header or payload) is not supported; SHAKEN uses the full form", ErrTokenSyntax)
	}
	if p.header == "" || p.payload == "" {
		return tokenParts{}, fmt.Errorf("%w: empty header or payload", ErrTokenSyntax)
	}
	return p, nil
}

// b64 is the JWS encoding: base64url without padding. Trailing "=" is
// tolerated, as some signers add it.
var b64 = base64.RawURLEncoding

func decodedLen(s string) int { return b64.DecodedLen(len(strings.TrimRight(s, "="))) }

func decodePart(dst []byte, s, what string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	n, err := b64.Decode(dst, []byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64url: %w", ErrTokenSyntax, what, err)
	}
	return dst[:n], nil
}

// decodeJSONParts decodes the header and payload into one string, so that
// the values read from them can be substrings of it.
func decodeJSONParts(p tokenParts) (hdr, payload string, err error) {
	hn, pn := decodedLen(p.header), decodedLen(p.payload)
	buf := make([]byte, hn+pn)
	h, err := decodePart(buf[:hn], p.header, "header")
	if err != nil {
		return "", "", err
	}
	pl, err := decodePart(buf[hn:], p.payload, "payload")
	if err != nil {
		return "", "", err
	}
	n := len(h) + copy(buf[len(h):], pl)
	// buf is fresh and never written again, so it can back the strings
	// without a copy; values read from them keep it alive.
	all := unsafe.String(unsafe.SliceData(buf), n)
	return all[:len(h)], all[len(h):], nil
}

// parseHeader reads the JOSE header object.
func parseHeader(s string) (JOSEHeader, error) {
	var h JOSEHeader
	r := jsonReader{s: s}
	var seen [4]bool
	err := r.object(func(key string) error {
		var dst *string
		var idx int
		switch key {
		case "alg":
			dst, idx = &h.Alg, 0
		case "typ":
			dst, idx = &h.Typ, 1
		case "ppt":
			dst, idx = &h.Ppt, 2
		case "x5u":
			dst, idx = &h.X5U, 3
		default:
			return r.skip()
		}
		if seen[idx] {
			return fmt.Errorf("%w: duplicate %q", errJSON, key)
		}
		seen[idx] = true
		v, err := r.str()
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*dst = v
		return nil
	})
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return h, fmt.Errorf("%w: header: %w", ErrTokenSyntax, err)
	}
	return h, nil
}

// maxIAT bounds the iat claim to dates a time.Time represents exactly.
const maxIAT = 1 << 40

// parseClaims reads the SHAKEN payload: attest, orig.tn, dest.tn, iat,
// origid. Other claims are skipped; a known claim of the wrong type is an
// error.
func parseClaims(s string) (Claims, error) {
	var c Claims
	r := jsonReader{s: s}
	var seen [5]bool
	once := func(i int, key string) error {
		if seen[i] {
			return fmt.Errorf("%w: duplicate %q", errJSON, key)
		}
		seen[i] = true
		return nil
	}
	err := r.object(func(key string) error {
		switch key {
		case "attest":
			if err := once(0, key); err != nil {
				return err
			}
			v, err := r.str()
			c.Attest = v
			return wrapClaim(key, err)
		case "origid":
			if err := once(1, key); err != nil {
				return err
			}
			v, err := r.str()
			c.OrigID = v
			return wrapClaim(key, err)
		case "iat":
			if err := once(2, key); err != nil {
				return err
			}
			num, err := r.number()
			if err != nil {
				return wrapClaim(key, err)
			}
			t, err := numericDate(num)
			c.IAT = t
			return wrapClaim(key, err)
		case "orig":
			if err := once(3, key); err != nil {
				return err
			}
			return wrapClaim(key, r.object(func(k string) error {
				if k != "tn" {
					return r.skip()
				}
				if c.Orig != "" {
					return fmt.Errorf("%w: duplicate \"tn\"", errJSON)
				}
				v, err := r.str()
				c.Orig = v
				return wrapClaim("tn", err)
			}))
		case "dest":
			if err := once(4, key); err != nil {
				return err
			}
			seenTN := false
			return wrapClaim(key, r.object(func(k string) error {
				if k != "tn" {
					return r.skip()
				}
				if seenTN {
					return fmt.Errorf("%w: duplicate \"tn\"", errJSON)
				}
				seenTN = true
				return wrapClaim("tn", r.array(func() error {
					v, err := r.str()
					if err == nil {
						c.Dest = append(c.Dest, v)
					}
					return err
				}))
			}))
		}
		return r.skip()
	})
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return c, fmt.Errorf("%w: payload: %w", ErrTokenSyntax, err)
	}
	return c, nil
}

func wrapClaim(key string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// numericDate converts a JWT NumericDate (seconds, possibly fractional).
func numericDate(num string) (time.Time, error) {
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n <= 0 || n > maxIAT {
			return time.Time{}, fmt.Errorf("%w: out of range", errJSON)
		}
		return time.Unix(n, 0), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxIAT {
		return time.Time{}, fmt.Errorf("%w: out of range", errJSON)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// ParsePASSporT decodes a PASSporT in JWS compact serialization: three
// base64url parts, a JSON header, a JSON payload and a signature. It checks
// syntax and the types of the claims it knows; values are checked by
// Verifier.Verify.
func ParsePASSporT(token string) (*PASSporT, error) {
	parts, err := splitToken(token)
	if err != nil {
		return nil, err
	}
	hs, ps, err := decodeJSONParts(parts)
	if err != nil {
		return nil, err
	}
	p := &PASSporT{SigningInput: token[:len(parts.header)+1+len(parts.payload)]}
	if p.Header, err = parseHeader(hs); err != nil {
		return nil, err
	}
	if p.Claims, err = parseClaims(ps); err != nil {
		return nil, err
	}
	sig := make([]byte, decodedLen(parts.sig))
	if p.Signature, err = decodePart(sig, parts.sig, "signature"); err != nil {
		return nil, err
	}
	return p, nil
}
