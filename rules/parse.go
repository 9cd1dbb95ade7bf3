package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xformd/xformd/internal/suggest"
	"gopkg.in/yaml.v3"
)

// ruleKeys are the keys a rule object may have.
var ruleKeys = []string{"action", "direction", "operands", "name", "comment", "when"}

// Parse parses a rule file's bytes. name is used in positions only. All
// problems found are returned together as an ErrorList; the File returned
// with such an error holds the rules that parsed cleanly (it is nil when the
// file as a whole could not be read), so that a checker can report their
// compile errors in the same pass.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("rule file is larger than the %d byte limit", MaxFileSize)}
	}
	// yaml.v3 skips a UTF-8 byte order mark without counting it in
	// columns; drop it so that byte columns agree.
	data = bytes.TrimPrefix(data, utf8BOM)
	orig := data
	var shifts []shift
	if json.Valid(data) {
		data, shifts = fromJSON(data)
	} else {
		data = jsonTabs(data)
	}
	f := &File{Name: name}
	p := &parser{file: name, data: data, lines: lineStarts(data), shifts: shifts}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, syntaxError(name, orig, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{Pos: Pos{File: name, Line: 1, Col: 1}, Msg: "empty rule file", Hint: `write {"transformations": [...]} or a list of rules`}
	}
	// yaml.Unmarshal reads the first document only; rules after a second
	// "---" would be dropped without a word.
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(name, orig, err)
		}
		if len(extra.Content) == 0 || (extra.Content[0].Tag == "!!null" && extra.Content[0].Value == "") {
			continue // an empty document, as a trailing "---" makes
		}
		return nil, &Error{Pos: p.pos(extra.Content[0]), Msg: "rule file holds a second YAML document", Hint: "put every rule in the first document's list"}
	}
	root := doc.Content[0]
	list := root
	switch root.Kind {
	case yaml.MappingNode:
		list = nil
		var keys []string
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := root.Content[i]
			keys = append(keys, k.Value)
			if k.Value == "transformations" {
				if list != nil {
					// The last one would win, silently dropping rules.
					return nil, &Error{Pos: p.pos(k), Msg: `duplicate key "transformations"`, Hint: "merge the two lists"}
				}
				list = root.Content[i+1]
			}
		}
		if list == nil {
			e := &Error{Pos: p.pos(root), Msg: `rule file has no "transformations" list`}
			e.Hint = suggest.Hint(firstNear(keys, "transformations"), []string{"transformations"})
			return nil, e
		}
		if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
			return f, nil
		}
	case yaml.SequenceNode:
	default:
		return nil, &Error{Pos: p.pos(root), Msg: "a rule file is an object with \"transformations\" or a list of rules, not a " + kindName(root)}
	}
	if list.Kind != yaml.SequenceNode {
		return nil, &Error{Pos: p.pos(list), Msg: `"transformations" must be a list of rules, not a ` + kindName(list)}
	}
	for i, n := range list.Content {
		if r, ok := p.rule(i, n); ok {
			f.Rules = append(f.Rules, r)
		}
	}
	if err := p.errs.Err(); err != nil {
		return f, err
	}
	return f, nil
}

// firstNear returns the key closest to want, so that a misspelt
// "transformation" gets a hint; "" when there are no keys.
func firstNear(keys []string, want string) string {
	for _, k := range keys {
		if suggest.Closest(k, []string{want}) != "" {
			return k
		}
	}
	return ""
}

type parser struct {
	file string
	errs ErrorList
	data []byte
	// lines holds the byte offset of each line's start when the file has
	// non-ASCII text, whose columns need converting; nil otherwise.
	lines []int
	// shifts maps columns of a JSON file rewritten by fromJSON back to
	// the file as written.
	shifts []shift
	// The last column conversion, to continue from on the same line: a
	// minified file is one long line.
	curLine, curCol, curByte int
}

// pos returns where n was written. yaml.v3 counts columns in characters;
// Pos promises bytes (what offsetPos in the engine adds to), so lines with
// non-ASCII text before n are converted.
func (p *parser) pos(n *yaml.Node) Pos {
	line, col := n.Line, n.Column
	if p.lines != nil && line >= 1 && line <= len(p.lines) && col > 1 {
		start := p.lines[line-1]
		k, i := 1, start
		if p.curLine == line && p.curCol <= col {
			k, i = p.curCol, p.curByte
		}
		for ; k < col && i < len(p.data); k++ {
			_, size := utf8.DecodeRune(p.data[i:])
			i += size
		}
		p.curLine, p.curCol, p.curByte = line, k, i
		col = i - start + 1
	}
	return Pos{File: p.file, Line: line, Col: p.unshift(line, col)}
}

