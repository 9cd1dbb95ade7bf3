package replay

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden replays the carrierx-stir example's INVITEs and capture and
// compares the text report with testdata/carrierx-stir.golden. The report
// holds no key material, so regenerating the example PKI does not change
// it. Run with -update after an intended change of the format.
func TestGolden(t *testing.T) {
	ex := filepath.Join("..", "examples", "carrierx-stir")
	env, err := NewEnv(Config{
		Direction: rules.Inbound,
		TrustDir:  filepath.Join(ex, "pki", "trust"),
		X5U: map[string]string{
			"https://cert.example.org/shaken.pem":  filepath.Join(ex, "pki", "shaken.pem"),
			"https://cert.example.org/expired.pem": filepath.Join(ex, "pki", "expired.pem"),
		},
		Now: time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	p, err := env.Compile(filepath.Join(ex, "rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(ex, "invites", "*.sip"))
	files = append(files, filepath.Join(ex, "captures", "calls.pcap"))
	var out bytes.Buffer
	for _, path := range files {
		rel, _ := filepath.Rel(ex, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = capture.Each(filepath.ToSlash(rel), bytes.NewReader(data), func(m *capture.Message) error {
			if !m.IsInvite() {
				return WriteTextSkipped(&out, m, Style{})
			}
			o, err := env.Run(p, m)
			if err != nil {
				return err
			}
			return WriteText(&out, o, Style{})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "carrierx-stir.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./replay -run TestGolden -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("text report differs from %s (run with -update if intended):\n%s", golden, out.String())
	}
}
