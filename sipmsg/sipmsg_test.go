package sipmsg

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// invite is a request with headers spelled every way a peer may spell
// them: compact forms, odd case, repeated headers.
const invite = "INVITE sip:+12155551213@xformd.example.net SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"f: \"Alice\" <sip:+12155551212@carrier.example.com>;tag=1928301774\r\n" +
	"To: <sip:+12155551213@xformd.example.net>\r\n" +
	"i: a84b4c76e66710@192.0.2.10\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"m: <sip:alice@192.0.2.10:5060>\r\n" +
	"k: timer\r\n" +
	"Supported: 100rel\r\n" +
	"X-Foo: one\r\n" +
	"x-foo: two\r\n" +
	"X-FOO: three\r\n" +
	"X-Bar: bar\r\n" +
	"P-Asserted-Identity: \"Alice\" <sip:+12155559999@carrier.example.com>\r\n" +
	"Content-Length: 0\r\n" +
	"\r\n"

func parse(t testing.TB, raw string) *sip.Request {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parse INVITE: %v", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("parsed %T, want *sip.Request", msg)
	}
	return req
}

// names lists the header names of m in order.
func names(m Message) []string {
	var out []string
	for _, h := range m.Headers() {
		out = append(out, h.Name())
	}
	return out
}

// values lists the values of every header of m called name, in order.
func values(m Message, name string) []string {
	n := MakeName(name)
	var out []string
	for _, h := range m.Headers() {
		if n.Matches(h.Name()) {
			out = append(out, h.Value())
		}
	}
	return out
}

func TestCanonicalAndDisplayName(t *testing.T) {
	tests := []struct {
		in, canon, display string
	}{
		{"From", "from", "From"},
		{"f", "from", "From"},
		{"F", "from", "From"},
		{"t", "to", "To"},
		{"i", "call-id", "Call-ID"},
		{"l", "content-length", "Content-Length"},
		{"v", "via", "Via"},
		{"k", "supported", "Supported"},
		{"K", "supported", "Supported"},
		{"m", "contact", "Contact"},
		{"c", "content-type", "Content-Type"},
		{"e", "content-encoding", "Content-Encoding"},
		{"s", "subject", "Subject"},
		{"o", "event", "Event"},
		{"r", "refer-to", "Refer-To"},
		{"b", "referred-by", "Referred-By"},
		{"u", "allow-events", "Allow-Events"},
		{"x", "session-expires", "Session-Expires"},
		{"y", "identity", "Identity"},
		{"n", "identity-info", "Identity-Info"},
		{"a", "accept-contact", "Accept-Contact"},
		{"j", "reject-contact", "Reject-Contact"},
		{"d", "request-disposition", "Request-Disposition"},
		{"X-Foo", "x-foo", "X-Foo"},
		{"x-foo", "x-foo", "x-foo"},
		{"z", "z", "z"}, // not a compact form: kept as written
		{"Contact", "contact", "Contact"},
	}
	for _, tt := range tests {
		if got := Canonical(tt.in); got != tt.canon {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.canon)
		}
		if got := DisplayName(tt.in); got != tt.display {
			t.Errorf("DisplayName(%q) = %q, want %q", tt.in, got, tt.display)
		}
	}
	// Every compact form must have a display spelling: an empty one made
	// errors read "header  is protected".
	for short, full := range compact {
		d := DisplayName(short)
		if d == "" || !strings.EqualFold(d, full) {
			t.Errorf("DisplayName(%q) = %q, want a spelling of %q", short, d, full)
		}
	}
}

