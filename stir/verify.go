// Package stir implements STIR/SHAKEN for SIP: the verification service
// that checks the Identity header of an INVITE (RFC 8224, RFC 8225, RFC
// 8588, RFC 8226, ATIS-1000074), and the authentication service that signs
// one.
//
// A Verifier is built once from a Config and shared by every call. It
// parses Identity headers and PASSporTs without reflection, fetches the
// signer's certificate from the x5u URL with the precautions an
// untrusted URL needs (https only, size and time limits, no internal
// addresses), caches it by URL with the chain already parsed, verifies the
// chain to the configured trust anchors and the ES256 signature, and
// reports the result in the terms rules and CDRs use: a verstat, the
// attestation, and an RFC 8224 / ATIS-1000074 error code.
package stir

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
	"unsafe"
)

// Verification statuses, the values of Result.Verstat (the verstat
// parameter of ATIS-1000074 / 3GPP TS 24.229).
const (
	VerstatPassed = "TN-Validation-Passed"
	VerstatFailed = "TN-Validation-Failed"
	VerstatNone   = "No-TN-Validation"
)

// Error codes of a failed verification (RFC 8224 section 13.2, ATIS-1000074
// section 5.3.2), the values of Result.ErrorCode.
const (
	CodeStaleDate       = "403" // iat or Date outside the freshness window
	CodeUseIdentity     = "428" // no Identity header with ppt=shaken
	CodeBadInfo         = "436" // info missing, x5u differs, certificate cannot be fetched
	CodeUnsupportedCred = "437" // untrusted/invalid/expired certificate, wrong alg or typ
	CodeInvalidHeader   = "438" // bad signature, bad or missing claims, wrong ppt, orig/dest mismatch
)

var reasons = map[int]string{
	403: "Stale Date",
	428: "Use Identity Header",
	436: "Bad Identity Info",
	437: "Unsupported Credential",
	438: "Invalid Identity Header",
}

var codes = map[int]string{403: CodeStaleDate, 428: CodeUseIdentity, 436: CodeBadInfo, 437: CodeUnsupportedCred, 438: CodeInvalidHeader}

// Defaults of the Config fields left zero.
const (
	DefaultFetchTimeout = 2 * time.Second
	DefaultMaxCertSize  = 16 << 10
	DefaultWindow       = 60 * time.Second
	DefaultCacheEntries = 1024
	DefaultFailureTTL   = 10 * time.Second
	DefaultCacheTTL     = time.Hour
)

// Config configures a Verifier. The zero value is valid and safe: no trust
// anchors (every signed call fails with 437), no fetching.
type Config struct {
	// TrustDir is a directory of PEM files whose certificates are the
	// trust anchors (the STI-PA's list of approved STI-CA roots).
	TrustDir string
	// Trust is a pool of further trust anchors.
	Trust *x509.CertPool
	// Static maps certificate URLs to local PEM files, read by NewVerifier:
	// those URLs are never fetched (offline use, dry runs, tests).
	Static map[string]string
	// AllowFetch permits fetching certificate URLs over the network.
	AllowFetch bool
	// AllowHTTP permits http:// certificate URLs (https only otherwise).
	AllowHTTP bool
	// AllowPrivate permits fetching from loopback, private, link-local,
	// CGNAT and other internal addresses; the URL comes from the caller,
	// so this is off by default.
	AllowPrivate bool
	// HTTPSRoots verifies the TLS servers of certificate URLs; nil means
	// the system roots.
	HTTPSRoots *x509.CertPool
	// FetchTimeout bounds one fetch, connect and read; default 2 s.
	FetchTimeout time.Duration
	// MaxCertSize bounds the fetched document; default 16 KiB.
	MaxCertSize int64
	// Window is the freshness window for iat and the Date header, both
	// directions; default 60 s.
	Window time.Duration
	// CacheEntries bounds the certificate cache; default 1024, negative
	// disables caching.
	CacheEntries int
	// CacheTTL is how long a certificate without Cache-Control max-age is
	// cached; default 1 h. Entries never outlive the certificate's
	// NotAfter, and max-age is capped at 24 h.
	CacheTTL time.Duration
	// FailureTTL is how long a failed fetch is remembered; default 10 s,
	// negative disables.
	FailureTTL time.Duration
	// Hooks are called on cache events, e.g. to count them in metrics.
	Hooks Hooks
}

// Hooks are optional callbacks for metrics; any may be nil. They are
// called synchronously and must be cheap.
type Hooks struct {
	// CacheHit: a fetched certificate was served from the cache.
	CacheHit func()
	// CacheMiss: a certificate URL had to be fetched.
	CacheMiss func()
	// FetchError: a fetch failed or returned no usable certificate.
	FetchError func()
}

