package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/xformd/xformd/templates"
)

// DefaultRegexTimeout bounds one regex match. Operators' patterns run on
// attacker-controlled strings (display names, headers), so a catastrophic
// backtracking pattern must cost at most this much per call.
const DefaultRegexTimeout = 5 * time.Millisecond

// maxSubject bounds the text a regex is run on: a longer subject is not
// matched. SIP values longer than this are not phone numbers or names, and
// bounding them bounds the rune conversion and backtracking regexp2 does.
const maxSubject = 8 << 10

// Pattern is a compiled regex operand. Matching is an unanchored search.
// A pattern without regex metacharacters is matched with strings.Index,
// which gives the same answer faster. A pattern holding {{variables}} is
// compiled on each call, from the rendered text.
type Pattern struct {
	src     string
	lit     string
	isLit   bool
	re      *regexp2.Regexp
	dynamic *templates.Template
	timeout time.Duration
}

// patternMeta are the characters that make a pattern more than a literal.
const patternMeta = `\.+*?()|[]{}^$#`

func compilePattern(src string, timeout time.Duration) (*Pattern, error) {
	p := &Pattern{src: src, timeout: timeout}
	if !strings.ContainsAny(src, patternMeta) && !strings.ContainsAny(src, " \t\r\n") {
		p.lit, p.isLit = src, true
		return p, nil
	}
	re, err := regexp2.Compile(src, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("invalid regex %q: %v", src, cleanRegexErr(err))
	}
	re.MatchTimeout = timeout
	p.re = re
	return p, nil
}

func cleanRegexErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, " in `"); i > 0 {
		s = s[:i]
	}
	return strings.TrimPrefix(s, "error parsing regexp: ")
}

// Source returns the pattern as written.
func (p *Pattern) Source() string { return p.src }

// groups reports whether the pattern has capture group n (0 always
// exists). Dynamic patterns are not checked until they run.
func (p *Pattern) hasGroup(n int) bool {
	if n == 0 || p.dynamic != nil {
		return true
	}
	if p.isLit {
		return false
	}
	for _, g := range p.re.GetGroupNumbers() {
		if g == n {
			return true
		}
	}
	return false
}

func (p *Pattern) hasGroupName(name string) bool {
	if p.dynamic != nil {
		return true
	}
	if p.isLit {
		return false
	}
	return p.re.GroupNumberFromName(name) >= 0
}

// resolve returns the regex to use on this call: the static one, or the
// dynamic pattern compiled from its rendered text.
func (p *Pattern) resolve(c *Call) (*Pattern, bool) {
	if p.dynamic == nil {
		return p, true
	}
	src := p.dynamic.Render(c)
	q, err := compilePattern(src, p.timeout)
	if err != nil {
		c.Notef("pattern %q: %v", src, err)
		c.Flag(FlagPatternError)
		return nil, false
	}
	return q, true
}

// Match reports whether the pattern occurs in s. A match that runs out of
// time counts as no match and flags the step.
func (p *Pattern) Match(c *Call, s string) bool {
	q, ok := p.resolve(c)
	if !ok {
		return false
	}
	if q.isLit {
		return strings.Contains(s, q.lit)
	}
	if len(s) > maxSubject {
		c.Notef("subject of %d bytes is longer than the %d byte limit: not matched", len(s), maxSubject)
		return false
	}
	m, err := q.re.MatchString(s)
	if err != nil {
		c.Flag(FlagRegexTimeout)
		if c.Tracing {
			c.Notef("regex %q timed out after %v: counted as no match", q.src, q.timeout)
		}
		return false
	}
	return m
}

// Replacement is a compiled replacement operand: literal text, capture
// group references (\1..\9, $1, ${1}, ${name}) and template variables,
// whose values are inserted as they are, never read as group references.
type Replacement struct {
	src   string
	parts []replPart
}

type replKind uint8

const (
	replLit replKind = iota
	replGroup
	replNamed
	replVar
)

type replPart struct {
	kind  replKind
	lit   string
	group int
	ref   templates.Ref
}

