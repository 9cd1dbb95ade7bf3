package sipmsg

import "testing"

// BenchmarkFieldSet measures set_header on the call path: one existing
// header replaced in place, three collapsed into one, and a typed Contact.
func BenchmarkFieldSet(b *testing.B) {
	for _, bc := range []struct{ name, field, value string }{
		{"single", "X-Bar", "new"},
		{"multiple", "X-Foo", "only"},
		{"absent", "X-New", "v"},
		{"typed-contact", "Contact", "<sip:bob@198.51.100.7:5070>"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := MakeField(bc.field)
			reqs := make([]Message, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				// Parsing is not what we measure: parse a batch outside the timer.
				if len(reqs) == 0 {
					b.StopTimer()
					for range 64 {
						reqs = append(reqs, parse(b, invite))
					}
					b.StartTimer()
				}
				m := reqs[len(reqs)-1]
				reqs = reqs[:len(reqs)-1]
				if _, err := f.Set(m, bc.value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNameMatches measures header matching, which every header
// action does for every header of the message.
func BenchmarkNameMatches(b *testing.B) {
	n := MakeName("Supported")
	hs := []string{"Via", "From", "To", "Call-ID", "CSeq", "k", "X-Foo", "supported"}
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		for _, h := range hs {
			if n.Matches(h) {
				k++
			}
		}
	}
	if k == 0 {
		b.Fatal("no match")
	}
}