// Verifier is a STIR/SHAKEN verification service. It is safe for
// concurrent use; build one and share it.
type Verifier struct {
	cfg        Config
	roots      *x509.CertPool
	hasAnchors bool
	static     map[string]*certEntry
	cache      *certCache
}

// NewVerifier checks cfg, loads the trust anchors and the static
// certificate files, and returns a Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.MaxCertSize <= 0 {
		cfg.MaxCertSize = DefaultMaxCertSize
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	if cfg.FailureTTL == 0 {
		cfg.FailureTTL = DefaultFailureTTL
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	roots, has, err := loadTrust(cfg.TrustDir, cfg.Trust)
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, roots: roots, hasAnchors: has, static: map[string]*certEntry{}}
	for u, path := range cfg.Static {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("stir: static certificate for %s: %w", u, err)
		}
		e := parseChain(u, data)
		if e.code != 0 {
			return nil, fmt.Errorf("stir: static certificate %s for %s: %w", path, u, e.err)
		}
		v.static[u] = e
	}
	v.cache = newCertCache(&v.cfg)
	return v, nil
}

// Close stops certificate fetches in flight and releases idle
// connections. The Verifier still answers afterwards, without fetching.
func (v *Verifier) Close() { v.cache.close() }

// Input is what verification needs from an INVITE.
type Input struct {
	// Identities are the values of the Identity headers, in order.
	Identities []string
	// Orig is the caller: the P-Asserted-Identity user if present, else
	// the From user.
	Orig string
	// Dest are the called numbers: the To user and the Request-URI user.
	Dest []string
	// Date is the Date header value, "" when absent.
	Date string
	// Now is the verification time; zero means time.Now().
	Now time.Time
}

// Result is the outcome of a verification, in the variables' terms.
type Result struct {
	// Verstat is VerstatPassed, VerstatFailed or VerstatNone.
	Verstat string
	// Attest is A, B or C from the claims, also on failure when the
	// claims could be read; else "".
	Attest string
	// OrigID is the origid claim.
	OrigID string
	// Status combines verstat and attest the way Twilio's StirVerstat
	// does: TN-Validation-Passed-A ... TN-Validation-Failed-C,
	// TN-Validation-Failed, No-TN-Validation.
	Status string
	// ErrorCode is "" on success, else "403", "428", "436", "437" or
	// "438".
	ErrorCode string
	// Error is a human-readable reason, e.g. "438 Invalid Identity
	// Header: orig.tn 12155550000 does not match caller 12155551212".
	Error string
	// SPC is the Service Provider Code from the signer's certificate.
	SPC string
	// X5U is the certificate URL.
	X5U string
	// Ignored counts Identity headers with another ppt (e.g. div), which
	// are not acted on.
	Ignored int
}

var passedStatus = map[string]string{"A": "TN-Validation-Passed-A", "B": "TN-Validation-Passed-B", "C": "TN-Validation-Passed-C"}
var failedStatus = map[string]string{"A": "TN-Validation-Failed-A", "B": "TN-Validation-Failed-B", "C": "TN-Validation-Failed-C"}

// fail records a failure with its code and reason.
func (r *Result) fail(code int, format string, args ...any) {
	r.Verstat = VerstatFailed
	r.ErrorCode = codes[code]
	r.Error = fmt.Sprintf("%d %s: %s", code, reasons[code], fmt.Sprintf(format, args...))
	if s, ok := failedStatus[r.Attest]; ok {
		r.Status = s
	} else {
		r.Status = VerstatFailed
	}
}

