package actions_test

import (
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/engine"
)

// BenchmarkPipeline runs the CarrierX chain (stir_validate replaced by
// set_variable rules presetting a passed A attestation) on a parsed INVITE:
// the per-call cost of the rule engine itself. Each iteration gets a fresh
// copy of the request, made with the timer stopped.
func BenchmarkPipeline(b *testing.B) {
	for _, bc := range []struct{ name, verstat, attest, invite string }{
		{"passed_A", "TN-Validation-Passed", "A", "invite_signed_a.sip"},
		{"unsigned", "No-TN-Validation", "", "invite_unsigned.sip"},
		{"failed", "TN-Validation-Failed", "C", "invite_tampered.sip"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := carrierxPreset(b, bc.verstat, bc.attest)
			p := compile(b, src)
			req := readRequest(b, filepath.Join("testdata", bc.invite))
			reqs := make([]*sip.Request, 0, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if len(reqs) == 0 {
					b.StopTimer()
					for len(reqs) < cap(reqs) {
						reqs = append(reqs, req.Clone())
					}
					b.StartTimer()
				}
				r := reqs[len(reqs)-1]
				reqs = reqs[:len(reqs)-1]
				c := engine.NewCall(r)
				res := p.Run(c)
				if res.Disposition.Kind == engine.Redirect {
					b.Fatal("unexpected redirect")
				}
			}
		})
	}
}
