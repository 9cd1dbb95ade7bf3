package rules

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// model strips positions from a file's rules so that files written in
// different syntaxes can be compared.
type modelRule struct {
	Action    string
	Direction Direction
	Operands  []string
	Name      string
	Comment   string
	When      string
}

func model(f *File) []modelRule {
	var out []modelRule
	for _, r := range f.Rules {
		m := modelRule{Action: r.Action.Text, Direction: r.Direction, Name: r.Name, Comment: r.Comment, When: r.When.Text}
		for _, o := range r.Operands {
			m.Operands = append(m.Operands, o.Text)
		}
		out = append(out, m)
	}
	return out
}

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("f.json", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return f
}

// TestShapesSameModel writes the same rules in every accepted shape.
func TestShapesSameModel(t *testing.T) {
	want := []modelRule{
		{Action: "set_header", Direction: Inbound, Operands: []string{"X-A", "{{from_user}}"}, Name: "tag it"},
		{Action: "reject", Direction: Any, Operands: []string{"403", "Go away"}, When: `from_user startsWith "1"`},
		{Action: "stop", Direction: Outbound, Comment: "done"},
	}
	srcs := map[string]string{
		"carrierx object": `{"transformations": [
			{"action": "set_header", "direction": "inbound", "operands": ["X-A", "{{from_user}}"], "name": "tag it"},
			{"action": "reject", "operands": [403, "Go away"], "when": "from_user startsWith \"1\""},
			{"action": "stop", "direction": "outbound", "comment": "done"}]}`,
		"bare array": `[
			{"action": "set_header", "direction": "inbound", "operands": ["X-A", "{{from_user}}"], "name": "tag it"},
			{"action": "reject", "direction": "any", "operands": ["403", "Go away"], "when": "from_user startsWith \"1\""},
			{"action": "stop", "direction": "outbound", "operands": [], "comment": "done"}]`,
		"yaml object": `transformations:
  - action: set_header
    direction: inbound
    operands: [X-A, "{{from_user}}"]
    name: tag it
  - action: reject
    operands:
      - 403
      - Go away
    when: from_user startsWith "1"
  - action: stop
    direction: OUT
    comment: done
`,
		"yaml list": `- {action: set_header, direction: in, operands: [X-A, '{{from_user}}'], name: tag it}
- action: reject
  direction: both
  operands: ['403', "Go away"]
  when: 'from_user startsWith "1"'
- action: stop
  direction: Outbound
  operands: ~
  comment: done
`,
	}
	for name, src := range srcs {
		t.Run(name, func(t *testing.T) {
			f := mustParse(t, src)
			if got := model(f); !reflect.DeepEqual(got, want) {
				t.Errorf("model =\n%+v\nwant\n%+v", got, want)
			}
			for i, r := range f.Rules {
				if r.Index != i {
					t.Errorf("rule %d has Index %d", i, r.Index)
				}
			}
			if f.Name != "f.json" {
				t.Errorf("File.Name = %q", f.Name)
			}
		})
	}
}

