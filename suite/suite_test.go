package suite

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExamples runs every example suite: the rule files, INVITEs and
// expectations in examples/ must agree.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*", "tests.yaml"))
	if len(files) < 4 {
		t.Fatalf("found %d example suites, want 4", len(files))
	}
	r := NewRunner()
	defer r.Close()
	for _, path := range files {
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range r.Run(f, Options{}) {
			if !res.Passed() {
				t.Errorf("%s: err %v, failures %q", res.Where(), res.Err, res.Failures)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "empty suite file"},
		{"no cases", "rules: r.json\n", "suite has no cases"},
		{"case without invite", "cases:\n  - name: x\n", `case "x" has no invite`},
		{"misspelt expectation", "cases:\n  - invite: a.sip\n    expect: {dispositon: forward}\n", `line 3: unknown key "dispositon" in expect (did you mean disposition?)`},
		{"misspelt setting", "trst: pki\ncases:\n  - invite: a.sip\n", `unknown key "trst" in the suite (did you mean trust?)`},
		{"unknown key, no hint", "cases:\n  - invite: a.sip\n    zzzzzz: 1\n", `unknown key "zzzzzz" in a case (keys: direction, expect, index, invite, name, now, rules, sign, trust, x5u)`},
		{"bad yaml", "cases: [\n", "did not find expected node content"},
		{"null header value", "cases:\n  - invite: a.sip\n    expect: {headers: {X-A: null}}\n", "list it in headers_absent"},
		{"headers value of wrong kind", "cases:\n  - invite: a.sip\n    expect: {headers: {X-A: {b: c}}}\n", "want a string or a list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	f, err := Parse("dir/s.yaml", []byte("rules: r.json\nnow: \"@1768471200\"\ncases:\n  - invite: a.sip\n  - name: two\n    rules: other.yaml\n    direction: outbound\n    invite: b.sip\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Cases[0].Name != "case 1" || f.Cases[0].line != 4 || f.Cases[1].line != 5 {
		t.Errorf("names/lines: %q %d %d", f.Cases[0].Name, f.Cases[0].line, f.Cases[1].line)
	}
	s := f.merged(&f.Cases[1])
	if s.Rules != "other.yaml" || s.Direction != "outbound" || s.Now != "@1768471200" {
		t.Errorf("merged settings %+v", s)
	}
	cfg, err := f.config(s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Now.Unix() != 1768471200 {
		t.Errorf("now %v", cfg.Now)
	}
	if got := f.resolve("a.sip"); got != filepath.Join("dir", "a.sip") {
		t.Errorf("resolve: %s", got)
	}
}

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		unix int64
		ok   bool
	}{
		{"2026-01-15T10:00:00Z", 1768471200, true},
		{"2026-01-15T11:00:00+01:00", 1768471200, true},
		{"@1768471200", 1768471200, true},
		{"@12x", 0, false},
		{"tomorrow", 0, false},
	} {
		got, err := ParseTime(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got.Unix() != tt.unix) {
			t.Errorf("ParseTime(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// TestFailures checks the message of every kind of unmet expectation on
// one replayed INVITE (the signed A call of the carrierx-stir example).
func TestFailures(t *testing.T) {
	ex, _ := filepath.Abs(filepath.Join("..", "examples", "carrierx-stir"))
	head := "rules: " + ex + "/rules.json\nnow: \"2026-01-15T10:00:00Z\"\ntrust: " + ex + "/pki/trust\n" +
		"x5u: {https://cert.example.org/shaken.pem: " + ex + "/pki/shaken.pem}\ncases:\n  - invite: " + ex + "/invites/signed-a.sip\n    expect:\n"
	tests := []struct {
		name, expect string
		want         []string
	}{
		{"all hold", "      disposition: forward\n      status: 0\n      variables: {stir_attest: A}\n      headers: {X-StirResult: TN-Validation-Passed-A}\n      headers_present: [Identity]\n      headers_absent: [X-Nope]\n      headers_match: {Identity: 'ppt=shaken$'}\n      display_name: Alice Wonderla*nd-Smith\n      from_user: \"12155551212\"\n      ruri_user: \"12155550000\"\n      identity: {attest: A, orig: \"12155551212\", dest: [\"12155550000\"], verified: true}\n", nil},
		{"disposition", "      disposition: reject\n", []string{"disposition: expected reject, got forward"}},
		{"status", "      status: 403\n", []string{"status: expected 403, got 0 (forward)"}},
		{"reason", "      reason: Forbidden\n", []string{`reason: expected "Forbidden", got ""`}},
		{"target", "      target: sip:x@y\n", []string{`target: expected "sip:x@y", got ""`}},
		{"variable value", "      variables: {stir_attest: B}\n", []string{`variable stir_attest: expected "B", got "A"`}},
		{"unknown variable", "      variables: {nope: x}\n", []string{`variable nope: expected "x", but the rules know no such variable`}},
		{"header value", "      headers: {X-StirResult: x}\n", []string{`header X-StirResult: expected "x", got "TN-Validation-Passed-A"`}},
		{"header list", "      headers: {X-StirResult: [a, b]}\n", []string{`header X-StirResult: expected ["a", "b"], got ["TN-Validation-Passed-A"]`}},
		{"header absent", "      headers: {X-Nope: x}\n", []string{`header X-Nope: expected ["x"], but it is absent`}},
		{"present", "      headers_present: [X-Nope]\n", []string{"header X-Nope: expected present, but it is absent"}},
		{"absent", "      headers_absent: [x-stirresult]\n", []string{`header x-stirresult: expected absent, got ["TN-Validation-Passed-A"]`}},
		{"match", "      headers_match: {X-StirResult: '^B'}\n", []string{`header X-StirResult: expected to match "^B", got "TN-Validation-Passed-A"`}},
		{"bad regexp", "      headers_match: {X-StirResult: '('}\n", []string{"headers_match X-StirResult: invalid regular expression: error parsing regexp: missing closing ): `(`"}},
		{"display", "      display_name: Alice\n", []string{`display name: expected "Alice", got "Alice Wonderla*nd-Smith"`}},
		{"ruri", "      ruri: sip:x@y\n", []string{`Request-URI: expected "sip:x@y", got "sip:12155550000@xformd.example.net"`}},
		{"identity claims", "      identity: {attest: B, orig: \"1\", dest: \"2\", origid: x, x5u: https://x}\n", []string{
			`identity attest: expected "B", got "A"`, `identity orig.tn: expected "1", got "12155551212"`, `identity dest.tn: expected ["2"], got ["12155550000"]`,
			`identity origid: expected "x", got "4437c7eb-8f7a-4f0e-a863-f53a0e60251a"`, `identity x5u: expected "https://x", got "https://cert.example.org/shaken.pem"`}},
	}
	r := NewRunner()
	defer r.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(filepath.Join(t.TempDir(), "s.yaml"), []byte(head+tt.expect))
			if err != nil {
				t.Fatal(err)
			}
			res := r.Run(f, Options{})[0]
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if strings.Join(res.Failures, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(res.Failures, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCaseErrors(t *testing.T) {
	dir := t.TempDir()
	ex, _ := filepath.Abs(filepath.Join("..", "examples", "carrierx-stir"))
	two := filepath.Join(dir, "two.sip")
	a, _ := os.ReadFile(filepath.Join(ex, "invites", "signed-a.sip"))
	b, _ := os.ReadFile(filepath.Join(ex, "invites", "unsigned.sip"))
	if err := os.WriteFile(two, append(append([]byte{}, a...), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"action": "nope"}]`), 0o644)
	tests := []struct {
		name, doc, want string
	}{
		{"no rules", "cases:\n  - invite: " + two + "\n", "no rules file"},
		{"two INVITEs", "rules: " + ex + "/rules.json\ncases:\n  - invite: " + two + "\n", "invite holds 2 INVITEs: choose one with index: N"},
		{"index out of range", "rules: " + ex + "/rules.json\ncases:\n  - invite: " + two + "\n    index: 3\n", "no INVITE number 3"},
		{"rules do not compile", "rules: " + bad + "\ncases:\n  - invite: " + two + "\n    index: 1\n", `bad.json:1:13: unknown action "nope"`},
		{"bad direction", "rules: " + ex + "/rules.json\ndirection: up\ncases:\n  - invite: " + two + "\n    index: 1\n", "invalid direction"},
		{"bad now", "rules: " + ex + "/rules.json\nnow: soon\ncases:\n  - invite: " + two + "\n    index: 1\n", `now: invalid time "soon"`},
		{"missing invite file", "rules: " + ex + "/rules.json\ncases:\n  - invite: nope.sip\n", "cannot open capture"},
		{"inline not SIP", "rules: " + ex + "/rules.json\ncases:\n  - invite: \"hello\\nworld\\n\"\n", "is not the start of a SIP message"},
		{"sign key missing", "rules: " + ex + "/rules.json\nsign: {key: nope.pem, x5u: https://x/y.pem}\ncases:\n  - invite: " + two + "\n    index: 1\n", "STIR signer"},
	}
	r := NewRunner()
	defer r.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(filepath.Join(dir, "s.yaml"), []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			res := r.Run(f, Options{})[0]
			if res.Err == nil || !strings.Contains(res.Err.Error(), tt.want) {
				t.Errorf("err %v, want %q", res.Err, tt.want)
			}
			if res.Passed() {
				t.Errorf("a case that cannot run passed")
			}
		})
	}
	// index picks the INVITE; -run selects cases.
	f, err := Parse(filepath.Join(dir, "s.yaml"), []byte("rules: "+ex+"/rules.json\nnow: \"2026-01-15T10:00:00Z\"\ncases:\n  - name: first\n    invite: "+two+"\n    index: 2\n    expect: {display_name: POSSIBLE FRAUD}\n  - name: second\n    invite: "+two+"\n    index: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(f, Options{Run: regexp.MustCompile("^first$")})
	if len(res) != 1 || !res[0].Passed() {
		t.Fatalf("want one passing case, got %d: %+v", len(res), res)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*", "tests.yaml"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("cases: [{invite: a, expect: {headers: {A: [b, c]}}}]"))
	f.Add([]byte("cases:\n  - invite: x\n    expect: {identity: {dest: 1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err == nil && len(s.Cases) == 0 {
			t.Fatalf("a suite without cases parsed")
		}
	})
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/tests.yaml", "b/c/x.tests.yaml", "b/other.yaml", "empty/.keep"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Find([]string{dir, "single.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a", "tests.yaml"), filepath.Join(dir, "b", "c", "x.tests.yaml"), "single.yaml"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Find = %q, want %q", got, want)
	}
	if _, err := Find([]string{filepath.Join(dir, "empty")}); err == nil || !strings.Contains(err.Error(), "no suite files") {
		t.Errorf("empty directory: %v", err)
	}
}
