package capture_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/capture/capturetest"
)

// checkInvariants reads data as a capture and checks what must hold for any
// input: no panic, messages numbered in order, INVITEs parsed.
func checkInvariants(t *testing.T, data []byte) {
	msgs, st, err := capture.ReadAll("fuzz", bytes.NewReader(data))
	if err != nil && st.Format == capture.Text {
		t.Fatalf("text input must not fail as a whole: %v", err)
	}
	for i, m := range msgs {
		if m.Index != i+1 {
			t.Fatalf("message %d has index %d", i+1, m.Index)
		}
		if m.IsInvite() && m.Request.From() == nil {
			t.Fatalf("%s: INVITE without From accepted", m.Source)
		}
		if m.Err == nil && m.Request == nil && m.Note == "" {
			t.Fatalf("%s: neither INVITE, note nor error", m.Source)
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add([]byte(invite("seed", 0)))
	f.Add([]byte(strings.ReplaceAll(invite("lf", 0)+optionsMsg, "\r\n", "\n")))
	f.Add([]byte("INVITE sip:a SIP/2.0\nl: 99999999999999999999\n\nx"))
	f.Add([]byte("SIP/2.0 200 OK\r\n\r\n"))
	f.Add([]byte("\n\n\r\r\nINVITE  SIP/2.0\n"))
	// The RFC 4475 torture messages shipped with sipgo, when present.
	if dir := tortureDir(); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkInvariants(t, data) })
}

func FuzzPcap(f *testing.F) {
	conn := capturetest.TCPConn{Src: c4, Dst: b4, ISN: 7}
	two := []byte(invite("a", 0) + invite("b", 0))
	for _, pkts := range [][]capturetest.Packet{
		{capturetest.UDP(t0, a4, b4, []byte(invite("u", 0)))},
		capturetest.UDPFragments(t0, a6, b6, []byte(invite("f", 1500)), 1000, 3, []int{1, 0}),
		append([]capturetest.Packet{conn.SYN(t0)}, conn.Stream(t0, two, 200)...),
	} {
		for _, write := range []func(*bytes.Buffer, []capturetest.Packet) error{
			func(b *bytes.Buffer, p []capturetest.Packet) error { return capturetest.WritePcap(b, p) },
			func(b *bytes.Buffer, p []capturetest.Packet) error { return capturetest.WritePcapNG(b, p) },
		} {
			var buf bytes.Buffer
			if err := write(&buf, pkts); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkInvariants(t, data) })
}

// tortureDir finds sipgo's copy of the RFC 4475 torture tests in the module
// cache.
func tortureDir() string {
	gopath := os.Getenv("GOMODCACHE")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go", "pkg", "mod")
		if gp := os.Getenv("GOPATH"); gp != "" {
			gopath = filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "pkg", "mod")
		}
	}
	dir := filepath.Join(gopath, "github.com", "emiago", "sipgo@v1.7.2", "sip", "testdata", "torture")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