// TestCarrierXGolden loads the rule file in JSON and in YAML.
func TestCarrierXGolden(t *testing.T) {
	want := []modelRule{
		{Action: "stir_validate", Direction: Inbound, Operands: nil},
		{Action: "set_header", Direction: Inbound, Operands: []string{"X-StirResult", "{{stir_verstat}}-{{stir_attest}}"}},
		{Action: "if_match", Direction: Inbound, Operands: []string{"{{stir_verstat}}:{{stir_attest}}", "TN-Validation-Passed:[AB]", "rewrite_from_header_param", "cnam", "(.{1,14})", `\1*`}},
		{Action: "if_match", Direction: Inbound, Operands: []string{"{{stir_verstat}}", "No-TN-Validation", "rewrite_from_header_param", "cnam", ".*", "POSSIBLE FRAUD"}},
		{Action: "if_match", Direction: Inbound, Operands: []string{"{{stir_verstat}}", "TN-Validation-Failed", "reject", "forbidden"}},
	}
	for _, name := range []string{"carrierx.json", "carrierx.yaml"} {
		path := filepath.Join("testdata", name)
		f, err := LoadFile(path)
		if err != nil {
			t.Fatalf("LoadFile(%s): %v", path, err)
		}
		if f.Name != path {
			t.Errorf("Name = %q, want %q", f.Name, path)
		}
		if got := model(f); !reflect.DeepEqual(got, want) {
			t.Errorf("%s model =\n%+v\nwant\n%+v", name, got, want)
		}
	}
	// Positions in the JSON file, checked against the text itself.
	path := filepath.Join("testdata", "carrierx.json")
	f, _ := LoadFile(path)
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	for i, r := range f.Rules {
		if r.Pos.Line != i+2 || r.Pos.Col != 3 {
			t.Errorf("rule %d at %v, want line %d col 3", i, r.Pos, i+2)
		}
		for _, v := range append([]Value{r.Action}, r.Operands...) {
			checkAt(t, lines, v)
		}
	}
}