// Verify checks the SHAKEN Identity headers of a call. Headers whose ppt
// (parameter, or token header when the parameter is absent) is not shaken
// are counted in Ignored. Of the rest (at most MaxIdentities), the first
// that verifies gives the result; when none does, the first one's failure
// is reported. With none at all the result is No-TN-Validation, code 428.
//
// The checks run in this order, and the first that fails gives the code:
// Identity syntax (438); info present (436); alg parameter ES256 (437);
// token syntax (438); header alg ES256 and typ passport (437), ppt shaken
// (438), x5u present and equal to info (436); signature 64 bytes (438);
// claims present and well formed, attest A/B/C (438); orig.tn matches the
// caller and dest.tn holds a called number (438); iat and Date within the
// window (403); trust anchors configured, certificate available (436) and
// valid to an anchor at the verification time, with a TNAuthList that has
// an SPC or covers orig.tn (437); the
// ES256 signature (438).
//
// Verify waits for a certificate fetch no longer than ctx allows (nil
// means no limit beyond Config.FetchTimeout); a fetch that does not finish
// in time is a 436.
func (v *Verifier) Verify(ctx context.Context, in Input) Result {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var first Result
	tried := 0
	ignored := 0
	for _, value := range in.Identities {
		if tried == MaxIdentities {
			break
		}
		r, acted := v.verifyOne(ctx, value, &in)
		if !acted {
			ignored++
			continue
		}
		tried++
		if r.Verstat == VerstatPassed {
			r.Ignored = ignored
			return r
		}
		if tried == 1 {
			first = r
		}
	}
	if tried == 0 {
		r := Result{Verstat: VerstatNone, Status: VerstatNone, ErrorCode: CodeUseIdentity, Ignored: ignored}
		if ignored > 0 {
			r.Error = fmt.Sprintf("428 Use Identity Header: no Identity header with ppt=shaken (%d with another ppt ignored)", ignored)
		} else {
			r.Error = "428 Use Identity Header: no Identity header"
		}
		return r
	}
	first.Ignored = ignored
	return first
}

// verifyOne checks one Identity header; acted is false when the header is
// not a SHAKEN one.
func (v *Verifier) verifyOne(ctx context.Context, value string, in *Input) (r Result, acted bool) {
	id, err := ParseIdentity(value)
	if err != nil {
		r.fail(438, "%v", err)
		return r, true
	}
	if id.Ppt != "" && !strings.EqualFold(id.Ppt, "shaken") {
		return r, false
	}
	parts, perr := splitToken(id.Token)
	var hdr JOSEHeader
	var payload string
	if perr == nil {
		var hs string
		hs, payload, perr = decodeJSONParts(parts)
		if perr == nil {
			hdr, perr = parseHeader(hs)
		}
	}
	if id.Ppt == "" && perr == nil && hdr.Ppt != "" && hdr.Ppt != "shaken" {
		return r, false // e.g. a div PASSporT without the ppt parameter
	}
	r.X5U = id.Info
	if id.Info == "" {
		r.X5U = hdr.X5U
		r.fail(436, "info parameter missing")
		return r, true
	}
	if id.Alg != "" && id.Alg != "ES256" {
		r.fail(437, "alg parameter %q is not ES256", clip(id.Alg))
		return r, true
	}
	if perr != nil {
		r.fail(438, "%v", perr)
		return r, true
	}
	switch {
	case hdr.Alg != "ES256":
		r.fail(437, "PASSporT alg %q is not ES256", clip(hdr.Alg))
		return r, true
	case hdr.Typ != "passport":
		r.fail(437, "PASSporT typ %q is not passport", clip(hdr.Typ))
		return r, true
	case hdr.Ppt != "shaken":
		r.fail(438, "PASSporT ppt %q is not shaken", clip(hdr.Ppt))
		return r, true
	case hdr.X5U == "":
		r.fail(436, "PASSporT has no x5u")
		return r, true
	case hdr.X5U != id.Info:
		r.fail(436, "x5u %s differs from info %s", clip(hdr.X5U), clip(id.Info))
		return r, true
	}
	var sig [64]byte
	if n := b64.DecodedLen(len(strings.TrimRight(parts.sig, "="))); n != 64 {
		r.fail(438, "signature is %d bytes, not the 64-byte R||S of ES256 (DER-encoded?)", n)
		return r, true
	}
	if _, err := decodePart(sig[:], parts.sig, "signature"); err != nil {
		r.fail(438, "%v", err)
		return r, true
	}
	c, err := parseClaims(payload)
	if a := c.Attest; a == "A" || a == "B" || a == "C" {
		r.Attest = attestConst(a)
	}
	r.OrigID = c.OrigID
	if err != nil {
		r.OrigID = ""
		r.fail(438, "%v", err)
		return r, true
	}
	switch {
	case c.Attest == "":
		r.fail(438, "attest claim missing")
		return r, true
	case r.Attest == "":
		r.fail(438, "attest %q is not A, B or C", clip(c.Attest))
		return r, true
	case c.Orig == "":
		r.fail(438, "orig.tn claim missing")
		return r, true
	case len(c.Dest) == 0:
		r.fail(438, "dest.tn claim missing or empty")
		return r, true
	case c.IAT.IsZero():
		r.fail(438, "iat claim missing")
		return r, true
	case c.OrigID == "":
		r.fail(438, "origid claim missing")
		return r, true
	}
	orig := CanonicalTN(c.Orig)
	caller := CanonicalTN(in.Orig)
	if orig == "" || orig != caller {
		r.fail(438, "orig.tn %s does not match caller %s", clip(c.Orig), clip(in.Orig))
		return r, true
	}
	if !destMatches(c.Dest, in.Dest) {
		r.fail(438, "dest.tn %s does not contain the called number %s", clip(strings.Join(c.Dest, ",")), clip(strings.Join(in.Dest, " or ")))
		return r, true
	}
	if d := in.Now.Sub(c.IAT); absDuration(d) > v.cfg.Window {
		r.fail(403, "iat %d is %s from the verification time (window %s)", c.IAT.Unix(), d.Round(time.Second), v.cfg.Window)
		return r, true
	}
	if in.Date != "" {
		t, err := http.ParseTime(in.Date)
		if err != nil {
			r.fail(403, "Date header %q cannot be parsed", clip(in.Date))
			return r, true
		}
		if d := in.Now.Sub(t); absDuration(d) > v.cfg.Window {
			r.fail(403, "Date header is %s from the verification time (window %s)", d.Round(time.Second), v.cfg.Window)
			return r, true
		}
	}
	if !v.hasAnchors {
		r.fail(437, "no trust anchors configured")
		return r, true
	}
	e := v.certificate(ctx, id.Info)
	if e.code != 0 {
		r.fail(e.code, "%v", e.err)
		return r, true
	}
	r.SPC = e.spc
	if err := e.verifyChain(v.roots, in.Now, v.cfg.FailureTTL); err != nil {
		r.fail(437, "%v", err)
		return r, true
	}
	if e.tnErr != nil {
		r.fail(437, "%v", e.tnErr)
		return r, true
	}
	if !e.tnList.Covers(orig) {
		r.fail(437, "certificate TNAuthList has no SPC and does not cover orig.tn %s", orig)
		return r, true
	}
	if !verifyES256(e.pub, parts, id.Token, &sig) {
		r.fail(438, "signature does not verify with the certificate at %s", clip(id.Info))
		return r, true
	}
	r.Verstat = VerstatPassed
	r.Status = passedStatus[r.Attest]
	return r, true
}

