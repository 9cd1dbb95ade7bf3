package templates

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// testVars is the resolver and environment the tests use: every known
// name has a Ref (its index) and a value.
type testVars struct {
	names  []string
	values []string
}

func newVars(kv ...string) *testVars {
	v := &testVars{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.names = append(v.names, kv[i])
		v.values = append(v.values, kv[i+1])
	}
	return v
}

var errUnknown = errors.New("unknown variable")

func (v *testVars) resolve(name string) (Ref, error) {
	for i, n := range v.names {
		if n == name {
			return Ref(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q (did you mean from_user?)", errUnknown, name)
}

func (v *testVars) Lookup(ref Ref) string { return v.values[ref] }

func vars() *testVars {
	return newVars(
		"from_user", "+12155551212",
		"stir_verstat", "TN-Validation-Passed",
		"stir_attest", "A",
		"header.X-Foo", "foo value",
		"_x9", "x",
		"empty", "",
	)
}

func TestCompileRender(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
		// segs describes the segments: "lit:text" or "var:name".
		segs    []string
		literal bool
	}{
		{name: "empty", src: "", want: "", segs: nil, literal: true},
		{name: "literal", src: "POSSIBLE FRAUD", want: "POSSIBLE FRAUD", segs: []string{"lit:POSSIBLE FRAUD"}, literal: true},
		{name: "variable", src: "{{from_user}}", want: "+12155551212", segs: []string{"var:from_user"}},
		{name: "spaces inside braces", src: "{{ from_user }}", want: "+12155551212", segs: []string{"var:from_user"}},
		{name: "tabs inside braces", src: "{{\tfrom_user\t}}", want: "+12155551212", segs: []string{"var:from_user"}},
		{name: "angle spelling", src: "<<from_user>>", want: "+12155551212", segs: []string{"var:from_user"}},
		{name: "angle with spaces", src: "<< stir_attest >>", want: "A", segs: []string{"var:stir_attest"}},
		{name: "mixed", src: "{{stir_verstat}}-{{stir_attest}}", want: "TN-Validation-Passed-A",
			segs: []string{"var:stir_verstat", "lit:-", "var:stir_attest"}},
		{name: "both spellings", src: "x<<stir_attest>>y{{from_user}}z", want: "xAy+12155551212z",
			segs: []string{"lit:x", "var:stir_attest", "lit:y", "var:from_user", "lit:z"}},
		{name: "header name", src: "[{{header.X-Foo}}]", want: "[foo value]", segs: []string{"lit:[", "var:header.X-Foo", "lit:]"}},
		{name: "underscore and digits", src: "{{_x9}}", want: "x", segs: []string{"var:_x9"}},
		{name: "empty value", src: "a{{empty}}b", want: "ab", segs: []string{"lit:a", "var:empty", "lit:b"}},
		{name: "escaped braces", src: `\{{from_user}}`, want: "{{from_user}}", segs: []string{"lit:{{from_user}}"}, literal: true},
		{name: "escaped angles", src: `\<<x>>`, want: "<<x>>", segs: []string{"lit:<<x>>"}, literal: true},
		{name: "escape then variable", src: `\{{ is {{stir_attest}}`, want: "{{ is A", segs: []string{"lit:{{ is ", "var:stir_attest"}},
		{name: "regex backreference kept", src: `\1*`, want: `\1*`, segs: []string{`lit:\1*`}, literal: true},
		{name: "other backslashes kept", src: `a\b\\c\{x\<y\`, want: `a\b\\c\{x\<y\`, segs: []string{`lit:a\b\\c\{x\<y\`}, literal: true},
		{name: "double backslash before braces", src: `\\{{from_user}}`, want: `\{{from_user}}`, segs: []string{`lit:\{{from_user}}`}, literal: true},
		{name: "single braces are literal", src: "{a} <b> }} >> {x", want: "{a} <b> }} >> {x", segs: []string{"lit:{a} <b> }} >> {x"}, literal: true},
		{name: "regex quantifier", src: "(.{1,14})", want: "(.{1,14})", segs: []string{"lit:(.{1,14})"}, literal: true},
		{name: "extra closing brace", src: "{{stir_attest}}}", want: "A}", segs: []string{"var:stir_attest", "lit:}"}},
		{name: "unicode literal", src: "Ünï {{stir_attest}} ☎", want: "Ünï A ☎", segs: []string{"lit:Ünï ", "var:stir_attest", "lit: ☎"}},
		{name: "adjacent variables", src: "{{stir_attest}}{{stir_attest}}<<stir_attest>>", want: "AAA",
			segs: []string{"var:stir_attest", "var:stir_attest", "var:stir_attest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vars()
			tmpl, err := Compile(tt.src, v.resolve)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			if got := tmpl.Render(v); got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
			if got := string(tmpl.AppendTo([]byte("pre:"), v)); got != "pre:"+tt.want {
				t.Errorf("AppendTo = %q, want %q", got, "pre:"+tt.want)
			}
			var segs []string
			for _, s := range tmpl.Segments() {
				if s.Var {
					segs = append(segs, "var:"+s.Name)
					if v.names[s.Ref] != s.Name {
						t.Errorf("segment %s has Ref %d (%s)", s.Name, s.Ref, v.names[s.Ref])
					}
				} else {
					segs = append(segs, "lit:"+s.Literal)
				}
			}
			if !reflect.DeepEqual(segs, tt.segs) {
				t.Errorf("segments = %q, want %q", segs, tt.segs)
			}
			if got := tmpl.IsLiteral(); got != tt.literal {
				t.Errorf("IsLiteral = %v, want %v", got, tt.literal)
			}
			if tmpl.Source() != tt.src {
				t.Errorf("Source = %q", tmpl.Source())
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src    string
		offset int
		msg    string
	}{
		{"{{from_user", 0, `unclosed "{{" at offset 0: close it with "}}", or write \{{ for a literal {{`},
		{"abc {{from_user}", 4, `unclosed "{{" at offset 4`},
		{"<<from_user", 0, `unclosed "<<" at offset 0: close it with ">>", or write \<< for a literal <<`},
		{"x <<from_user}}", 2, `unclosed "<<"`},
		{"{{from_user>>", 0, `unclosed "{{"`},
		{"ok {{from_user}} then {{", 22, `unclosed "{{" at offset 22`},
		{"{{}}", 0, `invalid variable name "" in {{...}}`},
		{"{{ }}", 0, `invalid variable name ""`},
		{"a{{from user}}", 1, `invalid variable name "from user"`},
		{"{{9lives}}", 0, `invalid variable name "9lives"`},
		{"{{from-user}}", 0, `invalid variable name "from-user"`},
		{"<<a.b>>", 0, `invalid variable name "a.b" in <<...>>`},
		{"{{header.}}", 0, `invalid variable name "header."`},
		{"{{header.X Foo}}", 0, `invalid variable name "header.X Foo"`},
		{"{{header.X:Foo}}", 0, `invalid variable name "header.X:Foo"`},
		{"{{{x}}}", 0, `invalid variable name "{x"`},
		{"{{é}}", 0, `invalid variable name "é"`},
		{"é{{stir_verstatt}}", 2, `unknown variable "stir_verstatt" (did you mean from_user?)`},
		{"{{header.X-Bar}}", 0, `unknown variable "header.X-Bar"`},
	}
	for _, tt := range tests {
		tmpl, err := Compile(tt.src, vars().resolve)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want an error", tt.src, tmpl.Segments())
			continue
		}
		if tmpl != nil {
			t.Errorf("Compile(%q) returned a template with its error", tt.src)
		}
		var te *Error
		if !errors.As(err, &te) {
			t.Errorf("Compile(%q) error is %T, want *Error", tt.src, err)
			continue
		}
		if te.Offset != tt.offset {
			t.Errorf("Compile(%q) offset = %d, want %d", tt.src, te.Offset, tt.offset)
		}
		if !strings.HasPrefix(te.Error(), tt.msg) {
			t.Errorf("Compile(%q) error = %q, want it to start %q", tt.src, te.Error(), tt.msg)
		}
		// The offset points at the opening delimiter.
		if d := tt.src[te.Offset:]; !strings.HasPrefix(d, "{{") && !strings.HasPrefix(d, "<<") {
			t.Errorf("Compile(%q) offset %d points at %q", tt.src, te.Offset, d)
		}
	}
}

// TestResolverErrorPropagated checks that the resolver's own error is
// reachable with errors.Is/As, so callers can tell unknown variables from
// syntax errors and keep their hints.
func TestResolverErrorPropagated(t *testing.T) {
	_, err := Compile("x {{nope}}", vars().resolve)
	if !errors.Is(err, errUnknown) {
		t.Errorf("error %v does not wrap the resolver's error", err)
	}
	var te *Error
	if !errors.As(err, &te) || te.Err == nil || te.Unwrap() != te.Err {
		t.Errorf("Error.Err/Unwrap = %v", te)
	}
	// Syntax errors have no cause.
	_, err = Compile("{{", vars().resolve)
	if errors.As(err, &te) && te.Unwrap() != nil {
		t.Errorf("syntax error unwraps to %v", te.Unwrap())
	}
	// The resolver sees the trimmed name, once per reference.
	var seen []string
	_, err = Compile("{{ a }}<<b>>{{a}}", func(name string) (Ref, error) {
		seen = append(seen, name)
		return Ref(len(seen)), nil
	})
	if err != nil || !reflect.DeepEqual(seen, []string{"a", "b", "a"}) {
		t.Errorf("resolver saw %q, err %v", seen, err)
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"a", "_", "from_user", "X9", "header.X-Foo", "header.P-Asserted-Identity", "header.a.b!%*_+`'~"} {
		if !ValidName(n) {
			t.Errorf("ValidName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "9", "a-b", "a.b", "header.", "header", "header.a b", "header.a:b", "Header.X", "é", "a b", "header.é"} {
		if n == "header" {
			// "header" alone is an ordinary name.
			if !ValidName(n) {
				t.Errorf("ValidName(header) = false")
			}
			continue
		}
		if ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
}

func TestNilAndZeroTemplate(t *testing.T) {
	var nilT *Template
	if nilT.Render(nil) != "" || nilT.Source() != "" || nilT.Segments() != nil || !nilT.IsLiteral() {
		t.Error("nil *Template does not behave as empty")
	}
	if got := nilT.AppendTo([]byte("x"), nil); string(got) != "x" {
		t.Errorf("nil AppendTo = %q", got)
	}
	var zero Template
	if zero.Render(nil) != "" || !zero.IsLiteral() {
		t.Error("zero Template does not render as empty")
	}
	// A literal template renders without an Env.
	lit, err := Compile(`a\{{b`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := lit.Render(nil); got != "a{{b" {
		t.Errorf("literal Render(nil) = %q", got)
	}
}

func TestRenderAllocations(t *testing.T) {
	v := vars()
	tests := []struct {
		src  string
		max  float64
		want string
	}{
		{"POSSIBLE FRAUD", 0, "POSSIBLE FRAUD"},
		{"{{stir_verstat}}", 0, "TN-Validation-Passed"},
		{"", 0, ""},
		{"{{stir_verstat}}-{{stir_attest}}", 1, "TN-Validation-Passed-A"},
		// Past Render's 128-byte stack buffer: the buffer grows once.
		{strings.Repeat("long ", 40) + "{{from_user}}", 2, strings.Repeat("long ", 40) + "+12155551212"},
	}
	for _, tt := range tests {
		tmpl, err := Compile(tt.src, v.resolve)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		allocs := testing.AllocsPerRun(200, func() { got = tmpl.Render(v) })
		if got != tt.want {
			t.Errorf("Render(%q) = %q", tt.src, got)
		}
		if allocs > tt.max {
			t.Errorf("Render(%q) allocates %v times, want at most %v", tt.src, allocs, tt.max)
		}
		buf := make([]byte, 0, 512)
		allocs = testing.AllocsPerRun(200, func() { buf = tmpl.AppendTo(buf[:0], v) })
		if allocs != 0 {
			t.Errorf("AppendTo(%q) into a large enough buffer allocates %v times", tt.src, allocs)
		}
	}
}
