// Package sipmsg holds the SIP message operations xformd needs beyond what
// sipgo offers: header lookup that is case-insensitive and understands
// compact forms, removing or replacing every instance of a header, and
// display-name quoting.
//
// sipgo's RemoveHeader and ReplaceHeader match a header's exact spelling
// and act on the first instance only; a rule that says "remove X-Foo" must
// also remove "x-foo" and the second X-Foo.
package sipmsg

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// compact maps RFC 3261 (and extension) compact header forms to full names.
var compact = map[string]string{
	"a": "accept-contact",
	"b": "referred-by",
	"c": "content-type",
	"d": "request-disposition",
	"e": "content-encoding",
	"f": "from",
	"i": "call-id",
	"j": "reject-contact",
	"k": "supported",
	"l": "content-length",
	"m": "contact",
	"n": "identity-info",
	"o": "event",
	"r": "refer-to",
	"s": "subject",
	"t": "to",
	"u": "allow-events",
	"v": "via",
	"x": "session-expires",
	"y": "identity",
}

// fullNames gives the conventional spelling of headers added by compact
// name, so that `set_header k ...` adds "Supported".
var fullNames = map[string]string{
	"accept-contact": "Accept-Contact", "referred-by": "Referred-By", "content-type": "Content-Type",
	"request-disposition": "Request-Disposition", "content-encoding": "Content-Encoding",
	"reject-contact": "Reject-Contact", "supported": "Supported", "contact": "Contact",
	"identity-info": "Identity-Info", "event": "Event", "refer-to": "Refer-To", "subject": "Subject",
	"allow-events": "Allow-Events", "session-expires": "Session-Expires", "identity": "Identity",
	// The protected headers have compact forms too; without them
	// DisplayName("f") was "" and errors read "header  is protected".
	"from": "From", "to": "To", "call-id": "Call-ID", "content-length": "Content-Length", "via": "Via",
}

// protected are the headers rules may not set, add or remove: changing them
// breaks transactions and dialogs. From and To change only through the
// rewrite actions.
var protected = map[string]bool{
	"via": true, "from": true, "to": true, "call-id": true, "cseq": true,
	"content-length": true, "max-forwards": true,
}

// Message is the part of a SIP request or response that header
// operations need; *sip.Request and *sip.Response have it.
type Message interface {
	Headers() []sip.Header
	AppendHeader(sip.Header)
	RemoveHeader(name string) bool
	ReplaceHeader(sip.Header)
}

// Canonical returns the lower-case full name of a header name, expanding
// compact forms.
func Canonical(name string) string {
	if full, ok := Known(name); ok {
		return full
	}
	return lower(name)
}

// knownNames are the lower-case full names Known recognises without
// allocating: every compact form's header and the other headers xformd
// looks at on each call.
var knownNames = func() []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, full := range compact {
		add(full)
	}
	for _, n := range []string{"cseq", "max-forwards", "route", "record-route", "p-asserted-identity", "date", "allow", "accept", "user-agent", "reason"} {
		add(n)
	}
	return out
}()

// Known returns the lower-case full name of a well-known header given in
// any case or compact form ("F", "from", "FROM" -> "from"), without
// allocating; ok is false for other headers. Hot paths classify every
// header of every call with it.
func Known(name string) (canon string, ok bool) {
	if len(name) == 1 {
		c := name[0] | 0x20
		if c >= 'a' && c <= 'z' {
			full, ok := compact[string(rune(c))]
			return full, ok
		}
		return "", false
	}
	for _, k := range knownNames {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

// LowerTransport returns a transport name ("UDP", "tcp", ...) in lower
// case, without allocating for the usual ones.
func LowerTransport(t string) string {
	switch t {
	case "UDP", "udp":
		return "udp"
	case "TCP", "tcp":
		return "tcp"
	case "TLS", "tls":
		return "tls"
	case "WS", "ws":
		return "ws"
	case "WSS", "wss":
		return "wss"
	}
	return strings.ToLower(t)
}

// DisplayName returns the spelling to use when adding a header named name:
// compact forms become their full name, other names stay as written.
func DisplayName(name string) string {
	l := lower(name)
	if full, ok := compact[l]; ok {
		return fullNames[full]
	}
	return name
}

// IsProtected reports whether rules may not touch the header.
func IsProtected(name string) bool { return protected[Canonical(name)] }

// ValidName reports whether name is a syntactically valid header name (an
// RFC 3261 token).
func ValidName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isToken(name[i]) {
			return false
		}
	}
	return true
}