// compileReplacement turns a template's literal segments into replacement
// parts, checking group references against pat.
func compileReplacement(t *templates.Template, pat *Pattern) (*Replacement, error) {
	r := &Replacement{src: t.Source()}
	for _, seg := range t.Segments() {
		if seg.Var {
			r.parts = append(r.parts, replPart{kind: replVar, ref: seg.Ref})
			continue
		}
		if err := r.parseLiteral(seg.Literal, pat); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Replacement) addLit(s string) {
	if s == "" {
		return
	}
	if n := len(r.parts); n > 0 && r.parts[n-1].kind == replLit {
		r.parts[n-1].lit += s
		return
	}
	r.parts = append(r.parts, replPart{kind: replLit, lit: s})
}

func (r *Replacement) parseLiteral(s string, pat *Pattern) error {
	var lit strings.Builder
	flush := func() { r.addLit(lit.String()); lit.Reset() }
	group := func(n int) error {
		if !pat.hasGroup(n) {
			return fmt.Errorf("replacement refers to group %d, but pattern %q has no such group", n, pat.src)
		}
		flush()
		r.parts = append(r.parts, replPart{kind: replGroup, group: n})
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			if err := group(int(s[i+1] - '0')); err != nil {
				return err
			}
			i++
		case c == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '$'):
			lit.WriteByte(s[i+1])
			i++
		case c == '$' && i+1 < len(s) && s[i+1] == '$':
			lit.WriteByte('$')
			i++
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(s[i+1 : j])
			if err := group(n); err != nil {
				return err
			}
			i = j - 1
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return fmt.Errorf("unclosed ${ in replacement; write $$ for a literal $")
			}
			name := s[i+2 : i+2+end]
			if n, err := strconv.Atoi(name); err == nil {
				if err := group(n); err != nil {
					return err
				}
			} else {
				if name == "" || !pat.hasGroupName(name) {
					return fmt.Errorf("replacement refers to group ${%s}, but pattern %q has no such named group", name, pat.src)
				}
				flush()
				r.parts = append(r.parts, replPart{kind: replNamed, lit: name})
			}
			i += 2 + end
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return nil
}

// ReplaceFirst replaces the first match of p in s with r, like
// s/pattern/replacement/. It reports whether there was a match.
func (p *Pattern) ReplaceFirst(c *Call, s string, r *Replacement) (string, bool) {
	q, ok := p.resolve(c)
	if !ok {
		return s, false
	}
	if q.isLit {
		i := strings.Index(s, q.lit)
		if i < 0 {
			return s, false
		}
		return r.expand(c, s, i, i+len(q.lit), nil), true
	}
	if len(s) > maxSubject {
		return s, false
	}
	m, err := q.re.FindStringMatch(s)
	if err != nil {
		c.Flag(FlagRegexTimeout)
		if c.Tracing {
			c.Notef("regex %q timed out after %v: counted as no match", q.src, q.timeout)
		}
		return s, false
	}
	if m == nil {
		return s, false
	}
	start := runeOffset(s, m.Index)
	end := start + runeOffset(s[start:], m.Length)
	return r.expand(c, s, start, end, m), true
}

// runeOffset returns the byte offset of the n-th rune of s.
func runeOffset(s string, n int) int {
	if n <= 0 {
		return 0
	}
	k := 0
	for i := range s {
		if k == n {
			return i
		}
		k++
	}
	return len(s)
}

func (r *Replacement) expand(c *Call, s string, start, end int, m *regexp2.Match) string {
	var buf [128]byte
	out := append(buf[:0], s[:start]...)
	for i := range r.parts {
		part := &r.parts[i]
		switch part.kind {
		case replLit:
			out = append(out, part.lit...)
		case replVar:
			out = append(out, c.Lookup(part.ref)...)
		case replGroup:
			if part.group == 0 || m == nil {
				if part.group == 0 {
					out = append(out, s[start:end]...)
				}
				continue
			}
			if g := m.GroupByNumber(part.group); g != nil && len(g.Captures) > 0 {
				out = append(out, string(g.Runes())...)
			}
		case replNamed:
			if m == nil {
				continue
			}
			if g := m.GroupByName(part.lit); g != nil && len(g.Captures) > 0 {
				out = append(out, string(g.Runes())...)
			}
		}
	}
	out = append(out, s[end:]...)
	return string(out)
}
