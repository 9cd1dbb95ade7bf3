package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to Parse. Parse must never panic, and
// whatever it returns must be self-consistent: every error is positioned in
// the file it was given, and every rule it returns has an action.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang is a bug too: crash the worker so that the fuzzer
		// records the input.
		watchdog := time.AfterFunc(20*time.Second, func() {
			panic(fmt.Sprintf("Parse has run for 20s on %q", data))
		})
		defer watchdog.Stop()
		file, err := Parse("fuzz.json", data)
		if err == nil && file == nil {
			t.Fatal("nil File and nil error")
		}
		for _, e := range Errors(err) {
			if e.Pos.File != "fuzz.json" {
				t.Errorf("error %q has file %q", e, e.Pos.File)
			}
			if e.Pos.Line < 0 || e.Pos.Col < 0 {
				t.Errorf("error %q has a negative position", e)
			}
			if e.Msg == "" {
				t.Errorf("error without a message at %v", e.Pos)
			}
		}
		if file == nil {
			return
		}
		if err == nil && json.Valid(data) {
			compareJSON(t, data, file)
		}
		// yaml.v3 also breaks lines at CR, NEL, LS and PS: an upper bound.
		lines := 1
		for _, brk := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += strings.Count(string(data), brk)
		}
		for i, r := range file.Rules {
			if strings.TrimSpace(r.Action.Text) == "" {
				t.Errorf("rule %d has no action", i)
			}
			if r.Pos.Line < 1 || r.Pos.Line > lines+1 || r.Pos.Col < 1 {
				t.Errorf("rule %d at %v outside a %d line file", i, r.Pos, lines)
			}
			// A quoted value's byte column points at its opening quote.
			for _, v := range append([]Value{r.Action, r.When}, r.Operands...) {
				if !v.Quoted {
					continue
				}
				if c, ok := byteAt(data, v.Pos, json.Valid(bytes.TrimPrefix(data, []byte("\ufeff")))); !ok || (c != '"' && c != '\'') {
					t.Errorf("quoted %q at %v: byte there is %q", v.Text, v.Pos, c)
				}
			}
		}
	})
}

var fuzzSeeds = []string{
	`{"transformations": [{"action": "set_header", "direction": "inbound", "operands": ["X-A", "{{from_user}}"]}]}`,
	`[{"action": "reject", "operands": [403]}]`,
	"- action: log\n  when: from_user == \"1\"\n  operands: [hi]\n",
	"",
	"\ufeff[]",
	"[\n\t{\"action\":\t\"x\"}\n]",
	"{\"transformations\": null}",
	"- &a x\n- *a\n",
	"---\n[]\n---\n[]\n",
	"[{\"name\": \"café\", \"action\": \"x\", \"operands\": [\"é\", null, 1.5, true]}]",
	"{\"transformations\": [1, \"a\", [], {}]}",
	"- {action: a, action: b, bogus: c, direction: sideways, operands: x}",
	"[{\"action\": \"a\\/b\", \"operands\": [\"\\ud83d\\ude00\", \"\u2028\", \"\\ud800\", \"x\u0085y\"], \"when\": \"\\/\"}]",
	"[{\"action\": \"x\",\r\"operands\": [\"a\"]}]",
}

// byteAt returns the byte at pos in data (after a byte order mark), with
// lines broken where YAML breaks them, or for JSON at LF and CR only (NEL,
// LS and PS can occur only inside JSON strings, where they break nothing).
func byteAt(data []byte, pos Pos, isJSON bool) (byte, bool) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	line := 1
	start := 0
	for i := 0; i < len(data) && line < pos.Line; i++ {
		n := 0
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			n = 2
		case data[i] == '\r', data[i] == '\n':
			n = 1
		case isJSON:
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			n = 2
		case bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			n = 3
		}
		if n > 0 {
			i += n - 1
			line++
			start = i + 1
		}
	}
	at := start + pos.Col - 1
	if line != pos.Line || at < 0 || at >= len(data) {
		return 0, false
	}
	return data[at], true
}

// compareJSON checks Parse against encoding/json on a valid JSON file: the
// YAML reader must see the same actions and operands.
func compareJSON(t *testing.T, data []byte, file *File) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return
	}
	if m, ok := doc.(map[string]any); ok {
		doc = m["transformations"]
	}
	list, _ := doc.([]any)
	if len(list) != len(file.Rules) {
		t.Fatalf("encoding/json sees %d rules, Parse %d", len(list), len(file.Rules))
	}
	text := func(v any) string {
		switch v := v.(type) {
		case string:
			return v
		case json.Number:
			return v.String()
		case bool:
			return fmt.Sprint(v)
		}
		return fmt.Sprintf("<%T>", v)
	}
	for i, r := range list {
		m, _ := r.(map[string]any)
		if got, want := file.Rules[i].Action.Text, strings.TrimSpace(text(m["action"])); got != want {
			t.Fatalf("rule %d: Parse reads action %q, encoding/json %q", i, got, want)
		}
		ops, _ := m["operands"].([]any)
		if len(ops) != len(file.Rules[i].Operands) {
			t.Fatalf("rule %d: Parse reads %d operands, encoding/json %d", i, len(file.Rules[i].Operands), len(ops))
		}
		for j, o := range ops {
			if got, want := file.Rules[i].Operands[j].Text, text(o); got != want {
				t.Fatalf("rule %d operand %d: Parse reads %q, encoding/json %q", i, j, got, want)
			}
		}
	}
}
