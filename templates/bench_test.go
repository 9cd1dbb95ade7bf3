package templates

import "testing"

// BenchmarkRender renders the operand shapes of the CarrierX file: a
// literal, a single variable, and a variable-literal-variable mix.
func BenchmarkRender(b *testing.B) {
	v := vars()
	for _, bc := range []struct{ name, src string }{
		{"literal", "POSSIBLE FRAUD"},
		{"variable", "{{stir_verstat}}"},
		{"mixed", "{{stir_verstat}}-{{stir_attest}}"},
		{"five-segments", "x<<stir_attest>>y{{from_user}}z"},
	} {
		tmpl, err := Compile(bc.src, v.resolve)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tmpl.Render(v) == "" {
					b.Fatal("empty render")
				}
			}
		})
	}
}

// BenchmarkAppendTo renders into a reused buffer, as a caller building a
// header value does.
func BenchmarkAppendTo(b *testing.B) {
	v := vars()
	tmpl, err := Compile("{{stir_verstat}}-{{stir_attest}}", v.resolve)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = tmpl.AppendTo(buf[:0], v)
	}
}

// BenchmarkCompile is load-time work, measured to keep reloads fast.
func BenchmarkCompile(b *testing.B) {
	v := vars()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`{{stir_verstat}}:{{stir_attest}} \{{literal}} <<from_user>>`, v.resolve); err != nil {
			b.Fatal(err)
		}
	}
}