func TestIsProtected(t *testing.T) {
	for _, name := range []string{"Via", "v", "From", "f", "F", "to", "t", "Call-ID", "i", "CSeq", "cseq", "Content-Length", "l", "Max-Forwards", "MAX-FORWARDS"} {
		if !IsProtected(name) {
			t.Errorf("IsProtected(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"Contact", "m", "X-From", "Supported", "k", "Route", "P-Asserted-Identity", "Fro", ""} {
		if IsProtected(name) {
			t.Errorf("IsProtected(%q) = true, want false", name)
		}
	}
}

func TestNameMatches(t *testing.T) {
	tests := []struct {
		name, header string
		want         bool
	}{
		{"From", "From", true},
		{"From", "from", true},
		{"From", "FROM", true},
		{"From", "f", true},
		{"From", "F", true},
		{"f", "From", true},
		{"f", "f", true},
		{"Supported", "k", true},
		{"k", "Supported", true},
		{"k", "SUPPORTED", true},
		{"Contact", "m", true},
		{"m", "Contact", true},
		{"Call-ID", "i", true},
		{"X-Foo", "x-foo", true},
		{"X-Foo", "X-Fo", false},
		{"X-Foo", "X-Foo2", false},
		{"From", "t", false},
		{"f", "To", false},
		{"Supported", "Support", false},
		{"z", "Z", true},
		{"z", "x", false}, // x is Session-Expires
		{"Session-Expires", "x", true},
		{"To", "t", true},
		{"To", "To ", false},
		{"to", "ťo", false},
	}
	for _, tt := range tests {
		if got := MakeName(tt.name).Matches(tt.header); got != tt.want {
			t.Errorf("MakeName(%q).Matches(%q) = %v, want %v", tt.name, tt.header, got, tt.want)
		}
	}
	if got := MakeName("F").String(); got != "from" {
		t.Errorf("MakeName(F).String() = %q, want from", got)
	}
}

func TestValidName(t *testing.T) {
	good := []string{"X-Foo", "a", "P-Asserted-Identity", "x.y!%*_+`'~", strings.Repeat("a", 128)}
	bad := []string{"", "X Foo", "X:Foo", "X-Foo\r\nEvil", "X\x00", "Ä", "(x)", "x@y", strings.Repeat("a", 129)}
	for _, n := range good {
		if !ValidName(n) {
			t.Errorf("ValidName(%q) = false", n)
		}
	}
	for _, n := range bad {
		if ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
}

func TestIsToken(t *testing.T) {
	for _, s := range []string{"a", "TN-Validation-Passed", "1.2", "x!%*_+`'~"} {
		if !IsToken(s) {
			t.Errorf("IsToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", `a"b`, "a;b", "a,b", "a=b", "é", "a\tb"} {
		if IsToken(s) {
			t.Errorf("IsToken(%q) = true", s)
		}
	}
}

func TestValidValue(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"", true},
		{"plain value", true},
		{"tab\tinside", true},
		{"ünïcode", true},
		{"a\r\nX-Evil: 1", false},
		{"a\nX-Evil: 1", false},
		{"a\rb", false},
		{"nul\x00", false},
		{"\r\n", false},
	}
	for _, tt := range tests {
		if got := ValidValue(tt.v); got != tt.want {
			t.Errorf("ValidValue(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestFirstValueCount(t *testing.T) {
	req := parse(t, invite)
	tests := []struct {
		name  string
		value string
		count int
	}{
		{"X-Foo", "one", 3},
		{"x-FOO", "one", 3},
		{"Supported", "timer", 2}, // "k: timer" comes first
		{"k", "timer", 2},
		{"From", `"Alice" <sip:+12155551212@carrier.example.com>;tag=1928301774`, 1},
		{"f", `"Alice" <sip:+12155551212@carrier.example.com>;tag=1928301774`, 1},
		{"Call-ID", "a84b4c76e66710@192.0.2.10", 1},
		{"Contact", "<sip:alice@192.0.2.10:5060>", 1},
		{"X-Missing", "", 0},
	}
	for _, tt := range tests {
		n := MakeName(tt.name)
		if got := Value(req, n); got != tt.value {
			t.Errorf("Value(%s) = %q, want %q", tt.name, got, tt.value)
		}
		if got := Count(req, n); got != tt.count {
			t.Errorf("Count(%s) = %d, want %d", tt.name, got, tt.count)
		}
		if h := First(req, n); (h != nil) != (tt.count > 0) {
			t.Errorf("First(%s) = %v, want present=%v", tt.name, h, tt.count > 0)
		}
	}
}

func TestRemoveAll(t *testing.T) {
	tests := []struct {
		name    string
		removed int
	}{
		{"X-Foo", 3},
		{"x-foo", 3},
		{"Supported", 2},
		{"k", 2},
		{"m", 1},
		{"Contact", 1},
		{"X-Missing", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := parse(t, invite)
			before := len(req.Headers())
			n := MakeName(tt.name)
			if got := RemoveAll(req, n); got != tt.removed {
				t.Errorf("RemoveAll = %d, want %d", got, tt.removed)
			}
			if c := Count(req, n); c != 0 {
				t.Errorf("%d %s headers left: %v", c, tt.name, names(req))
			}
			if got := len(req.Headers()); got != before-tt.removed {
				t.Errorf("%d headers left, want %d: %v", got, before-tt.removed, names(req))
			}
			// The other headers are untouched and in order.
			if got := Value(req, MakeName("X-Bar")); got != "bar" {
				t.Errorf("X-Bar = %q after removing %s", got, tt.name)
			}
			if tt.name == "m" || tt.name == "Contact" {
				if c := req.Contact(); c != nil {
					t.Errorf("req.Contact() = %v after RemoveAll", c)
				}
			}
			// The serialised message has none left either.
			wire := strings.ToLower(req.String())
			if tt.removed > 0 && tt.name == "X-Foo" && strings.Contains(wire, "x-foo:") {
				t.Errorf("x-foo still on the wire:\n%s", wire)
			}
		})
	}
}

func TestFieldSet(t *testing.T) {
	tests := []struct {
		name     string
		field    string
		value    string
		replaced int
		// want is every header of the field after Set: name and value.
		want [][2]string
		// inPlace means the header keeps the first one's index.
		inPlace bool
	}{
		{name: "absent is added", field: "X-New", value: "v", replaced: 0,
			want: [][2]string{{"X-New", "v"}}},
		{name: "absent compact is added spelled out", field: "s", value: "hi", replaced: 0,
			want: [][2]string{{"Subject", "hi"}}},
		{name: "single replaced in place keeping spelling", field: "x-bar", value: "new", replaced: 1,
			want: [][2]string{{"X-Bar", "new"}}, inPlace: true},
		{name: "multiple become one", field: "X-Foo", value: "only", replaced: 3,
			want: [][2]string{{"X-Foo", "only"}}},
		{name: "multiple across compact and full", field: "Supported", value: "path", replaced: 2,
			want: [][2]string{{"k", "path"}}},
		{name: "typed Contact replaced in place", field: "Contact", value: "<sip:bob@198.51.100.7:5070>", replaced: 1,
			want: [][2]string{{"Contact", "<sip:bob@198.51.100.7:5070>"}}, inPlace: true},
		{name: "typed Contact by compact name", field: "m", value: "<sip:carol@198.51.100.8>", replaced: 1,
			want: [][2]string{{"Contact", "<sip:carol@198.51.100.8>"}}, inPlace: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := parse(t, invite)
			f := MakeField(tt.field)
			idx := indexOf(req, f.Name())
			got, err := f.Set(req, tt.value)
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if got != tt.replaced {
				t.Errorf("Set replaced %d, want %d", got, tt.replaced)
			}
			var have [][2]string
			for _, h := range req.Headers() {
				if f.Name().Matches(h.Name()) {
					have = append(have, [2]string{h.Name(), h.Value()})
				}
			}
			if len(have) != len(tt.want) {
				t.Fatalf("headers after Set = %v, want %v", have, tt.want)
			}
			for i := range have {
				if have[i] != tt.want[i] {
					t.Errorf("header %d = %v, want %v", i, have[i], tt.want[i])
				}
			}
			if tt.inPlace {
				if now := indexOf(req, f.Name()); now != idx {
					t.Errorf("header moved from index %d to %d", idx, now)
				}
			}
			// The message still parses, with the new value.
			again := parse(t, req.String())
			if v := Value(again, f.Name()); v != tt.value {
				t.Errorf("after a round trip %s = %q, want %q", tt.field, v, tt.value)
			}
		})
	}
}

func indexOf(m Message, n Name) int {
	for i, h := range m.Headers() {
		if n.Matches(h.Name()) {
			return i
		}
	}
	return -1
}

// TestFieldSetTypedContact checks that a Contact set by name is the typed
// header that sipgo's accessor returns, whether it replaced one or was
// added.
func TestFieldSetTypedContact(t *testing.T) {
	for _, remove := range []bool{false, true} {
		req := parse(t, invite)
		if remove {
			RemoveAll(req, MakeName("Contact"))
		}
		if _, err := MakeField("Contact").Set(req, `"Bob" <sip:bob@198.51.100.7:5070;transport=tcp>;expires=60`); err != nil {
			t.Fatal(err)
		}
		c := req.Contact()
		if c == nil {
			t.Fatalf("removed first=%v: req.Contact() = nil", remove)
		}
		if c.Address.User != "bob" || c.Address.Host != "198.51.100.7" || c.Address.Port != 5070 {
			t.Errorf("removed first=%v: Contact address = %+v", remove, c.Address)
		}
		if c.DisplayName != "Bob" {
			t.Errorf("removed first=%v: Contact display = %q", remove, c.DisplayName)
		}
		if got := Count(req, MakeName("m")); got != 1 {
			t.Errorf("removed first=%v: %d Contact headers", remove, got)
		}
	}
}

func TestFieldSetErrors(t *testing.T) {
	tests := []struct {
		field, value, want string
	}{
		{"X-Foo", "a\r\nX-Evil: 1", "line break"},
		{"X-Foo", "a\nb", "line break"},
		{"X-Foo", "nul\x00", "line break or NUL"},
		{"X Foo", "v", "invalid header name"},
		{"", "v", "invalid header name"},
		{"Contact", "not a uri <", "Contact"},
		{"Contact", "<sip:a@b>, <sip:c@d>", "want one"},
	}
	for _, tt := range tests {
		req := parse(t, invite)
		before := req.String()
		_, err := MakeField(tt.field).Set(req, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Set(%q, %q) error = %v, want it to mention %q", tt.field, tt.value, err, tt.want)
		}
		if after := req.String(); after != before {
			t.Errorf("Set(%q, %q) failed but changed the message:\n%s", tt.field, tt.value, after)
		}
		if err := MakeField(tt.field).Add(req, tt.value); err == nil {
			t.Errorf("Add(%q, %q) succeeded", tt.field, tt.value)
		}
		if after := req.String(); after != before {
			t.Errorf("Add(%q, %q) failed but changed the message", tt.field, tt.value)
		}
	}
}

func TestAdd(t *testing.T) {
	req := parse(t, invite)
	if err := Add(req, "X-Foo", "four"); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(values(req, "X-Foo"), ","), "one,two,three,four"; got != want {
		t.Errorf("X-Foo values = %s, want %s", got, want)
	}
	if err := Add(req, "k", "replaces"); err != nil {
		t.Fatal(err)
	}
	hs := req.Headers()
	if last := hs[len(hs)-1]; last.Name() != "Supported" || last.Value() != "replaces" {
		t.Errorf("Add(k) appended %s: %s, want Supported: replaces", last.Name(), last.Value())
	}
	if err := Add(req, "Route", "<sip:proxy.example.net;lr>"); err != nil {
		t.Fatal(err)
	}
	if r := req.Route(); r == nil || r.Address.Host != "proxy.example.net" {
		t.Errorf("req.Route() = %v after Add", r)
	}
	if _, err := Set(req, "X-Foo", "once"); err != nil {
		t.Fatal(err)
	}
	if got := values(req, "X-Foo"); len(got) != 1 || got[0] != "once" {
		t.Errorf("after Set X-Foo = %q", got)
	}
	h, err := NewHeader("m", "<sip:x@192.0.2.1>")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.(*sip.ContactHeader); !ok {
		t.Errorf("NewHeader(m) = %T, want *sip.ContactHeader", h)
	}
}

func TestDisplayQuoting(t *testing.T) {
	tests := []struct {
		plain, quoted string
	}{
		{"Alice", "Alice"},
		{"", ""},
		{`Say "hi"`, `Say \"hi\"`},
		{`back\slash`, `back\\slash`},
		{`\`, `\\`},
		{`"`, `\"`},
		{`\"`, `\\\"`},
		{"Ünïcode Ñame", "Ünïcode Ñame"},
		{"tab\tkept", "tab\tkept"},
	}
	for _, tt := range tests {
		if got := QuoteDisplay(tt.plain); got != tt.quoted {
			t.Errorf("QuoteDisplay(%q) = %q, want %q", tt.plain, got, tt.quoted)
		}
		if got := UnquoteDisplay(tt.quoted); got != tt.plain {
			t.Errorf("UnquoteDisplay(%q) = %q, want %q", tt.quoted, got, tt.plain)
		}
	}
	// Line breaks cannot be escaped in a quoted-string: they become spaces.
	if got := QuoteDisplay("a\r\nb\nc\x00d"); got != "a  b c d" {
		t.Errorf("QuoteDisplay with line breaks = %q", got)
	}
	// A trailing lone backslash is kept rather than dropped.
	if got := UnquoteDisplay(`abc\`); got != `abc\` {
		t.Errorf(`UnquoteDisplay("abc\") = %q`, got)
	}
}

// TestDisplayThroughSipgo checks that a quoted display name survives
// sipgo's writer and parser: what sipgo stores is what UnquoteDisplay reads.
func TestDisplayThroughSipgo(t *testing.T) {
	for _, plain := range []string{"Alice", `Say "hi" \ now`, `\\`, `"`, `A<B>C`, "x;y,z", "Ünïcode"} {
		req := parse(t, invite)
		req.From().DisplayName = QuoteDisplay(plain)
		again := parse(t, req.String())
		if got := UnquoteDisplay(again.From().DisplayName); got != plain {
			t.Errorf("display %q came back as %q (wire %q)", plain, got, again.From().Value())
		}
	}
}

func TestAddressUser(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"<sip:+12155559999@carrier.example.com>", "+12155559999"},
		{`"Alice" <sip:+12155559999@carrier.example.com>`, "+12155559999"},
		{`Alice <sips:alice@example.com>;tag=x`, "alice"},
		{"sip:bob@example.com", "bob"},
		{"SIP:Bob@example.com", "Bob"},
		{"sip:bob:secret@example.com", "bob"},
		{"sip:+1215;npdi;rn=+1215555@example.com;user=phone", "+1215"},
		{"tel:+12155559999", "+12155559999"},
		{"<tel:+12155559999;npdi>", "+12155559999"},
		{"TEL:+12155559999;ext=1", "+12155559999"},
		{"  <sip:pad@example.com>  ", "pad"},
		{"sip:example.com", ""},
		{"<sip:example.com>", ""},
		{"urn:service:sos", ""},
		{"mailto:a@b", ""},
		{"garbage", ""},
		{"", ""},
		{"<", ""},
		{`"unclosed <sip:a@b>`, ""},
		// A quoted display name may contain <, > and : itself.
		{`"A<B" <sip:+12155550000@example.com>`, "+12155550000"},
		{`"x:y>" <tel:+1999>`, "+1999"},
		{`"say \"<hi>\"" <sip:q@example.com>`, "q"},
	}
	for _, tt := range tests {
		if got := AddressUser(tt.in); got != tt.want {
			t.Errorf("AddressUser(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestURIUser(t *testing.T) {
	tests := []struct {
		uri, want string
	}{
		{"sip:+12155551212@carrier.example.com", "+12155551212"},
		{"sips:alice@example.com;transport=tls", "alice"},
		{"sip:example.com", ""},
		{"tel:+12155551212", "+12155551212"},
		{"tel:+12155551212;npdi;rn=+1215", "+12155551212"},
		{"TEL:5551212;phone-context=+1215", "5551212"},
		{"urn:service:sos", ""},
	}
	for _, tt := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tt.uri, &u); err != nil {
			t.Fatalf("ParseUri(%q): %v", tt.uri, err)
		}
		if got := URIUser(&u); got != tt.want {
			t.Errorf("URIUser(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
	if got := URIUser(&sip.Uri{}); got != "" {
		t.Errorf("URIUser(zero) = %q", got)
	}
}

func TestSetURIUser(t *testing.T) {
	tests := []struct {
		uri, user string
		want      string // the URI written back; "" when an error is expected
		wantErr   string
	}{
		{uri: "sip:+12155551212@carrier.example.com", user: "2155551212", want: "sip:2155551212@carrier.example.com"},
		{uri: "sips:alice@example.com;transport=tls", user: "bob", want: "sips:bob@example.com;transport=tls"},
		{uri: "sip:example.com", user: "carol", want: "sip:carol@example.com"},
		{uri: "sip:alice@example.com", user: "", want: "sip:example.com"},
		{uri: "sip:alice@example.com", user: "a-b_c.d!e~f*g'h(i)j&k=l+m$n,o;p?q/r%20", want: "sip:a-b_c.d!e~f*g'h(i)j&k=l+m$n,o;p?q/r%20@example.com"},
		{uri: "tel:+12155551212", user: "+442079460000", want: "tel:+442079460000"},
		{uri: "tel:+12155551212;npdi;rn=+1215", user: "+19995550000", want: "tel:+19995550000;npdi;rn=+1215"},
		{uri: "tel:+12155551212", user: "", wantErr: "empty number"},
		{uri: "sip:alice@example.com", user: "a@b", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: "a b", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: "a:b", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: "a\r\nX: y", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: "<x>", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: "50%", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: "%zz", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: "ü", wantErr: "not a valid URI user"},
		{uri: "sip:alice@example.com", user: strings.Repeat("1", 257), wantErr: "not a valid URI user"},
		{uri: "urn:service:sos", user: "x", wantErr: "no user part"},
		// Found by FuzzSetURIUser: sipgo reads sip://x@h as slashes.
		{uri: "sip:alice@example.com", user: "//x", wantErr: "cannot start with //"},
		{uri: "sip:alice@example.com", user: "/x", want: "sip:/x@example.com"},
	}
	for _, tt := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tt.uri, &u); err != nil {
			t.Fatalf("ParseUri(%q): %v", tt.uri, err)
		}
		before := u.String()
		err := SetURIUser(&u, tt.user)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SetURIUser(%q, %q) error = %v, want %q", tt.uri, tt.user, err, tt.wantErr)
			}
			if u.String() != before {
				t.Errorf("SetURIUser(%q, %q) failed but changed the URI to %s", tt.uri, tt.user, u.String())
			}
			continue
		}
		if err != nil {
			t.Errorf("SetURIUser(%q, %q): %v", tt.uri, tt.user, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("SetURIUser(%q, %q) = %s, want %s", tt.uri, tt.user, got, tt.want)
		}
		// What was written parses back to the same user.
		var back sip.Uri
		if err := sip.ParseUri(u.String(), &back); err != nil {
			t.Errorf("%s does not parse: %v", u.String(), err)
		} else if got := URIUser(&back); got != tt.user {
			t.Errorf("URIUser after SetURIUser(%q, %q) = %q", tt.uri, tt.user, got)
		}
	}
}

func TestValidUser(t *testing.T) {
	for _, s := range []string{"", "alice", "+12155551212", "a%20b", "%7E", "-_.!~*'()&=+$,;?/"} {
		if !ValidUser(s) {
			t.Errorf("ValidUser(%q) = false", s)
		}
	}
	for _, s := range []string{"a b", "a@b", "a:b", "%", "%2", "%2g", "a%", "\x00", "é", "[::1]", `"`, "<", strings.Repeat("a", 257)} {
		if ValidUser(s) {
			t.Errorf("ValidUser(%q) = true", s)
		}
	}
}

func TestParamValue(t *testing.T) {
	tests := []struct {
		in, stored string
	}{
		{"TN-Validation-Passed", "TN-Validation-Passed"},
		{"", ""},
		{"a,b", `"a,b"`},
		{`x"y`, `"x\"y"`},
		{`back\`, `"back\\"`},
		{"é", `"é"`},
		// sipgo quotes values with spaces itself: stored escaped, unquoted.
		{"a b", "a b"},
		{`Say "hi"`, `Say \"hi\"`},
		{"a\tb", "a\tb"},
		// Line breaks become spaces, so sipgo quotes those too.
		{"a\nb", "a b"},
		{"nul\x00", "nul "},
	}
	for _, tt := range tests {
		got := ParamValue(tt.in)
		if got != tt.stored {
			t.Errorf("ParamValue(%q) = %q, want %q", tt.in, got, tt.stored)
		}
		if strings.ContainsAny(tt.in, "\r\n\x00") {
			continue
		}
		if back := UnquoteParam(got); back != tt.in {
			t.Errorf("UnquoteParam(ParamValue(%q)) = %q", tt.in, back)
		}
	}
	for in, want := range map[string]string{`"a b"`: "a b", `"x\"y"`: `x"y`, `"`: `"`, `""`: "", "tok": "tok"} {
		if got := UnquoteParam(in); got != want {
			t.Errorf("UnquoteParam(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParamValueThroughSipgo writes a From parameter set with ParamValue
// through sipgo and parses it back: the wire form must be one valid
// parameter with the same value.
func TestParamValueThroughSipgo(t *testing.T) {
	for _, v := range []string{"TN-Validation-Passed", "a b", `Say "hi" now`, `x"y`, "a,b", `back\ slash`, "tab\there"} {
		req := parse(t, invite)
		req.From().Params.Add("cnam", ParamValue(v))
		wire := req.String()
		again := parse(t, wire)
		raw, ok := again.From().Params.Get("cnam")
		if !ok {
			t.Errorf("%q: no cnam parameter in %s", v, again.From().Value())
			continue
		}
		if got := UnquoteParam(raw); got != v {
			t.Errorf("cnam %q came back as %q (header %s)", v, got, again.From().Value())
		}
		if tag, _ := again.From().Params.Get("tag"); tag != "1928301774" {
			t.Errorf("%q: tag = %q after the round trip", v, tag)
		}
	}
}

// TestMatchesDoesNotAllocate guards the hot path: every header action
// matches every header of every call.
func TestMatchesDoesNotAllocate(t *testing.T) {
	n := MakeName("Supported")
	hs := []string{"To", "Via", "k", "K", "X-Foo", "SUPPORTED", "t", "ab"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, h := range hs {
			n.Matches(h)
		}
	})
	if allocs != 0 {
		t.Errorf("Matches allocates %v times per run", allocs)
	}
}

func TestKnown(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Via", "via", true}, {"v", "via", true}, {"V", "via", true}, {"FROM", "from", true},
		{"f", "from", true}, {"Call-ID", "call-id", true}, {"CSeq", "cseq", true},
		{"Record-Route", "record-route", true}, {"P-Asserted-Identity", "p-asserted-identity", true},
		{"X-StirResult", "", false}, {"q", "", false}, {"1", "", false}, {"", "", false},
	} {
		got, ok := Known(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Known(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Known("Record-Route"); Known("F"); Known("X-Other") }); n != 0 {
		t.Errorf("Known allocates %.0f times", n)
	}
	if n := testing.AllocsPerRun(100, func() { LowerTransport("UDP") }); n != 0 {
		t.Errorf("LowerTransport allocates %.0f times", n)
	}
	if Canonical("X-Foo") != "x-foo" || Canonical("k") != "supported" {
		t.Errorf("Canonical: %q %q", Canonical("X-Foo"), Canonical("k"))
	}
}