// attestConst returns the constant spelling of an attestation level, so
// that results do not keep the decoded payload alive.
func attestConst(a string) string {
	switch a {
	case "A":
		return "A"
	case "B":
		return "B"
	}
	return "C"
}

func destMatches(claimed, called []string) bool {
	for _, d := range claimed {
		cd := CanonicalTN(d)
		if cd == "" {
			continue
		}
		for _, want := range called {
			if cd == CanonicalTN(want) {
				return true
			}
		}
	}
	return false
}

// certificate returns the entry for a certificate URL: static, cached or
// fetched.
func (v *Verifier) certificate(ctx context.Context, url string) *certEntry {
	if e, ok := v.static[url]; ok {
		return e
	}
	if !v.cfg.AllowFetch {
		return &certEntry{url: url, code: 436, err: fmt.Errorf("certificate %s is not configured locally and fetching is disabled", clip(url))}
	}
	// A cached URL passed checkURL when it was fetched.
	if e := v.cache.lookup(url); e != nil {
		return e
	}
	if err := v.cache.checkURL(url); err != nil {
		return &certEntry{url: url, code: 436, err: err}
	}
	return v.cache.get(ctx, url)
}

// verifyES256 checks a JWS ES256 signature: ECDSA P-256 with SHA-256 over
// the signing input, R||S in 64 bytes.
func verifyES256(pub *ecdsa.PublicKey, parts tokenParts, token string, sig *[64]byte) bool {
	input := token[:len(parts.header)+1+len(parts.payload)]
	// sha256 only reads its input: hash the string's bytes in place
	// rather than copying the token for every call.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(input), len(input)))
	var der [72]byte
	return ecdsa.VerifyASN1(pub, sum[:], rsToASN1(der[:0], sig))
}

// rsToASN1 encodes R||S as the DER SEQUENCE of two INTEGERs that
// crypto/ecdsa takes, without big.Int.
func rsToASN1(dst []byte, sig *[64]byte) []byte {
	r, s := asn1Int(sig[:32]), asn1Int(sig[32:])
	rl, sl := intLen(r), intLen(s)
	dst = append(dst, 0x30, byte(2+rl+2+sl))
	dst = appendInt(dst, r, rl)
	return appendInt(dst, s, sl)
}

func asn1Int(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func intLen(b []byte) int {
	if b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendInt(dst, b []byte, n int) []byte {
	dst = append(dst, 0x02, byte(n))
	if n > len(b) {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}