// shift records that fromJSON shortened line Line of a JSON file by
// Delta bytes (in all, on that line) before byte column Col of its output.
type shift struct{ Line, Col, Delta int }

// unshift turns a byte column of fromJSON's output into one of the file.
func (p *parser) unshift(line, col int) int {
	s := p.shifts
	// The last shift at or before (line, col), if it is on that line.
	i := sort.Search(len(s), func(i int) bool { return s[i].Line > line || s[i].Line == line && s[i].Col > col }) - 1
	if i >= 0 && s[i].Line == line {
		col += s[i].Delta
	}
	return col
}

// fromJSON rewrites a valid JSON document into the YAML flow syntax that
// yaml.v3 reads the same way: tabs between tokens become spaces (yaml.v3
// refuses tab indentation); escapes it does not know, \/ (PHP writes it)
// and UTF-16 surrogate pairs \ud83d\ude00 (Python's json.dumps writes
// them), become the characters they stand for; and raw NEL, LS and PS in
// strings, which YAML folds or counts as line breaks, become YAML escapes.
// The shifts it returns map columns back to the file as written.
func fromJSON(data []byte) ([]byte, []shift) {
	out := make([]byte, 0, len(data))
	var shifts []shift
	line, lineStart, delta := 1, 0, 0
	inString := false
	for i := 0; i < len(data); {
		c := data[i]
		if !inString {
			switch c {
			case '\t':
				c = ' '
			case '"':
				inString = true
			case '\n', '\r':
				if c == '\n' || i+1 == len(data) || data[i+1] != '\n' {
					line, lineStart, delta = line+1, len(out)+1, 0
				}
			}
			out = append(out, c)
			i++
			continue
		}
		n, repl := 1, data[i:i+1]
		switch {
		case c == '"':
			inString = false
		case c == '\\' && data[i+1] == '/':
			n, repl = 2, []byte{'/'}
		case c == '\\' && data[i+1] == 'u':
			n, repl = 6, data[i:i+6]
			r := hex4(data[i+2 : i+6])
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					r2 = hex4(data[i+8 : i+12])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					n, r = 12, d
				} else {
					r = utf8.RuneError // as encoding/json reads a lone surrogate
				}
				repl = utf8.AppendRune(nil, r)
			}
		case c == '\\':
			n, repl = 2, data[i:i+2]
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			n, repl = 2, []byte(`\N`)
		case bytes.HasPrefix(data[i:], []byte("\u2028")):
			n, repl = 3, []byte(`\L`)
		case bytes.HasPrefix(data[i:], []byte("\u2029")):
			n, repl = 3, []byte(`\P`)
		}
		out = append(out, repl...)
		i += n
		if n != len(repl) {
			delta += n - len(repl)
			shifts = append(shifts, shift{Line: line, Col: len(out) - lineStart + 1, Delta: delta})
		}
	}
	return out, shifts
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

var utf8BOM = []byte("\ufeff")

// lineStarts returns the byte offset at which each line of data starts,
// breaking lines where yaml.v3 does (CR LF, CR, LF, NEL, LS, PS), or nil
// when data is ASCII and columns need no conversion.
func lineStarts(data []byte) []int {
	ascii := true
	for _, c := range data {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii || !utf8.Valid(data) {
		return nil
	}
	starts := []int{0}
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			i++
		case data[i] == '\r', data[i] == '\n':
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			i++
		case bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			i += 2
		default:
			continue
		}
		starts = append(starts, i+1)
	}
	return starts
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) *Error {
	e := Errorf(p.pos(n), format, args...)
	p.errs = append(p.errs, e)
	return e
}