// checkAt checks that a quoted value's position points at its opening
// quote and that its text follows.
func checkAt(t *testing.T, lines []string, v Value) {
	t.Helper()
	if v.Pos.Line < 1 || v.Pos.Line > len(lines) {
		t.Errorf("%q at %v: no such line", v.Text, v.Pos)
		return
	}
	line := lines[v.Pos.Line-1]
	at := v.Pos.Col - 1
	if at < 0 || at >= len(line) {
		t.Errorf("%q at %v: column outside %q", v.Text, v.Pos, line)
		return
	}
	rest := line[at:]
	if v.Quoted {
		if rest[0] != '"' && rest[0] != '\'' {
			t.Errorf("%q at %v: quoted value does not start with a quote: %q", v.Text, v.Pos, rest)
			return
		}
		rest = rest[1:]
	}
	// JSON escapes (\\1) make the source differ from the text; compare
	// the text up to the first backslash.
	want, _, _ := strings.Cut(v.Text, `\`)
	if !strings.HasPrefix(rest, want) {
		t.Errorf("%q at %v: source there is %q", v.Text, v.Pos, rest)
	}
}

func TestPositions(t *testing.T) {
	type pos struct{ line, col int }
	tests := []struct {
		name     string
		src      string
		rule     pos
		action   pos
		quoted   bool
		operands []pos
		oquoted  []bool
		when     pos
	}{
		{
			name:     "json one line",
			src:      `[{"action": "log", "operands": ["a", "b"], "when": "true"}]`,
			rule:     pos{1, 2},
			action:   pos{1, 13},
			quoted:   true,
			operands: []pos{{1, 33}, {1, 38}},
			oquoted:  []bool{true, true},
			when:     pos{1, 52},
		},
		{
			name: "json multi line",
			src: `{"transformations": [
  {
    "action": "log",
    "operands": [
      "a",
      "b"
    ],
    "when": "true"
  }
]}`,
			rule:     pos{2, 3},
			action:   pos{3, 15},
			quoted:   true,
			operands: []pos{{5, 7}, {6, 7}},
			oquoted:  []bool{true, true},
			when:     pos{8, 13},
		},
		{
			name:     "yaml plain scalars",
			src:      "- action: log\n  operands: [a, 'b', \"c\"]\n  when: x == 1\n",
			rule:     pos{1, 3},
			action:   pos{1, 11},
			quoted:   false,
			operands: []pos{{2, 14}, {2, 17}, {2, 22}},
			oquoted:  []bool{false, true, true},
			when:     pos{3, 9},
		},
		{
			name:     "yaml block operands",
			src:      "transformations:\n  - action: 'log'\n    operands:\n      - first\n      - \"second\"\n",
			rule:     pos{2, 5},
			action:   pos{2, 13},
			quoted:   true,
			operands: []pos{{4, 9}, {5, 9}},
			oquoted:  []bool{false, true},
		},
		{
			// Columns count bytes: "café" is five bytes.
			name:     "non-ascii before the value",
			src:      `[{"name": "café", "action": "log", "operands": ["é", "x"]}]`,
			rule:     pos{1, 2},
			action:   pos{1, 30},
			quoted:   true,
			operands: []pos{{1, 50}, {1, 56}},
			oquoted:  []bool{true, true},
		},
		{
			// yaml.v3 skips a byte order mark: columns start after it.
			name:   "bom",
			src:    "\ufeff[{\"action\": \"log\"}]",
			rule:   pos{1, 2},
			action: pos{1, 13},
			quoted: true,
		},
		{
			name:     "crlf",
			src:      "- action: log\r\n  operands: [a]\r\n",
			rule:     pos{1, 3},
			action:   pos{1, 11},
			operands: []pos{{2, 14}},
			oquoted:  []bool{false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.src)
			if len(f.Rules) != 1 {
				t.Fatalf("%d rules", len(f.Rules))
			}
			r := f.Rules[0]
			check := func(what string, got Pos, want pos) {
				t.Helper()
				if got.Line != want.line || got.Col != want.col || got.File != "f.json" {
					t.Errorf("%s at %v, want f.json:%d:%d", what, got, want.line, want.col)
				}
			}
			check("rule", r.Pos, tt.rule)
			check("action", r.Action.Pos, tt.action)
			if r.Action.Quoted != tt.quoted {
				t.Errorf("action Quoted = %v", r.Action.Quoted)
			}
			if len(r.Operands) != len(tt.operands) {
				t.Fatalf("%d operands, want %d", len(r.Operands), len(tt.operands))
			}
			for i, o := range r.Operands {
				check("operand", o.Pos, tt.operands[i])
				if o.Quoted != tt.oquoted[i] {
					t.Errorf("operand %d Quoted = %v, want %v", i, o.Quoted, tt.oquoted[i])
				}
			}
			if tt.when != (pos{}) {
				check("when", r.When.Pos, tt.when)
			}
			// Every position points at the value in the source bytes.
			src := strings.TrimPrefix(tt.src, "\ufeff")
			lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
			checkAt(t, lines, r.Action)
			for _, o := range r.Operands {
				checkAt(t, lines, o)
			}
		})
	}
}

func TestScalarOperands(t *testing.T) {
	f := mustParse(t, `- action: x
  operands: [403, -1, 2.50, 1e3, 0x1F, true, False, yes, "null", '~', "", 'it''s']
`)
	want := []string{"403", "-1", "2.50", "1e3", "0x1F", "true", "False", "yes", "null", "~", "", "it's"}
	if got := model(f)[0].Operands; !reflect.DeepEqual(got, want) {
		t.Errorf("operands = %q, want %q", got, want)
	}
	f = mustParse(t, `[{"action": "x", "operands": [1, 2.5, true, false, "\u00e9\t\\1"]}]`)
	want = []string{"1", "2.5", "true", "false", "é\t\\1"}
	if got := model(f)[0].Operands; !reflect.DeepEqual(got, want) {
		t.Errorf("json operands = %q, want %q", got, want)
	}
	f = mustParse(t, "- action: x\n  operands:\n    - |\n      two\n      lines\n")
	if got := f.Rules[0].Operands[0].Text; got != "two\nlines\n" {
		t.Errorf("block scalar = %q", got)
	}
	// An alias to a scalar reads as the anchored string.
	f = mustParse(t, "- action: x\n  operands: [&h X-Foo, *h]\n")
	if got := model(f)[0].Operands; !reflect.DeepEqual(got, []string{"X-Foo", "X-Foo"}) {
		t.Errorf("alias operands = %q", got)
	}
}

func TestTabsInJSON(t *testing.T) {
	f, err := LoadFile(filepath.Join("testdata", "tabs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := model(f); len(got) != 1 || got[0].Action != "set_header" || !reflect.DeepEqual(got[0].Operands, []string{"X-A", "b"}) {
		t.Fatalf("model = %+v", got)
	}
	r := f.Rules[0]
	// Line 3 is "\t\t\"action\":\t\"set_header\"": the value's quote is byte 13.
	if r.Action.Pos.Line != 3 || r.Action.Pos.Col != 13 {
		t.Errorf("action at %v, want line 3 col 13", r.Action.Pos)
	}
	if r.Operands[1].Pos.Line != 4 || r.Operands[1].Pos.Col != 23 {
		t.Errorf("operand 2 at %v, want line 4 col 23", r.Operands[1].Pos)
	}
	// A tab inside a JSON string is written \t and stays a tab.
	f = mustParse(t, "[\t{\"action\": \"x\", \"operands\": [\"a\\tb\"]}\t]")
	if got := f.Rules[0].Operands[0].Text; got != "a\tb" {
		t.Errorf("escaped tab operand = %q", got)
	}
	// A raw tab inside a string (YAML accepts it) is kept, not turned
	// into a space like the indentation around it.
	f = mustParse(t, "[\n\t{\"action\": \"x\", \"operands\": [\"a\tb\", \"q\\\"\tq\"]}\n]")
	if got := model(f)[0].Operands; !reflect.DeepEqual(got, []string{"a\tb", "q\"\tq"}) {
		t.Errorf("raw tab operands = %q", got)
	}
}

// TestLenientJSON documents what the YAML reader accepts beyond strict
// JSON: a trailing comma and unquoted keys (YAML flow syntax).
func TestLenientJSON(t *testing.T) {
	for _, src := range []string{
		"[{\"action\": \"x\", \"operands\": [\"a\",],},]",
		"[{action: x, operands: [a]}]",
	} {
		f := mustParse(t, src)
		if got := model(f); len(got) != 1 || got[0].Action != "x" || !reflect.DeepEqual(got[0].Operands, []string{"a"}) {
			t.Errorf("Parse(%q) model = %+v", src, got)
		}
	}
}

func TestEmptyFiles(t *testing.T) {
	for _, src := range []string{"", "   \n\n", "# just a comment\n", "\ufeff", "\ufeff\n"} {
		f, err := Parse("e.yaml", []byte(src))
		if f != nil {
			t.Errorf("Parse(%q) returned a File", src)
		}
		if err == nil || err.Error() != `e.yaml:1:1: empty rule file (write {"transformations": [...]} or a list of rules)` {
			t.Errorf("Parse(%q) error = %v", src, err)
		}
	}
	// No rules at all is a valid, empty file.
	for _, src := range []string{"[]", `{"transformations": []}`, `{"transformations": null}`, "transformations:\n", "---\n[]\n---\n"} {
		f, err := Parse("e.json", []byte(src))
		if err != nil || f == nil || len(f.Rules) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want an empty File", src, f, err)
		}
	}
}

// TestErrors checks every problem's message, hint and position, in the
// file:line:col: msg (hint) format xformd check prints.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
		// rules are the actions of the partial File; nil when no File is
		// expected.
		rules []string
	}{
		{
			name:  "unknown key with hint",
			src:   `[{"action": "log", "operand": ["x"]}]`,
			want:  []string{`f.json:1:20: unknown key "operand" in rule (did you mean operands?)`},
			rules: []string{},
		},
		{
			name:  "unknown key without a near spelling",
			src:   "- action: log\n  priority: 1\n",
			want:  []string{`f.json:2:3: unknown key "priority" in rule (a rule has action, direction, operands, name, comment, when)`},
			rules: []string{},
		},
		{
			name:  "misspelt action key is a missing action too",
			src:   "- actoin: log\n- action: stop\n",
			want:  []string{`f.json:1:3: unknown key "actoin" in rule (did you mean action?)`, `f.json:1:3: rule 1 has no action`},
			rules: []string{"stop"},
		},
		{
			name:  "duplicate key",
			src:   `[{"action": "log", "operands": ["a"], "operands": ["b"]}, {"action": "stop"}]`,
			want:  []string{`f.json:1:39: duplicate key "operands" in rule`},
			rules: []string{"stop"},
		},
		{
			name:  "bad direction",
			src:   "- action: log\n  direction: inbond\n- action: log\n  direction: sideways\n",
			want:  []string{`f.json:2:14: unknown direction "inbond": use inbound, outbound or any (did you mean inbound?)`, `f.json:4:14: unknown direction "sideways": use inbound, outbound or any`},
			rules: []string{},
		},
		{
			name:  "non-list operands",
			src:   `[{"action": "log", "operands": "x"}, {"action": "log", "operands": {"a": 1}}]`,
			want:  []string{`f.json:1:32: operands must be a list of strings, not a string`, `f.json:1:68: operands must be a list of strings, not a object`},
			rules: []string{},
		},
		{
			name:  "null and nested operands",
			src:   "- action: log\n  operands: [a, null, [b], {c: d}]\n",
			want:  []string{`f.json:2:17: operand 2 is null; write a string`, `f.json:2:23: operand 3 must be a string, not a list`, `f.json:2:28: operand 4 must be a string, not a object`},
			rules: []string{},
		},
		{
			name:  "missing and empty action",
			src:   `[{"operands": ["x"]}, {"action": "  "}, {"action": null}, {"action": 7}]`,
			want:  []string{`f.json:1:2: rule 1 has no action`, `f.json:1:34: action is empty`, `f.json:1:52: action is null; write a string`},
			rules: []string{"7"},
		},
		{
			name:  "rule that is not an object",
			src:   `{"transformations": ["set_header", [1], {"action": "stop"}]}`,
			want:  []string{`f.json:1:22: rule 1 must be an object with action, direction and operands, not a string`, `f.json:1:36: rule 2 must be an object with action, direction and operands, not a list`},
			rules: []string{"stop"},
		},
		{
			name: "non-list transformations",
			src:  `{"transformations": {"action": "log"}}`,
			want: []string{`f.json:1:21: "transformations" must be a list of rules, not a object`},
		},
		{
			name: "misspelt transformations",
			src:  `{"transformation": []}`,
			want: []string{`f.json:1:1: rule file has no "transformations" list (did you mean transformations?)`},
		},
		{
			name: "duplicate transformations",
			src:  "{\"transformations\": [{\"action\": \"a\"}],\n \"transformations\": [{\"action\": \"b\"}]}",
			want: []string{`f.json:2:2: duplicate key "transformations" (merge the two lists)`},
		},
		{
			name: "scalar file",
			src:  "just text\n",
			want: []string{`f.json:1:1: a rule file is an object with "transformations" or a list of rules, not a string`},
		},
		{
			name: "second yaml document",
			src:  "- action: a\n---\n- action: b\n",
			want: []string{`f.json:3:1: rule file holds a second YAML document (put every rule in the first document's list)`},
		},
		{
			name: "json syntax: missing comma",
			src:  "[\n  {\"action\": \"x\",\n   \"operands\": [\"a\" \"b\"]}\n]",
			want: []string{`f.json:3:21: syntax error: invalid character '"' after array element`},
		},
		{
			name: "json syntax: missing colon",
			src:  "{\"transformations\": [\n  {\"action\" \"x\"}\n]}\n",
			want: []string{`f.json:2:13: syntax error: invalid character '"' after object key`},
		},
		{
			name: "json syntax: unterminated",
			src:  "[{\"action\": \"x\"}",
			want: []string{`f.json:1:16: syntax error: unexpected end of JSON input`},
		},
		{
			name: "json syntax: trailing garbage",
			src:  "[{\"action\": \"x\"}]\n]\n",
			want: []string{`f.json:2:1: syntax error: invalid character ']' after top-level value`},
		},
		{
			name: "yaml syntax: bad indentation",
			src:  "- action: x\n  operands: [a]\n operands: [b]\n",
			want: []string{`f.json:3:1: syntax error: did not find expected '-' indicator`},
		},
		{
			name: "yaml syntax: unclosed flow list",
			src:  "- action: x\n- action: y\n  operands: [a\n",
			want: []string{`f.json:3:1: syntax error: did not find expected ',' or ']'`},
		},
		{
			name: "yaml syntax: unclosed quote",
			src:  "- action: x\n- action: 'y\n",
			want: []string{`f.json:2:1: syntax error: found unexpected end of stream`},
		},
		{
			name: "yaml flow syntax error is not blamed on unquoted keys",
			src:  "[\n  {action: x},\n  {action: y, operands: [a\n]\n",
			want: []string{`f.json:3:1: syntax error: did not find expected ',' or '}'`},
		},
		{
			name: "invalid utf-8",
			src:  "- action: x\n- action: \xff\n",
			want: []string{`f.json:2:11: syntax error: invalid leading UTF-8 octet`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("f.json", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q", err.Error())
			}
			if tt.rules == nil {
				if f != nil {
					t.Errorf("File = %+v, want nil", f)
				}
				return
			}
			if f == nil {
				t.Fatalf("no partial File")
			}
			actions := []string{}
			for _, r := range f.Rules {
				actions = append(actions, r.Action.Text)
			}
			if !reflect.DeepEqual(actions, tt.rules) {
				t.Errorf("partial File rules = %q, want %q", actions, tt.rules)
			}
		})
	}
}

