package templates

import (
	"strings"
	"testing"
)

// nameEnv resolves every valid name and renders a variable as "<name>".
type nameEnv struct{ names []string }

func (e *nameEnv) resolve(name string) (Ref, error) {
	e.names = append(e.names, name)
	return Ref(len(e.names) - 1), nil
}

func (e *nameEnv) Lookup(ref Ref) string { return "<" + e.names[ref] + ">" }

var unescape = strings.NewReplacer(`\{{`, "{{", `\<<`, "<<")

// FuzzTemplate compiles and renders arbitrary operand text. Compile must
// never panic; an error must point into the source at an opening
// delimiter; a compiled template's segments must be well formed and render
// the same way through Render and AppendTo; a template without variables
// renders its source with only the two escapes removed.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"", "plain", "{{from_user}}", "{{ x }}-<<y>>", `\{{x}}`, `\<<`, `\1*`, `\\{{x}}`,
		"{{", "<<x", "{{x}", "{{}}", "{{header.X-Foo}}", "{{{x}}}", "(.{1,14})", "a\\", "é{{é}}",
		"{{stir_verstat}}:{{stir_attest}}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		env := &nameEnv{}
		tmpl, err := Compile(src, env.resolve)
		if err != nil {
			te, ok := err.(*Error)
			if !ok {
				t.Fatalf("Compile(%q) error %T", src, err)
			}
			if te.Offset < 0 || te.Offset >= len(src) {
				t.Fatalf("Compile(%q) offset %d outside the source", src, te.Offset)
			}
			if d := src[te.Offset:]; !strings.HasPrefix(d, "{{") && !strings.HasPrefix(d, "<<") {
				t.Fatalf("Compile(%q) offset %d points at %q", src, te.Offset, d)
			}
			return
		}
		hasVar := false
		segs := tmpl.Segments()
		for i, s := range segs {
			if s.Var {
				hasVar = true
				if !ValidName(s.Name) || env.names[s.Ref] != s.Name {
					t.Fatalf("Compile(%q) segment %d: bad variable %+v", src, i, s)
				}
				continue
			}
			if s.Literal == "" {
				t.Fatalf("Compile(%q) segment %d is an empty literal", src, i)
			}
			if i > 0 && !segs[i-1].Var {
				t.Fatalf("Compile(%q) segments %d and %d are both literals", src, i-1, i)
			}
		}
		if tmpl.IsLiteral() == hasVar {
			t.Fatalf("Compile(%q) IsLiteral = %v with variables %v", src, tmpl.IsLiteral(), hasVar)
		}
		out := tmpl.Render(env)
		if app := string(tmpl.AppendTo(nil, env)); app != out {
			t.Fatalf("Compile(%q): Render %q != AppendTo %q", src, out, app)
		}
		if !hasVar {
			if want := unescape.Replace(src); out != want {
				t.Fatalf("literal %q renders %q, want %q", src, out, want)
			}
		}
		// Every escape and every "{{name}}" (rendered "<name>") is
		// longer in the source than in the output.
		if len(out) > len(src) {
			t.Fatalf("Compile(%q) renders %d bytes: %q", src, len(out), out)
		}
	})
}