func isToken(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

// ValidValue reports whether v can be a header value: no CR, LF or NUL,
// which would let a variable's content inject headers.
func ValidValue(v string) bool {
	return strings.IndexAny(v, "\r\n\x00") < 0
}

// lower lowercases ASCII without allocating when s is already lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// Name is a header name prepared for repeated matching.
type Name struct {
	canon string
}

// MakeName prepares name for matching.
func MakeName(name string) Name { return Name{canon: Canonical(name)} }

// Matches reports whether a header name as found in a message is this name.
func (n Name) Matches(headerName string) bool {
	if len(headerName) == len(n.canon) && strings.EqualFold(headerName, n.canon) {
		return true
	}
	// Compact forms are single letters. (Testing every name of up to two
	// bytes through Canonical allocated for each "To" header.)
	if len(headerName) == 1 {
		c := headerName[0] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
		return compact[letters[c-'a':c-'a'+1]] == n.canon
	}
	return false
}

const letters = "abcdefghijklmnopqrstuvwxyz"

// String returns the canonical (lower-case, full) name.
func (n Name) String() string { return n.canon }

// First returns the first header of the message called n, or nil.
func First(m Message, n Name) sip.Header {
	for _, h := range m.Headers() {
		if n.Matches(h.Name()) {
			return h
		}
	}
	return nil
}

// Value returns the value of the first header called n, or "".
func Value(m Message, n Name) string {
	if h := First(m, n); h != nil {
		return h.Value()
	}
	return ""
}

// Count returns how many headers are called n.
func Count(m Message, n Name) int {
	k := 0
	for _, h := range m.Headers() {
		if n.Matches(h.Name()) {
			k++
		}
	}
	return k
}

// RemoveAll removes every header called n and returns how many it removed.
func RemoveAll(m Message, n Name) int {
	removed := 0
	for {
		var exact string
		for _, h := range m.Headers() {
			if n.Matches(h.Name()) {
				exact = h.Name()
				break
			}
		}
		if exact == "" || !m.RemoveHeader(exact) {
			return removed
		}
		removed++
	}
}

// Field is a header name prepared once, at rule compile time, for
// repeated Set and Add calls on the call path.
type Field struct {
	name    Name
	spelled string
	typed   bool
}

// MakeField prepares name. Compact forms are spelled out ("k" adds
// "Supported").
func MakeField(name string) Field {
	spelled := DisplayName(name)
	_, typed := sip.DefaultHeadersParser()[lower(spelled)]
	return Field{name: MakeName(name), spelled: spelled, typed: typed}
}

// Name returns the field's name for matching.
func (f Field) Name() Name { return f.name }

// New makes a header of this field with value. Headers that sipgo parses
// into typed structs (Contact, Route, Content-Type, ...) are parsed the same
// way, so that sipgo's accessors such as Contact() see them.
func (f Field) New(value string) (sip.Header, error) {
	return f.newSpelled(f.spelled, value)
}

func (f Field) newSpelled(spelled, value string) (sip.Header, error) {
	if !ValidName(spelled) {
		return nil, fmt.Errorf("invalid header name %q", spelled)
	}
	if !ValidValue(value) {
		return nil, fmt.Errorf("header %s value contains a line break or NUL", spelled)
	}
	if f.typed {
		hs, err := sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, []byte(spelled+": "+value))
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", spelled, err)
		}
		if len(hs) != 1 {
			return nil, fmt.Errorf("header %s: value holds %d headers, want one", spelled, len(hs))
		}
		return hs[0], nil
	}
	return sip.NewHeader(spelled, value), nil
}

// Set replaces every header of this field with one header of value. A
// single existing header is replaced in place, keeping its spelling;
// otherwise all are removed and the new header appended. It returns how many
// headers it replaced.
func (f Field) Set(m Message, value string) (int, error) {
	var existing sip.Header
	count := 0
	for _, h := range m.Headers() {
		if f.name.Matches(h.Name()) {
			if existing == nil {
				existing = h
			}
			count++
		}
	}
	spelled := f.spelled
	if existing != nil && !f.typed {
		spelled = existing.Name()
	}
	h, err := f.newSpelled(spelled, value)
	if err != nil {
		return 0, err
	}
	if count == 1 && h.Name() == existing.Name() {
		m.ReplaceHeader(h)
		return 1, nil
	}
	RemoveAll(m, f.name)
	m.AppendHeader(h)
	return count, nil
}

// Add appends a header of this field with value.
func (f Field) Add(m Message, value string) error {
	h, err := f.New(value)
	if err != nil {
		return err
	}
	m.AppendHeader(h)
	return nil
}

// NewHeader makes a header called name with value; see Field.New.
func NewHeader(name, value string) (sip.Header, error) { return MakeField(name).New(value) }

// Set replaces every header called name with one header of value; see
// Field.Set.
func Set(m Message, name, value string) (int, error) { return MakeField(name).Set(m, value) }

// Add appends a header called name with value.
func Add(m Message, name, value string) error { return MakeField(name).Add(m, value) }

