// Package templates compiles operand strings with {{variable}} references
// into literal and variable segments, so that rendering on a call is a
// concatenation with no parsing.
//
// Syntax:
//
//	{{name}}        the value of variable name ({{ name }} also works)
//	<<name>>        the same, in the product brief's spelling
//	\{{  \<<        a literal "{{" or "<<" (the backslash is dropped)
//
// A variable name is a letter or underscore followed by letters, digits and
// underscores, or "header." followed by a SIP header name (header.X-Foo).
// An opening "{{" or "<<" that is not closed is an error, so that a typo
// does not silently become literal text. Every other character, including
// other backslashes (as in the regex replacement \1), is literal.
package templates

import (
	"fmt"
	"strings"
)

// Ref identifies a variable to the Env that renders a template. The
// resolver given to Compile chooses the numbers.
type Ref int

// Env supplies variable values at render time.
type Env interface {
	Lookup(ref Ref) string
}

// Resolver maps a variable name to its Ref at compile time, or returns an
// error (for example an unknown variable with a "did you mean" hint).
type Resolver func(name string) (Ref, error)

// Segment is a piece of a compiled template: literal text, or a variable.
type Segment struct {
	Literal string
	// Var is true when the segment is a variable reference.
	Var  bool
	Ref  Ref
	Name string
}

// Template is a compiled operand. The zero value renders as "".
type Template struct {
	src  string
	segs []Segment
}

// Error is a template syntax or resolution error; Offset is the byte offset
// of the problem in the source string.
type Error struct {
	Offset int
	Msg    string
	// Err is the resolver's error, when that is the cause.
	Err error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the resolver's error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Compile parses src into segments, resolving every variable with resolve.
func Compile(src string, resolve Resolver) (*Template, error) {
	t := &Template{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, Segment{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c == '\\' && (strings.HasPrefix(src[i+1:], "{{") || strings.HasPrefix(src[i+1:], "<<")) {
			lit.WriteString(src[i+1 : i+3])
			i += 3
			continue
		}
		if (c == '{' || c == '<') && i+1 < len(src) && src[i+1] == c {
			closer := "}}"
			if c == '<' {
				closer = ">>"
			}
			end := strings.Index(src[i+2:], closer)
			if end < 0 {
				return nil, &Error{Offset: i, Msg: fmt.Sprintf("unclosed %q at offset %d: close it with %q, or write \\%s for a literal %s", src[i:i+2], i, closer, src[i:i+2], src[i:i+2])}
			}
			name := strings.TrimSpace(src[i+2 : i+2+end])
			if !ValidName(name) {
				return nil, &Error{Offset: i, Msg: fmt.Sprintf("invalid variable name %q in %s...%s: names are letters, digits and _ (or header.Name)", name, src[i:i+2], closer)}
			}
			ref, err := resolve(name)
			if err != nil {
				return nil, &Error{Offset: i, Msg: err.Error(), Err: err}
			}
			flush()
			t.segs = append(t.segs, Segment{Var: true, Ref: ref, Name: name})
			i += 2 + end + 2
			continue
		}
		lit.WriteByte(c)
		i++
	}
	flush()
	return t, nil
}

// ValidName reports whether name is a well-formed variable name.
func ValidName(name string) bool {
	if rest, ok := strings.CutPrefix(name, "header."); ok {
		if rest == "" {
			return false
		}
		for i := 0; i < len(rest); i++ {
			if !IsTokenChar(rest[i]) {
				return false
			}
		}
		return true
	}
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// IsTokenChar reports whether c may appear in an RFC 3261 token (and so in
// a SIP header name).
func IsTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// Source returns the template as written.
func (t *Template) Source() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Segments returns the compiled segments; callers must not modify them.
func (t *Template) Segments() []Segment {
	if t == nil {
		return nil
	}
	return t.segs
}

// IsLiteral reports whether the template has no variables.
func (t *Template) IsLiteral() bool {
	if t == nil {
		return true
	}
	for _, s := range t.segs {
		if s.Var {
			return false
		}
	}
	return true
}

// Render returns the template's value in env. A template that is a single
// literal or a single variable renders without allocating.
func (t *Template) Render(env Env) string {
	if t == nil {
		return ""
	}
	switch len(t.segs) {
	case 0:
		return ""
	case 1:
		s := t.segs[0]
		if s.Var {
			return env.Lookup(s.Ref)
		}
		return s.Literal
	}
	var buf [128]byte
	return string(t.AppendTo(buf[:0], env))
}

// AppendTo appends the template's value in env to dst.
func (t *Template) AppendTo(dst []byte, env Env) []byte {
	if t == nil {
		return dst
	}
	for _, s := range t.segs {
		if s.Var {
			dst = append(dst, env.Lookup(s.Ref)...)
		} else {
			dst = append(dst, s.Literal...)
		}
	}
	return dst
}
