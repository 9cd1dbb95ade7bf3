package actions_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xformd/xformd/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

// carrierxPreset returns the CarrierX chain of examples/carrierx-stir with
// its stir_validate rule replaced by set_variable rules that preset the
// STIR results, as the rule-engine issue's golden test asks.
func carrierxPreset(t testing.TB, verstat, attest string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/carrierx-stir/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	const validate = `{"action": "stir_validate", "direction": "inbound", "operands": []},`
	src := string(b)
	if !strings.Contains(src, validate) {
		t.Fatalf("examples/carrierx-stir/rules.json no longer starts with the stir_validate rule")
	}
	preset := fmt.Sprintf(`{"action": "set_variable", "direction": "inbound", "operands": ["stir_verstat", %q]},
  {"action": "set_variable", "direction": "inbound", "operands": ["stir_attest", %q]},`, verstat, attest)
	return strings.Replace(src, validate, preset, 1)
}

func TestCarrierXGolden(t *testing.T) {
	cases := []struct {
		name, invite, verstat, attest string
		kind                          engine.Kind
		status                        int
		display                       string
	}{
		{"signed_a", "invite_signed_a.sip", "TN-Validation-Passed", "A", engine.Forward, 0, `ALICE WONDERLA*ND-SMITH`},
		{"unsigned", "invite_unsigned.sip", "No-TN-Validation", "", engine.Forward, 0, `POSSIBLE FRAUD`},
		{"tampered", "invite_tampered.sip", "TN-Validation-Failed", "C", engine.Reject, 403, `Mallory \"Bank\"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, carrierxPreset(t, tc.verstat, tc.attest))
			c := engine.NewCall(readRequest(t, filepath.Join("testdata", tc.invite)))
			res := p.Run(c)
			if res.Disposition.Kind != tc.kind || res.Disposition.Status != tc.status {
				t.Fatalf("disposition = %+v, want %v %d", res.Disposition, tc.kind, tc.status)
			}
			if got := c.Request.From().DisplayName; got != tc.display {
				t.Errorf("display name = %q, want %q", got, tc.display)
			}
			var out strings.Builder
			fmt.Fprintf(&out, "disposition: %s %d %s\n", res.Disposition.Kind, res.Disposition.Status, res.Disposition.Reason)
			for _, s := range res.Steps {
				fmt.Fprintf(&out, "rule %d %s %s: %s\n", s.Rule+1, s.Pos, s.Action, s.Status)
			}
			out.WriteString("\n")
			out.WriteString(strings.ReplaceAll(c.Request.String(), "\r\n", "\n"))
			golden := filepath.Join("testdata", "golden", tc.name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, out.String(), want)
			}
		})
	}
}
