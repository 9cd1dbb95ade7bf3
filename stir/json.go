package stir

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON reader for the two PASSporT objects. encoding/json
// would do, but it matches keys case-insensitively ("ATTEST" fills
// attest), keeps the last of duplicate keys, and allocates per field on
// the verification hot path. This reader matches keys exactly, refuses
// duplicates of the keys it reads, bounds nesting, and returns strings
// that are substrings of the input unless they contain escapes.

// maxJSONDepth bounds nesting in skipped values; PASSporTs nest two deep.
const maxJSONDepth = 16

// errJSON is wrapped by every JSON syntax error.
var errJSON = errors.New("invalid JSON")

type jsonReader struct {
	s     string
	i     int
	depth int
}

func (r *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errJSON, r.i, fmt.Sprintf(format, args...))
}

func (r *jsonReader) ws() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i >= len(r.s) {
		return 0
	}
	return r.s[r.i]
}

func (r *jsonReader) expect(c byte) error {
	if r.peek() != c {
		if r.i >= len(r.s) {
			return r.errorf("unexpected end, want %q", c)
		}
		return r.errorf("unexpected %q, want %q", r.s[r.i], c)
	}
	r.i++
	return nil
}

// end checks that nothing but whitespace follows the top-level value.
func (r *jsonReader) end() error {
	r.ws()
	if r.i != len(r.s) {
		return r.errorf("trailing data")
	}
	return nil
}

// object reads an object, calling field for each key with the reader
// positioned at the value; field must consume the value.
func (r *jsonReader) object(field func(key string) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	r.depth++
	if r.depth > maxJSONDepth {
		return r.errorf("nested more than %d deep", maxJSONDepth)
	}
	if r.peek() == '}' {
		r.i++
		r.depth--
		return nil
	}
	for {
		if r.peek() != '"' {
			return r.errorf("want object key")
		}
		key, err := r.str()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		r.ws()
		if err := field(key); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			r.depth--
			return nil
		default:
			return r.errorf("want , or } in object")
		}
	}
}

// array reads an array, calling elem with the reader at each element.
func (r *jsonReader) array(elem func() error) error {
	if err := r.expect('['); err != nil {
		return err
	}
	r.depth++
	if r.depth > maxJSONDepth {
		return r.errorf("nested more than %d deep", maxJSONDepth)
	}
	if r.peek() == ']' {
		r.i++
		r.depth--
		return nil
	}
	for {
		r.ws()
		if err := elem(); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			r.depth--
			return nil
		default:
			return r.errorf("want , or ] in array")
		}
	}
}

// str reads a string value.
func (r *jsonReader) str() (string, error) {
	if r.peek() != '"' {
		return "", r.errorf("want string")
	}
	r.i++
	start := r.i
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			v := r.s[start:r.i]
			r.i++
			return v, nil
		case c == '\\':
			return r.strEscaped(start)
		case c < 0x20:
			return "", r.errorf("control character in string")
		case c >= utf8.RuneSelf:
			ch, size := utf8.DecodeRuneInString(r.s[r.i:])
			if ch == utf8.RuneError && size == 1 {
				return "", r.errorf("invalid UTF-8 in string")
			}
			r.i += size
			continue
		}
		r.i++
	}
	return "", r.errorf("unterminated string")
}

// strEscaped finishes a string that has escapes, from its start.
func (r *jsonReader) strEscaped(start int) (string, error) {
	b := []byte(r.s[start:r.i])
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return string(b), nil
		case c < 0x20:
			return "", r.errorf("control character in string")
		case c == '\\':
			if r.i+1 >= len(r.s) {
				return "", r.errorf("unterminated escape")
			}
			e := r.s[r.i+1]
			r.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				ch, err := r.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(ch) {
					ch2 := rune(-1)
					if r.i+1 < len(r.s) && r.s[r.i] == '\\' && r.s[r.i+1] == 'u' {
						r.i += 2
						if ch2, err = r.hex4(); err != nil {
							return "", err
						}
					}
					ch = utf16.DecodeRune(ch, ch2)
					if ch == utf8.RuneError {
						return "", r.errorf("invalid surrogate pair")
					}
				}
				b = utf8.AppendRune(b, ch)
			default:
				return "", r.errorf("invalid escape \\%c", e)
			}
		case c >= utf8.RuneSelf:
			ch, size := utf8.DecodeRuneInString(r.s[r.i:])
			if ch == utf8.RuneError && size == 1 {
				return "", r.errorf("invalid UTF-8 in string")
			}
			b = append(b, r.s[r.i:r.i+size]...)
			r.i += size
		default:
			b = append(b, c)
			r.i++
		}
	}
	return "", r.errorf("unterminated string")
}

func (r *jsonReader) hex4() (rune, error) {
	if r.i+4 > len(r.s) {
		return 0, r.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(r.s[r.i:r.i+4], 16, 16)
	if err != nil {
		return 0, r.errorf("bad \\u escape")
	}
	r.i += 4
	return rune(v), nil
}

// number reads a number value and returns its text.
func (r *jsonReader) number() (string, error) {
	r.ws()
	start := r.i
	if r.i < len(r.s) && r.s[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.s) && r.s[r.i] == '0':
		r.i++
	case r.i < len(r.s) && r.s[r.i] >= '1' && r.s[r.i] <= '9':
		r.digits()
	default:
		return "", r.errorf("want number")
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if r.digits() == 0 {
			return "", r.errorf("want digits after .")
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if r.digits() == 0 {
			return "", r.errorf("want exponent digits")
		}
	}
	return r.s[start:r.i], nil
}

func (r *jsonReader) digits() int {
	n := 0
	for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
		r.i++
		n++
	}
	return n
}

// skip reads and discards any value.
func (r *jsonReader) skip() error {
	switch c := r.peek(); {
	case c == '{':
		return r.object(func(string) error { return r.skip() })
	case c == '[':
		return r.array(r.skip)
	case c == '"':
		_, err := r.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := r.number()
		return err
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(r.s)-r.i >= len(lit) && r.s[r.i:r.i+len(lit)] == lit {
				r.i += len(lit)
				return nil
			}
		}
		if c == 0 {
			return r.errorf("unexpected end")
		}
		return r.errorf("unexpected %q", c)
	}
}

// isNull consumes a null literal if one is next.
func (r *jsonReader) isNull() bool {
	if r.peek() == 'n' && len(r.s)-r.i >= 4 && r.s[r.i:r.i+4] == "null" {
		r.i += 4
		return true
	}
	return false
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			ch, size := utf8.DecodeRuneInString(s[i:])
			if ch == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
