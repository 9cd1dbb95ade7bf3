package sipmsg

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzDisplay checks the display-name and parameter quoting round trips:
// for any text without CR, LF or NUL, UnquoteDisplay(QuoteDisplay(s)) == s and
// UnquoteParam(ParamValue(s)) == s; the quoted form never holds an
// unescaped double quote, line break or NUL, so it cannot end the
// quoted-string early or inject a header.
func FuzzDisplay(f *testing.F) {
	for _, s := range []string{"", "Alice", `Say "hi" \ now`, `\`, `"`, `\"`, "a\r\nX-Evil: 1", "tab\t", "Ünï", `""`, `a\`, "a b", "a;b,c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := QuoteDisplay(s)
		if !ValidValue(q) {
			t.Fatalf("QuoteDisplay(%q) = %q holds a line break or NUL", s, q)
		}
		// Every '"' in q is escaped: walk it as a quoted-string body.
		for i := 0; i < len(q); i++ {
			switch q[i] {
			case '\\':
				if i+1 == len(q) {
					t.Fatalf("QuoteDisplay(%q) = %q ends in a lone backslash", s, q)
				}
				i++
			case '"':
				t.Fatalf("QuoteDisplay(%q) = %q has an unescaped quote at %d", s, q, i)
			}
		}
		p := ParamValue(s)
		if !ValidValue(p) {
			t.Fatalf("ParamValue(%q) = %q is not a valid header value", s, p)
		}
		if strings.ContainsAny(s, "\r\n\x00") {
			return
		}
		if got := UnquoteDisplay(q); got != s {
			t.Fatalf("UnquoteDisplay(QuoteDisplay(%q)) = %q (quoted %q)", s, got, q)
		}
		if got := UnquoteParam(p); got != s {
			t.Fatalf("UnquoteParam(ParamValue(%q)) = %q (stored %q)", s, got, p)
		}
	})
}

// FuzzSetURIUser checks the promise of SetURIUser: a user it accepts
// cannot break the URI's syntax, so the URI written with it parses back
// with the same user, in a sip URI and in a tel URI.
func FuzzSetURIUser(f *testing.F) {
	for _, s := range []string{"", "alice", "+12155551212", "a;b", "a?b", "50%25", "%", "a@b", "a:b", "x/y", "()", "$,;?/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		for _, base := range []string{"sip:bob@example.com;transport=tcp", "tel:+12155551212;npdi"} {
			var u sip.Uri
			if err := sip.ParseUri(base, &u); err != nil {
				t.Fatal(err)
			}
			if err := SetURIUser(&u, user); err != nil {
				if ValidUser(user) && (user != "" || u.Scheme != "tel") && !strings.HasPrefix(user, "//") {
					t.Fatalf("SetURIUser(%s, %q) refused a valid user: %v", base, user, err)
				}
				continue
			}
			if !ValidUser(user) {
				t.Fatalf("SetURIUser(%s, %q) accepted an invalid user", base, user)
			}
			var back sip.Uri
			if err := sip.ParseUri(u.String(), &back); err != nil {
				t.Fatalf("SetURIUser(%s, %q) wrote %q, which does not parse: %v", base, user, u.String(), err)
			}
			want := user
			if u.Scheme == "tel" {
				// A tel number ends at its first parameter.
				want, _, _ = strings.Cut(user, ";")
			}
			if got := URIUser(&back); got != want {
				t.Fatalf("SetURIUser(%s, %q) wrote %q; its user reads back %q", base, user, u.String(), got)
			}
		}
	})
}