// TestPartialFileKeepsIndexes checks that the rules returned with errors
// keep their place in the file, so later errors name the right rule.
func TestPartialFileKeepsIndexes(t *testing.T) {
	f, err := Parse("p.yaml", []byte("- action: a\n- bogus: 1\n- action: c\n  operands: [x]\n"))
	if err == nil {
		t.Fatal("no error")
	}
	if len(f.Rules) != 2 || f.Rules[0].Index != 0 || f.Rules[1].Index != 2 || f.Rules[1].Operands[0].Text != "x" {
		t.Errorf("partial rules = %+v", f.Rules)
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Errorf("error is %T %v, want an ErrorList of 2", err, err)
	}
}

func TestSizeLimit(t *testing.T) {
	big := make([]byte, MaxFileSize+1)
	for i := range big {
		big[i] = ' '
	}
	f, err := Parse("big.json", big)
	if f != nil || err == nil || !strings.Contains(err.Error(), "larger than the 4194304 byte limit") {
		t.Errorf("Parse(4 MiB + 1) = %v, %v", f, err)
	}
	if !strings.HasPrefix(err.Error(), "big.json: ") {
		t.Errorf("error %q does not start with the file name", err)
	}
	// Exactly at the limit is read (and here, empty).
	_, err = Parse("max.json", big[:MaxFileSize])
	if err == nil || !strings.Contains(err.Error(), "empty rule file") {
		t.Errorf("Parse(4 MiB) error = %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err = LoadFile(path)
	if f != nil || err == nil || err.Error() != path+": rule file is larger than the 4194304 byte limit" {
		t.Errorf("LoadFile(big) = %v, %v", f, err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	f, err := LoadFile(missing)
	if f != nil || err == nil || !strings.HasPrefix(err.Error(), missing+": cannot read rule file: ") || !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("LoadFile(missing) = %v, %v", f, err)
	}
	f, err = LoadFile(dir)
	if f != nil || err == nil || err.Error() != dir+": is a directory, not a rule file" {
		t.Errorf("LoadFile(dir) = %v, %v", f, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("- action: a\n- nope: 1\n"), 0o600)
	f, err = LoadFile(bad)
	if err == nil || err.Error() != bad+`:2:3: unknown key "nope" in rule (a rule has action, direction, operands, name, comment, when)`+"\n"+bad+`:2:3: rule 2 has no action` {
		t.Errorf("LoadFile(bad) error = %v", err)
	}
	if f == nil || len(f.Rules) != 1 || f.Name != bad {
		t.Errorf("LoadFile(bad) partial File = %+v", f)
	}
}

// TestJSONEscapes checks JSON that yaml.v3 does not read by itself: \/
// (PHP's json_encode writes it), UTF-16 surrogate pairs (Python's
// json.dumps writes them for emoji), and raw NEL/LS/PS in strings, which
// YAML would fold or count as line breaks. Positions after them on the
// same line still point at the file as written.
func TestJSONEscapes(t *testing.T) {
	tests := []struct {
		op, want string
	}{
		{`"sip:x@h\/y"`, "sip:x@h/y"},
		{`"\/\/"`, "//"},
		{`"\\/"`, `\/`},
		{`"\\\/"`, `\/`},
		{`"\ud83d\ude00 smile"`, "😀 smile"},
		{`"\uD83D\uDE00"`, "😀"},
		{`"lone \ud800 x"`, "lone \uFFFD x"},
		{`"lone \udc00"`, "lone \uFFFD"},
		{`"high then bmp \ud800\u0041"`, "high then bmp \uFFFDA"},
		{`"\u00e9\u0000\b\f\n\r\t\"\\"`, "é\x00\b\f\n\r\t\"\\"},
		{"\"nel\u0085x\"", "nel\u0085x"},
		{"\"ls\u2028ps\u2029x\"", "ls\u2028ps\u2029x"},
	}
	for _, tt := range tests {
		src := `[{"action": "x", "operands": [` + tt.op + `, "next"], "when": "true"}]`
		f, err := Parse("f.json", []byte(src))
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.op, err)
			continue
		}
		ops := f.Rules[0].Operands
		if ops[0].Text != tt.want {
			t.Errorf("operand %s = %q, want %q", tt.op, ops[0].Text, tt.want)
		}
		if want := strings.Index(src, `"next"`) + 1; ops[1].Pos.Col != want || ops[1].Pos.Line != 1 {
			t.Errorf("after %s: next operand at %v, want col %d", tt.op, ops[1].Pos, want)
		}
		if want := strings.Index(src, `"true"`) + 1; f.Rules[0].When.Pos.Col != want {
			t.Errorf("after %s: when at %v, want col %d", tt.op, f.Rules[0].When.Pos, want)
		}
	}
	// Lines are counted as in the file: a raw LS inside a string does not
	// start a new line.
	src := "[{\"action\": \"x\", \"operands\": [\"a\u2028b\"]},\n {\"action\": \"y\"}]"
	f := mustParse(t, src)
	if p := f.Rules[1].Action.Pos; p.Line != 2 || p.Col != 13 {
		t.Errorf("second action at %v, want line 2 col 13", p)
	}
}

// bigJSON is a minified (one line) rule file of about size bytes with
// non-ASCII text and escapes, the worst case for column conversion.
func bigJSON(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"transformations":[`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"action":"set_header","name":"café ☎","operands":["X-A","\/\ud83d\ude00 {{from_user}}"]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// TestBigMinifiedFile guards against column conversion that walks each
// long line from its start for every value (quadratic in the line).
func TestBigMinifiedFile(t *testing.T) {
	data := bigJSON(MaxFileSize - 1024)
	f, err := Parse("big.json", data)
	if err != nil {
		t.Fatal(err)
	}
	last := f.Rules[len(f.Rules)-1]
	checkAt(t, []string{string(data)}, last.Action)
	if op := last.Operands[1]; op.Text != "/😀 {{from_user}}" {
		t.Errorf("last operand = %q", op.Text)
	}
}

func BenchmarkParse(b *testing.B) {
	carrierx, err := os.ReadFile(filepath.Join("testdata", "carrierx.json"))
	if err != nil {
		b.Fatal(err)
	}
	yml, err := os.ReadFile(filepath.Join("testdata", "carrierx.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		data []byte
	}{{"carrierx.json", carrierx}, {"carrierx.yaml", yml}, {"minified-1MB", bigJSON(1 << 20)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if _, err := Parse(bc.name, bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