// UnquoteDisplay turns a display name as sipgo stores it (the text between
// the quotes, escapes kept) into its plain value.
func UnquoteDisplay(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			i++
			c = raw[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// QuoteDisplay turns a plain display name into the form sipgo writes
// between quotes: backslash and double quote escaped, CR and LF (which
// cannot be escaped in a quoted-string) and NUL (which ValidValue refuses
// in any header, and which truncates headers in C-string based peers)
// replaced by spaces.
func QuoteDisplay(plain string) string {
	if strings.IndexAny(plain, "\"\\\r\n\x00") < 0 {
		return plain
	}
	var b strings.Builder
	b.Grow(len(plain) + 4)
	for i := 0; i < len(plain); i++ {
		switch c := plain[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r', '\n', 0:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// AddressUser returns the user part of a name-addr or addr-spec header
// value such as P-Asserted-Identity: "<sip:+1215@host>", "tel:+1215;x=y".
// For tel URIs the user is the number.
func AddressUser(value string) string {
	v := strings.TrimSpace(value)
	// A quoted display name may hold '<', '>' and ':' ("A<B" <sip:...>):
	// skip it before looking for the URI.
	if strings.HasPrefix(v, `"`) {
		v = skipQuoted(v)
	}
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = strings.TrimSpace(v)
	colon := strings.IndexByte(v, ':')
	if colon < 0 {
		return ""
	}
	scheme := strings.ToLower(v[:colon])
	rest := v[colon+1:]
	switch scheme {
	case "tel":
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			rest = rest[:i]
		}
		return rest
	case "sip", "sips":
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			return ""
		}
		user := rest[:at]
		if i := strings.IndexAny(user, ";:"); i >= 0 {
			user = user[:i]
		}
		return user
	}
	return ""
}

// skipQuoted returns what follows the quoted-string v starts with, or ""
// when the quote is not closed.
func skipQuoted(v string) string {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return v[i+1:]
		}
	}
	return ""
}

// URIUser returns the user of a URI: the user part of a sip/sips URI, or
// the number of a tel URI (the part before any parameter).
func URIUser(u *sip.Uri) string {
	if u.User != "" || u.Raw() == "" {
		return u.User
	}
	if u.Scheme != "tel" {
		return ""
	}
	raw := u.Raw()
	if i := strings.IndexByte(raw, ';'); i >= 0 {
		raw = raw[:i]
	}
	return raw
}

// SetURIUser replaces the user of a sip/sips URI, or the number of a tel
// URI, after checking that the new value is a valid RFC 3261 user (so a
// rewrite cannot break the message's syntax).
func SetURIUser(u *sip.Uri, user string) error {
	if !ValidUser(user) {
		return fmt.Errorf("%q is not a valid URI user: use letters, digits, -_.!~*'()&=+$,;?/ and %%XX escapes", user)
	}
	if u.Raw() != "" && u.Scheme != "tel" {
		// sipgo writes such a URI from Raw and ignores User: setting it
		// would silently change nothing.
		return fmt.Errorf("a %s: URI has no user part to set", u.Scheme)
	}
	if u.Scheme == "tel" && u.Raw() != "" {
		if user == "" {
			return fmt.Errorf("a tel URI cannot have an empty number")
		}
		raw := u.Raw()
		rest := ""
		if i := strings.IndexByte(raw, ';'); i >= 0 {
			rest = raw[i:]
		}
		var nu sip.Uri
		if err := sip.ParseUri("tel:"+user+rest, &nu); err != nil {
			return err
		}
		*u = nu
		return nil
	}
	if strings.HasPrefix(user, "//") {
		// sipgo reads "sip://..." as hierarchical slashes, not a user.
		return fmt.Errorf("%q is not a usable URI user: it cannot start with //", user)
	}
	u.User = user
	return nil
}

// ValidUser reports whether s is a valid RFC 3261 URI user:
// unreserved / escaped / user-unreserved characters. A '%' must start an
// escape of two hex digits ("50%" is not a valid user; "50%25" is).
func ValidUser(s string) bool {
	if len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// IsToken reports whether s is a non-empty RFC 3261 token.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isToken(s[i]) {
			return false
		}
	}
	return true
}

// ParamValue returns v in the form to store in sipgo's HeaderParams so that
// it is written as a valid parameter value: a token as it is, anything else
// as a quoted-string with backslash escapes. sipgo adds the quotes itself
// when a value holds a space or tab, so such values are stored escaped but
// unquoted.
func ParamValue(v string) string {
	if v == "" || IsToken(v) {
		return v
	}
	q := QuoteDisplay(v)
	// Test q, not v: QuoteDisplay turns CR and LF into spaces, which make
	// sipgo add quotes too.
	if strings.ContainsAny(q, " \t") {
		return q
	}
	return `"` + q + `"`
}

// UnquoteParam returns a header parameter value, as sipgo's HeaderParams
// holds it, without its quotes and escapes. A value with a space or tab but
// no surrounding quotes is one that ParamValue stored for sipgo to quote,
// so its escapes are removed too; UnquoteParam(ParamValue(v)) == v for
// every v without CR or LF.
func UnquoteParam(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return UnquoteDisplay(v[1 : len(v)-1])
	}
	if strings.ContainsAny(v, " \t") {
		return UnquoteDisplay(v)
	}
	return v
}
