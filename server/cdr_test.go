package server

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\r", "\x00\x1f\x7f", "caf\u00e9 \u2603", "bad \xff\xfe utf8", "\u2028"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		if want := string([]rune(s)); got != want {
			t.Errorf("%q -> %s -> %q", s, b, got)
		}
	}
}

// FuzzAppendJSONString: whatever a SIP header holds, the CDR line is
// valid JSON and round-trips (invalid UTF-8 as U+FFFD).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %q", b)
		}
		var got string
		json.Unmarshal(b, &got)
		if utf8.ValidString(s) && got != s {
			t.Fatalf("%q round-trips to %q", s, got)
		}
	})
}

func TestCDRLine(t *testing.T) {
	r := cdr{CallID: `a"b`, Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Source: "192.0.2.1:5060", Transport: "udp",
		From: "12155551212", To: "12155550000", Direction: "inbound", Disposition: "reject", Status: 403,
		Verstat: "TN-Validation-Failed", Attest: "A", OrigID: "x", STIRErrorCode: "438", RulesVersion: 7, Duration: 1500 * time.Microsecond}
	line := r.appendJSON(nil)
	if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	if m["call_id"] != `a"b` || m["time"] != "2026-01-02T03:04:05.000006Z" || m["status"] != float64(403) || m["processing_us"] != float64(1500) || m["rules_version"] != float64(7) {
		t.Errorf("%v", m)
	}
}

// Concurrent writers and a rotation (rename + reopen) in the middle: every
// line is whole, none is lost, the lines after the reopen are in the new
// file.
func TestCDRConcurrentAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cdr.jsonl")
	w, err := openCDR(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const writers, each = 8, 500
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := cdr{CallID: strings.Repeat("c", 200), Disposition: "forward", Status: 302}
			for j := 0; j < each; j++ {
				if err := w.write(r.appendJSON(nil)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range []string{path + ".1", path} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			if !json.Valid(l) {
				t.Fatalf("torn line %q", l)
			}
			total++
		}
	}
	if total != writers*each {
		t.Errorf("%d lines, want %d", total, writers*each)
	}
}
