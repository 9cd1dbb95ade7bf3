package stir

// CanonicalTN reduces a telephone number to the form SHAKEN compares and
// signs (RFC 8224 section 8.3, RFC 8588): the digits only, so that a
// leading "+" and visual separators ("-", ".", "(", ")", spaces) do not
// matter. A string with any other character (a SIP user name such as
// "alice", or a dial string with "*" or "#") is not a telephone number and
// yields "".
func CanonicalTN(s string) string {
	separators := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', i == 0 && c == '+':
		case isVisualSeparator(c):
			separators = true
		default:
			return ""
		}
	}
	if !separators {
		// Digits, perhaps after "+": a substring, no allocation.
		if s != "" && s[0] == '+' {
			return s[1:]
		}
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}

func isVisualSeparator(c byte) bool {
	switch c {
	case '-', '.', '(', ')', ' ':
		return true
	}
	return false
}
