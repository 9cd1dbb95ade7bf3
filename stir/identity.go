package stir

import (
	"errors"
	"fmt"
	"strings"
)

// MaxIdentityLen bounds the length of one Identity header value. A SHAKEN
// Identity header is about 500 bytes; anything far larger is hostile and
// is refused before any decoding.
const MaxIdentityLen = 8192

// MaxIdentities bounds how many Identity headers of one INVITE are
// examined; the rest are ignored.
const MaxIdentities = 8

// Identity is a parsed SIP Identity header (RFC 8224 section 4.1):
//
//	Identity: <token>;info=<URL>;alg=ES256;ppt=shaken
type Identity struct {
	// Token is the PASSporT in JWS compact serialization.
	Token string
	// Info is the certificate URL of the info parameter, without the
	// angle brackets; "" when the parameter is absent.
	Info string
	// Alg is the alg parameter; "" when absent (which means ES256).
	Alg string
	// Ppt is the ppt parameter, unquoted; "" when absent.
	Ppt string
}

// ErrIdentitySyntax is wrapped by every ParseIdentity error.
var ErrIdentitySyntax = errors.New("invalid Identity header")

func identityErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIdentitySyntax, fmt.Sprintf(format, args...))
}

// ParseIdentity parses an Identity header value. Parameter names are
// case-insensitive, whitespace around ";" and "=" is allowed, quoted values
// (ppt="shaken") are unquoted, unknown parameters are ignored, and a
// repeated info, alg or ppt parameter is an error. The info URL may itself
// contain ";" inside its angle brackets.
func ParseIdentity(value string) (Identity, error) {
	var id Identity
	if len(value) > MaxIdentityLen {
		return id, identityErr("%d bytes, more than %d", len(value), MaxIdentityLen)
	}
	semi := strings.IndexByte(value, ';')
	if semi < 0 {
		semi = len(value)
	}
	id.Token = trimSWS(value[:semi])
	if id.Token == "" {
		return id, identityErr("no token")
	}
	rest := value[semi:]
	var seenInfo, seenAlg, seenPpt bool
	for rest != "" {
		// rest starts with ';'
		rest = trimLeftSWS(rest[1:])
		if rest == "" {
			break // a trailing ';' is harmless
		}
		i := 0
		for i < len(rest) && isTokenChar(rest[i]) {
			i++
		}
		if i == 0 {
			return id, identityErr("bad parameter at %q", clip(rest))
		}
		name := rest[:i]
		rest = trimLeftSWS(rest[i:])
		var val string
		if rest != "" && rest[0] == '=' {
			rest = trimLeftSWS(rest[1:])
			var err error
			val, rest, err = paramValue(rest)
			if err != nil {
				return id, identityErr("parameter %s: %v", name, err)
			}
		}
		rest = trimLeftSWS(rest)
		if rest != "" && rest[0] != ';' {
			return id, identityErr("unexpected %q after parameter %s", clip(rest), name)
		}
		switch {
		case strings.EqualFold(name, "info"):
			if seenInfo {
				return id, identityErr("info parameter repeated")
			}
			seenInfo = true
			id.Info = strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">")
		case strings.EqualFold(name, "alg"):
			if seenAlg {
				return id, identityErr("alg parameter repeated")
			}
			seenAlg, id.Alg = true, val
		case strings.EqualFold(name, "ppt"):
			if seenPpt {
				return id, identityErr("ppt parameter repeated")
			}
			seenPpt, id.Ppt = true, val
		}
	}
	return id, nil
}

// paramValue reads a generic-param value: <URI>, "quoted string" or a
// token, and returns it and the remaining text.
func paramValue(s string) (val, rest string, err error) {
	if s == "" {
		return "", "", errors.New("empty value")
	}
	switch s[0] {
	case '<':
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", "", errors.New("unterminated <")
		}
		return s[:end+1], s[end+1:], nil
	case '"':
		var b []byte
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '\\':
				if i+1 >= len(s) {
					return "", "", errors.New("unterminated quoted string")
				}
				if b == nil {
					b = append(b, s[1:i]...)
				}
				i++
				b = append(b, s[i])
			case '"':
				if b == nil {
					return s[1:i], s[i+1:], nil
				}
				return string(b), s[i+1:], nil
			default:
				if b != nil {
					b = append(b, c)
				}
			}
		}
		return "", "", errors.New("unterminated quoted string")
	}
	i := 0
	for i < len(s) && s[i] != ';' && s[i] != ' ' && s[i] != '\t' {
		i++
	}
	return s[:i], s[i:], nil
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

func trimSWS(s string) string { return strings.Trim(s, " \t\r\n") }

func trimLeftSWS(s string) string { return strings.TrimLeft(s, " \t\r\n") }

// clip shortens untrusted text quoted in an error message.
func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}
