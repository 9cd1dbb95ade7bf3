package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xformd/xformd/stir"
	"github.com/xformd/xformd/stir/stirtest"
)

func TestSignCommand(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p := stirtest.NewT(t, stirtest.Options{Now: now})
	f := p.WriteFilesT(t)
	x5u := "https://cert.example.org/shaken.pem"
	v, err := stir.NewVerifier(stir.Config{TrustDir: f.TrustDir, Static: f.Static("https://cert.example.org/")})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tests := []struct {
		name   string
		args   []string
		code   int
		attest string
		origid string
		stderr string
		header bool
	}{
		{name: "PKCS#8, unix iat", args: []string{"--key", f.Key[stirtest.Good], "--x5u", x5u, "--attest", "A", "--orig", "+1 215 555 1212", "--dest", "12155550000", "--origid", "cli-1", "--iat", "1780315200"}, attest: "A", origid: "cli-1"},
		{name: "SEC 1, RFC 3339 iat, two dests", args: []string{"-key", f.KeySEC1, "-x5u", x5u, "-attest", "b", "-orig", "12155551212", "-dest", "19995550000,12155550000", "-iat", "2026-06-01T12:00:00Z"}, attest: "B"},
		{name: "bad dest", args: []string{"--key", f.KeySEC1, "--x5u", x5u, "--attest", "C", "--orig", "12155551212", "--dest", "12155550000", "--dest", "x", "--iat", "1780315200", "--header"}, code: 1, stderr: `dest "x"`},
		{name: "header flag", args: []string{"--key", f.KeySEC1, "--x5u", x5u, "--attest", "C", "--orig", "12155551212", "--dest", "12155550000", "--iat", "1780315200", "--header"}, attest: "C", header: true},
		{name: "missing flags", args: []string{"--key", f.KeySEC1}, code: 2, stderr: "missing --x5u, --attest, --orig, --dest"},
		{name: "bad iat", args: []string{"--key", f.KeySEC1, "--x5u", x5u, "--attest", "A", "--orig", "1", "--dest", "2", "--iat", "soon"}, code: 2, stderr: "--iat"},
		{name: "bad attest", args: []string{"--key", f.KeySEC1, "--x5u", x5u, "--attest", "D", "--orig", "1", "--dest", "2"}, code: 1, stderr: `attest "D"`},
		{name: "missing key file", args: []string{"--key", f.Dir + "/nope.pem", "--x5u", x5u, "--attest", "A", "--orig", "1", "--dest", "2"}, code: 1, stderr: "nope.pem"},
		{name: "stray argument", args: []string{"--key", f.KeySEC1, "--x5u", x5u, "--attest", "A", "--orig", "1", "--dest", "2", "extra"}, code: 2, stderr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"sign"}, tt.args...), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errb.String())
			}
			if tt.stderr != "" && !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q, want %q", errb.String(), tt.stderr)
			}
			if code != 0 {
				return
			}
			line := strings.TrimSuffix(out.String(), "\n")
			if tt.header {
				var ok bool
				if line, ok = strings.CutPrefix(line, "Identity: "); !ok {
					t.Fatalf("output %q has no Identity: prefix", line)
				}
			}
			r := v.Verify(context.Background(), stir.Input{Identities: []string{line}, Orig: "12155551212", Dest: []string{"12155550000"}, Now: now})
			if r.Status != "TN-Validation-Passed-"+tt.attest {
				t.Fatalf("%q: %+v", line, r)
			}
			if tt.origid != "" && r.OrigID != tt.origid {
				t.Errorf("origid %q", r.OrigID)
			}
		})
	}
}
