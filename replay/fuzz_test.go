package replay

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/rules"
)

// FuzzDryrun runs arbitrary capture bytes through the whole dry-run path:
// capture reading, the CarrierX chain with real STIR verification, and both
// reports. Nothing may panic.
func FuzzDryrun(f *testing.F) {
	ex := filepath.Join("..", "examples", "carrierx-stir")
	for _, name := range []string{"signed-a.sip", "unsigned.sip", "tampered-from.sip"} {
		if data, err := os.ReadFile(filepath.Join(ex, "invites", name)); err == nil {
			f.Add(data)
		}
	}
	if data, err := os.ReadFile(filepath.Join(ex, "captures", "calls.pcap")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nFrom: \"\\\" <sip:x@y>\nTo: <sip:z@w>\nCall-ID: 1\nCSeq: 1 INVITE\nIdentity: a.b.c;info=<x>\n\n"))
	env, err := NewEnv(Config{
		Direction: rules.Inbound,
		TrustDir:  filepath.Join(ex, "pki", "trust"),
		X5U:       map[string]string{"https://cert.example.org/shaken.pem": filepath.Join(ex, "pki", "shaken.pem")},
	})
	if err != nil {
		f.Fatal(err)
	}
	defer env.Close()
	p, err := env.Compile(filepath.Join(ex, "rules.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = capture.Each("fuzz", bytes.NewReader(data), func(m *capture.Message) error {
			if !m.IsInvite() {
				return nil
			}
			o, err := env.Run(p, m)
			if err != nil {
				t.Fatalf("replay failed: %v", err)
			}
			if err := WriteJSON(io.Discard, o); err != nil {
				t.Fatal(err)
			}
			return WriteText(io.Discard, o, Style{Color: true})
		})
	})
}
