package capture

import (
	"bytes"
	"fmt"
	"strconv"
)

// readText splits a text capture into SIP messages and emits them.
//
// Messages follow one another, each framed by its Content-Length. Files
// edited by hand or copied out of a terminal often have bare LF line ends
// and a Content-Length counted either with CRLF (as on the wire) or with LF
// (as in the file); both are accepted, the one that ends the body exactly
// where the next message (or the end of the file) starts wins. When neither
// fits, or the header is missing, the body runs to the next start line and
// the Content-Length is corrected, with a Note saying so.
func readText(name string, data []byte, fn func(*Message) error) (Stats, error) {
	var st Stats
	e := &emitter{name: name, fn: fn, stats: &st}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := &lineCounter{data: data, line: 1}
	pos := 0
	for {
		pos = skipBlank(data, pos)
		if pos >= len(data) {
			return st, nil
		}
		m, next := frameText(data, pos, lines)
		if next <= pos { // cannot happen; guards against a loop on a framing bug
			next = len(data)
		}
		pos = next
		if err := e.emit(m); err != nil {
			return st, err
		}
	}
}

// skipBlank returns the offset of the first byte at or after pos that is
// not whitespace.
func skipBlank(data []byte, pos int) int {
	for pos < len(data) {
		switch data[pos] {
		case ' ', '\t', '\r', '\n':
			pos++
		default:
			return pos
		}
	}
	return pos
}

// lineAt returns the line starting at pos without its line end, the offset
// of the next line, and whether the line ended in a bare LF.
func lineAt(data []byte, pos int) (line []byte, next int, bareLF bool) {
	i := bytes.IndexByte(data[pos:], '\n')
	if i < 0 {
		return bytes.TrimRight(data[pos:], "\r"), len(data), false
	}
	line = data[pos : pos+i]
	bareLF = len(line) == 0 || line[len(line)-1] != '\r'
	return bytes.TrimRight(line, "\r"), pos + i + 1, bareLF
}

// lineCounter gives line numbers of increasing offsets in linear time
// overall, for errors.
type lineCounter struct {
	data []byte
	pos  int
	line int
}

// at returns the 1-based line number of offset pos; pos must not go back.
func (l *lineCounter) at(pos int) int {
	if pos > l.pos {
		l.line += bytes.Count(l.data[l.pos:pos], []byte{'\n'})
		l.pos = pos
	}
	return l.line
}

// nextStart returns the offset of the first line at or after pos that is a
// SIP start line, or len(data).
func nextStart(data []byte, pos int) int {
	for pos < len(data) {
		line, next, _ := lineAt(data, pos)
		if startLine(line) {
			return pos
		}
		pos = next
	}
	return len(data)
}

// frameText frames the message starting at pos (a non-blank byte) and
// returns it with the offset just after it.
func frameText(data []byte, pos int, lc *lineCounter) (*Message, int) {
	first, _, _ := lineAt(data, pos)
	if !startLine(first) {
		next := nextStart(data, pos)
		return &Message{Raw: data[pos:next], Err: fmt.Errorf("line %d: %q is not the start of a SIP message (want \"INVITE sip:... SIP/2.0\" or \"SIP/2.0 200 OK\")",
			lc.at(pos), clip(first, 60))}, next
	}
	var (
		lines    [][]byte
		lf       bool
		clIndex  = -1
		clValue  = -1
		clBad    string
		bodyFrom = len(data)
	)
	for p := pos; p < len(data); {
		line, next, bare := lineAt(data, p)
		lf = lf || bare
		if len(line) == 0 {
			bodyFrom = next
			break
		}
		if len(lines) > 0 && startLine(line) {
			// The next message began without a blank line ending this one.
			bodyFrom = p
			break
		}
		if len(lines) > 0 && line[0] != ' ' && line[0] != '\t' {
			if name, value, ok := bytes.Cut(line, []byte{':'}); ok {
				n := string(bytes.TrimSpace(name))
				if equalFold(n, "content-length") || equalFold(n, "l") {
					clIndex = len(lines)
					v := string(bytes.TrimSpace(value))
					if cl, err := strconv.Atoi(v); err == nil && cl >= 0 {
						clValue = cl
					} else {
						clBad = v
					}
				}
			}
		}
		lines = append(lines, line)
		p = next
	}
	rest := data[bodyFrom:]
	var body []byte
	var note string
	end := -1
	if clValue >= 0 {
		cands := []int{clValue}
		if lf {
			cands = []int{crlfOffset(rest, clValue), clValue}
		}
		// A body that ends at a line end is the likelier reading when both
		// countings leave only blank space before the next message.
		for pass := 0; pass < 2 && end < 0; pass++ {
			for _, c := range cands {
				if c < 0 || c > len(rest) || !boundary(rest[c:]) {
					continue
				}
				if pass == 0 && c > 0 && rest[c-1] != '\n' {
					continue
				}
				end = c
				break
			}
		}
	}
	if end < 0 {
		end = nextStart(rest, 0)
		body = trimTrailingLines(rest[:end])
	} else {
		body = rest[:end]
	}
	if lf {
		body = toCRLF(body)
	}
	switch {
	case clBad != "":
		note = fmt.Sprintf("Content-Length %q is not a number; used the %d-byte body that follows", clBad, len(body))
	case clValue >= 0 && clValue != len(body):
		note = fmt.Sprintf("Content-Length %d did not match the %d-byte body; corrected", clValue, len(body))
	}
	if clIndex >= 0 && (clBad != "" || clValue != len(body)) {
		name, _, _ := bytes.Cut(lines[clIndex], []byte{':'})
		lines[clIndex] = fmt.Appendf(nil, "%s: %d", bytes.TrimSpace(name), len(body))
	}
	var raw bytes.Buffer
	raw.Grow(len(data[pos:bodyFrom]) + len(lines) + len(body) + 2)
	for _, l := range lines {
		raw.Write(l)
		raw.WriteString("\r\n")
	}
	raw.WriteString("\r\n")
	raw.Write(body)
	return &Message{Raw: raw.Bytes(), Note: note}, bodyFrom + end
}

// crlfOffset returns the offset in body at which the body holds n bytes
// once its bare LFs are written as CRLF, or -1 when n falls between the CR
// and LF of a converted line end or beyond the body.
func crlfOffset(body []byte, n int) int {
	count := 0
	for i := 0; i < len(body); i++ {
		if count == n {
			return i
		}
		if body[i] == '\n' && (i == 0 || body[i-1] != '\r') {
			count += 2
		} else {
			count++
		}
	}
	if count == n {
		return len(body)
	}
	return -1
}

// boundary reports whether rest is where a message may end: only blank
// space follows, or the next message's start line.
func boundary(rest []byte) bool {
	p := skipBlank(rest, 0)
	if p == len(rest) {
		return true
	}
	// The next message must start on a new line.
	if p > 0 && rest[p-1] != '\n' {
		return false
	}
	line, _, _ := lineAt(rest, p)
	return startLine(line)
}

// trimTrailingLines drops blank lines at the end of a body, keeping the
// line end of its last line.
func trimTrailingLines(b []byte) []byte {
	t := bytes.TrimRight(b, " \t\r\n")
	if len(t) == 0 {
		return nil
	}
	rest := b[len(t):]
	switch {
	case bytes.HasPrefix(rest, []byte("\r\n")):
		return b[:len(t)+2]
	case bytes.HasPrefix(rest, []byte("\n")):
		return b[:len(t)+1]
	}
	return t
}

// toCRLF writes every bare LF of b as CRLF.
func toCRLF(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte{'\n'}))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// clip shortens b for an error message.
func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