func (p *parser) rule(index int, n *yaml.Node) (Rule, bool) {
	r := Rule{Index: index, Pos: p.pos(n)}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "rule %d must be an object with action, direction and operands, not a %s", index+1, kindName(n))
		return r, false
	}
	ok := true
	seen := map[string]bool{}
	var haveAction bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if seen[key] {
			p.errorf(k, "duplicate key %q in rule", key)
			ok = false
			continue
		}
		seen[key] = true
		switch key {
		case "action":
			s, good := p.scalar(v, "action")
			if !good {
				ok = false
				continue
			}
			if strings.TrimSpace(s) == "" {
				p.errorf(v, "action is empty")
				ok = false
				continue
			}
			r.Action = Value{Text: strings.TrimSpace(s), Pos: p.pos(v), Quoted: quoted(v)}
			haveAction = true
		case "direction":
			s, good := p.scalar(v, "direction")
			if !good {
				ok = false
				continue
			}
			d, good := ParseDirection(s)
			if !good {
				e := p.errorf(v, "unknown direction %q: use inbound, outbound or any", s)
				e.Hint = suggest.Hint(s, []string{"inbound", "outbound", "any"})
				ok = false
				continue
			}
			r.Direction = d
		case "operands":
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "operands must be a list of strings, not a %s", kindName(v))
				ok = false
				continue
			}
			r.Operands = make([]Value, 0, len(v.Content))
			for j, o := range v.Content {
				s, good := p.scalar(o, fmt.Sprintf("operand %d", j+1))
				if !good {
					ok = false
					continue
				}
				r.Operands = append(r.Operands, Value{Text: s, Pos: p.pos(o), Quoted: quoted(o)})
			}
		case "name", "comment":
			s, good := p.scalar(v, key)
			if !good {
				ok = false
				continue
			}
			if key == "name" {
				r.Name = s
			} else {
				r.Comment = s
			}
		case "when":
			s, good := p.scalar(v, "when")
			if !good {
				ok = false
				continue
			}
			r.When = Value{Text: s, Pos: p.pos(v), Quoted: quoted(v)}
		default:
			e := p.errorf(k, "unknown key %q in rule", key)
			if h := suggest.Hint(key, ruleKeys); h != "" {
				e.Hint = h
			} else {
				e.Hint = "a rule has " + strings.Join(ruleKeys, ", ")
			}
			ok = false
		}
	}
	if !haveAction && !seen["action"] {
		p.errorf(n, "rule %d has no action", index+1)
		ok = false
	}
	return r, ok
}

// scalar reads a scalar as a string. Numbers and booleans are accepted in
// their source spelling (operators write `reject: [403]`), null is refused.
func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a string, not a %s", what, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" && n.Style == 0 {
		p.errorf(n, "%s is null; write a string", what)
		return "", false
	}
	return n.Value, true
}

func quoted(n *yaml.Node) bool {
	return n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!int", "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		}
		return "string"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// jsonTabs makes JSON files indented with tabs acceptable to the YAML
// parser, which refuses tabs as indentation. Tabs outside strings are
// whitespace, and turning each into one space keeps every byte column the
// same. Tabs inside double-quoted strings (invalid JSON, but valid YAML
// flow syntax, which accepts them) are kept, so that a value is never
// changed silently.
func jsonTabs(data []byte) []byte {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') || bytes.IndexByte(data, '\t') < 0 {
		return data
	}
	out := bytes.Clone(data)
	inString := false
	for i := 0; i < len(out); i++ {
		switch c := out[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case c == '\t' && !inString:
			out[i] = ' '
		}
	}
	return out
}

var yamlLineRE = regexp.MustCompile(`(?:yaml: )?line (\d+):\s*(.*)`)

// yamlParserErrors are the messages of yaml.v3's parser (as opposed to its
// scanner). For those yaml.v3 reports a 0-based line number (it adds one
// for scanner errors only), so syntaxError adds the missing one.
var yamlParserErrors = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError turns a yaml.v3 syntax error into a positioned Error. For a
// JSON file, encoding/json locates the mistake exactly (line and column),
// where yaml.v3 gives only the line a construct started on; its answer is
// used unless it complains earlier in the file than yaml.v3 does, which
// means the file is YAML flow syntax (unquoted keys) rather than JSON.
func syntaxError(file string, data []byte, err error) error {
	msg := err.Error()
	if te, ok := err.(*yaml.TypeError); ok {
		msg = strings.Join(te.Errors, "; ")
	}
	e := &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "syntax error: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if yamlParserErrors[m[2]] {
			line++
		}
		// At the end of the stream yaml.v3 counts a line past the text.
		if last, _ := lineCol(data, len(bytes.TrimRight(data, " \t\r\n"))-1); line > last {
			line = last
		}
		e.Pos.Line, e.Msg = line, "syntax error: "+m[2]
	} else if !utf8.Valid(data) {
		// Reader errors carry no line: find the bad byte.
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		e.Pos.Line, e.Pos.Col = lineCol(data, off)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		var raw json.RawMessage
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(data, &raw), &se) {
			line, col := lineCol(data, int(se.Offset)-1)
			if line >= e.Pos.Line {
				e.Pos.Line, e.Pos.Col, e.Msg = line, col, "syntax error: "+se.Error()
			}
		}
	}
	return e
}

// lineCol returns the 1-based line and byte column of offset off in data.
func lineCol(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	before := data[:off]
	return bytes.Count(before, []byte{'\n'}) + 1, off - bytes.LastIndexByte(before, '\n')
}
