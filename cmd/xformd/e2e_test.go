package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xformd/xformd/capture/capturetest"
)

// The end-to-end tests build the xformd binary once and run it as an
// operator would, checking output and exit status.

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// TestMain removes the binary the end-to-end tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func xformdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xformd-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binDir, binPath = dir, filepath.Join(dir, "xformd")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type result struct {
	code           int
	stdout, stderr string
}

// xformd runs the binary with args and stdin, bounded in time.
func xformd(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, xformdBinary(t), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("xformd %s: timed out", strings.Join(args, " "))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("xformd %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(errb.String(), "panic:") || strings.Contains(errb.String(), "goroutine ") {
		t.Fatalf("xformd %s crashed:\n%s", strings.Join(args, " "), errb.String())
	}
	return result{code, out.String(), errb.String()}
}

const ex = "../../examples/"

// stirArgs are the offline STIR flags for the carrierx-stir example.
var stirArgs = []string{
	"--rules", ex + "carrierx-stir/rules.json",
	"--trust", ex + "carrierx-stir/pki/trust",
	"--x5u", "https://cert.example.org/shaken.pem=" + ex + "carrierx-stir/pki/shaken.pem",
	"--x5u", "https://cert.example.org/expired.pem=" + ex + "carrierx-stir/pki/expired.pem",
}

func dryrun(extra ...string) []string {
	return append(append([]string{"dryrun"}, stirArgs...), extra...)
}

// jsonLines parses dryrun --format json output.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not one JSON object per line: %v\n%s", err, line)
		}
		recs = append(recs, m)
	}
	return recs
}

func TestE2EDryrunText(t *testing.T) {
	r := xformd(t, nil, dryrun(ex+"carrierx-stir/invites/signed-a.sip", ex+"carrierx-stir/invites/tampered-from.sip")...)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"== " + ex + "carrierx-stir/invites/signed-a.sip#1",
		"rules.json:2:3", "stir_validate", "applied: TN-Validation-Passed-A",
		`stir_verstat = "TN-Validation-Passed"`,
		"disposition: forward",
		`- From: "Alice Wonderland-Smith"`, `+ From: "Alice Wonderla*nd-Smith"`, "+ X-StirResult: TN-Validation-Passed-A",
		"disposition: reject 403 Forbidden",
		"now 2026-01-15T10:00:00Z (Date header)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colour written to a pipe")
	}
}

func TestE2EDryrunJSON(t *testing.T) {
	files := []string{"signed-a.sip", "signed-c.sip", "unsigned.sip", "tampered-signature.sip"}
	args := dryrun("--format", "json")
	for _, f := range files {
		args = append(args, ex+"carrierx-stir/invites/"+f)
	}
	r := xformd(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	recs := jsonLines(t, r.stdout)
	if len(recs) != len(files) {
		t.Fatalf("%d records, want %d", len(recs), len(files))
	}
	want := []struct{ kind, verstat, display string }{
		{"forward", "TN-Validation-Passed", `"Alice Wonderla*nd-Smith"`},
		{"forward", "TN-Validation-Passed", `"Carol"`},
		{"forward", "No-TN-Validation", `"POSSIBLE FRAUD"`},
		{"reject", "TN-Validation-Failed", `"Eve"`},
	}
	for i, rec := range recs {
		for _, k := range []string{"source", "call_id", "disposition", "variables", "trace", "message"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("record %d lacks key %q", i, k)
			}
		}
		d := rec["disposition"].(map[string]any)
		for _, k := range []string{"kind", "status", "reason", "target"} {
			if _, ok := d[k]; !ok {
				t.Errorf("record %d disposition lacks %q", i, k)
			}
		}
		if d["kind"] != want[i].kind {
			t.Errorf("record %d: kind %v, want %s", i, d["kind"], want[i].kind)
		}
		if want[i].kind == "forward" && d["status"].(float64) != 0 {
			t.Errorf("record %d: forward with status %v", i, d["status"])
		}
		if want[i].kind == "reject" && d["status"].(float64) != 403 {
			t.Errorf("record %d: reject status %v", i, d["status"])
		}
		if v := rec["variables"].(map[string]any)["stir_verstat"]; v != want[i].verstat {
			t.Errorf("record %d: stir_verstat %v, want %s", i, v, want[i].verstat)
		}
		if !strings.Contains(rec["message"].(string), "From: "+want[i].display) {
			t.Errorf("record %d: final message lacks From display %s:\n%s", i, want[i].display, rec["message"])
		}
		if trace := rec["trace"].([]any); len(trace) != 5 {
			t.Errorf("record %d: %d trace steps, want 5", i, len(trace))
		}
	}
	if recs[0]["call_id"] != "signed-a@192.0.2.10" || recs[0]["source"] != ex+"carrierx-stir/invites/signed-a.sip#1" {
		t.Errorf("record 0: source %v call_id %v", recs[0]["source"], recs[0]["call_id"])
	}
}

func TestE2EDryrunStdin(t *testing.T) {
	in, err := os.ReadFile(ex + "carrierx-stir/invites/unsigned.sip")
	if err != nil {
		t.Fatal(err)
	}
	lf := bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))
	r := xformd(t, append(append([]byte{}, lf...), in...), dryrun("--format", "json", "-")...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	recs := jsonLines(t, r.stdout)
	if len(recs) != 2 || recs[0]["source"] != "stdin#1" || recs[1]["source"] != "stdin#2" {
		t.Fatalf("want stdin#1 and stdin#2, got %v", recs)
	}
}

// writeCapture writes a pcap or pcapng of the example calls: a fragmented
// UDP INVITE over IPv4, an OPTIONS, and two INVITEs over TCP/IPv6 split in
// small segments.
func writeCapture(t *testing.T, ng bool) string {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(ex + "carrierx-stir/invites/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	at := time.Date(2026, 1, 15, 10, 0, 10, 0, time.UTC)
	a := netip.MustParseAddrPort("192.0.2.10:5060")
	b := netip.MustParseAddrPort("203.0.113.5:5060")
	conn := capturetest.TCPConn{Src: netip.MustParseAddrPort("[2001:db8::1]:41000"), Dst: netip.MustParseAddrPort("[2001:db8::2]:5060"), ISN: 99}
	stream := append(read("unsigned.sip"), read("tampered-signature.sip")...)
	pkts := capturetest.UDPFragments(at, a, b, read("signed-b.sip"), 400, 7, []int{2, 0, 1})
	pkts = append(pkts, capturetest.UDP(at, a, b, []byte("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x>\r\nCall-ID: o\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")))
	pkts = append(pkts, conn.SYN(at))
	pkts = append(pkts, conn.Stream(at, stream, 300)...)
	pkts = append(pkts, conn.FIN(at, len(stream)))
	var buf bytes.Buffer
	write, name := capturetest.WritePcap, "calls.pcap"
	if ng {
		write, name = capturetest.WritePcapNG, "calls.pcapng"
	}
	if err := write(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestE2EDryrunPcap(t *testing.T) {
	for _, ng := range []bool{false, true} {
		path := writeCapture(t, ng)
		t.Run(filepath.Base(path)+"/json", func(t *testing.T) {
			r := xformd(t, nil, dryrun("--format", "json", path)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			recs := jsonLines(t, r.stdout)
			if len(recs) != 3 {
				t.Fatalf("%d records, want 3 INVITEs:\n%s", len(recs), r.stdout)
			}
			wantCall := []string{"signed-b@192.0.2.10", "unsigned@198.51.100.7", "tampered-sig@198.51.100.7"}
			wantKind := []string{"forward", "forward", "reject"}
			wantTransport := []string{"udp", "tcp", "tcp"}
			for i, rec := range recs {
				if rec["call_id"] != wantCall[i] || rec["disposition"].(map[string]any)["kind"] != wantKind[i] || rec["transport"] != wantTransport[i] {
					t.Errorf("record %d: call %v kind %v transport %v", i, rec["call_id"], rec["disposition"], rec["transport"])
				}
				if rec["now_source"] != "packet time" || rec["now"] != "2026-01-15T10:00:10Z" {
					t.Errorf("record %d: now %v from %v, want the packet time", i, rec["now"], rec["now_source"])
				}
			}
			if !strings.Contains(r.stderr, "3 INVITEs replayed; skipped 1 OPTIONS") {
				t.Errorf("the skipped OPTIONS is not summed up on stderr: %q", r.stderr)
			}
		})
		t.Run(filepath.Base(path)+"/text", func(t *testing.T) {
			r := xformd(t, nil, dryrun(path)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if strings.Contains(r.stdout, "OPTIONS") || !strings.Contains(r.stderr, "skipped 1 OPTIONS") {
				t.Errorf("the OPTIONS of a pcap must be summed up on stderr, not listed:\n%s\n%s", r.stdout, r.stderr)
			}
			for _, want := range []string{"== " + path + "#3 INVITE", "udp 192.0.2.10:5060 -> 203.0.113.5:5060", "tcp [2001:db8::1]:41000 -> [2001:db8::2]:5060", "disposition: reject 403 Forbidden"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q\n%s", want, r.stdout)
				}
			}
		})
	}
}

func TestE2EExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badRules := write("bad.json", `{"transformations": [{"action": "set_headr", "operands": ["X-A", "b"]}, {"action": "reject", "operands": ["{{stir_verstatt}}"]}]}`)
	garbage := write("garbage.sip", "this is not SIP\n\n")
	invite := ex + "carrierx-stir/invites/unsigned.sip"
	pcap := writeCapture(t, false)
	data, _ := os.ReadFile(pcap)
	damaged := write("damaged.pcap", string(data[:len(data)-30]))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"ok", dryrun(invite), 0, "disposition: forward", ""},
		{"rule file errors", []string{"dryrun", "--rules", badRules, invite}, 1, "", "bad.json:1:33: unknown action \"set_headr\" (did you mean set_header?)"},
		{"rule file missing", []string{"dryrun", "--rules", filepath.Join(dir, "nope.json"), invite}, 1, "", "cannot read rule file"},
		{"no rules", []string{"dryrun", invite}, 2, "", "--rules FILE is required"},
		{"no capture", dryrun(), 2, "", "no CAPTURE given"},
		{"bad now", dryrun("--now", "yesterday", invite), 2, "", `--now: invalid time "yesterday"`},
		{"bad format", dryrun("--format", "xml", invite), 2, "", "invalid --format"},
		{"bad direction", dryrun("--direction", "up", invite), 2, "", "invalid --direction"},
		{"bad x5u", dryrun("--x5u", "nourl", invite), 2, "", "want URL=PATH"},
		{"unknown flag", dryrun("--frobnicate", invite), 2, "", "flag provided but not defined"},
		{"missing trust dir", []string{"dryrun", "--rules", ex + "carrierx-stir/rules.json", "--trust", filepath.Join(dir, "none"), invite}, 2, "", "trust directory"},
		{"garbage capture", dryrun(invite, garbage), 3, "disposition: forward", ""},
		{"missing capture", dryrun(filepath.Join(dir, "missing.sip"), invite), 3, "disposition: forward", "cannot open capture"},
		{"damaged pcap", dryrun(damaged), 3, "capture is damaged after packet", ""},
		{"flags after captures", append([]string{"dryrun", invite}, stirArgs...), 0, "disposition: forward", ""},
		{"now as unix seconds", dryrun("--now", "@1768471200", invite), 0, "now 2026-01-15T10:00:00Z (--now)", ""},
		{"json error record", dryrun("--format", "json", garbage), 3, `{"source":"` + garbage + `#1","error":"line 1: \"this is not SIP\" is not the start of a SIP message`, ""},
		{"no stir trust warning", []string{"dryrun", "--rules", ex + "carrierx-stir/rules.json", invite}, 0, "", "warning: the rules use stir_validate but no --trust"},
		{"unknown command", []string{"frobnicate"}, 2, "", "unknown command"},
		{"test: examples pass", []string{"test", ex + "carrierx-stir/tests.yaml", ex + "attestation-routing/tests.yaml", ex + "outbound-attestation/tests.yaml", ex + "header-hygiene/tests.yaml"}, 0, " passed, 0 failed", ""},
		{"test: no suites", []string{"test"}, 2, "", "usage: xformd test"},
		{"test: a directory", []string{"test", ex}, 0, " passed, 0 failed", ""},
		{"test: a directory without suites", []string{"test", dir}, 2, "", "no suite files"},
		{"test: missing suite", []string{"test", filepath.Join(dir, "none.yaml")}, 1, "0 passed, 1 failed", ""},
		{"schema", []string{"schema"}, 0, `"$schema": "https://json-schema.org/draft/2020-12/schema"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := xformd(t, nil, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
		})
	}
}

// TestE2ETestFailures checks that a failing case prints expected and actual
// values and the summary line, and exits 1.
func TestE2ETestFailures(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs(ex + "carrierx-stir")
	if err != nil {
		t.Fatal(err)
	}
	suite := `rules: ` + abs + `/rules.json
now: "2026-01-15T10:00:00Z"
trust: ` + abs + `/pki/trust
x5u: {https://cert.example.org/shaken.pem: ` + abs + `/pki/shaken.pem}
cases:
  - name: right
    invite: ` + abs + `/invites/signed-b.sip
    expect: {disposition: forward, display_name: "Bob*"}
  - name: wrong
    invite: ` + abs + `/invites/tampered-from.sip
    expect:
      disposition: forward
      headers: {X-StirResult: TN-Validation-Passed-A}
      variables: {stir_error_code: ""}
`
	path := filepath.Join(dir, "tests.yaml")
	if err := os.WriteFile(path, []byte(suite), 0o644); err != nil {
		t.Fatal(err)
	}
	r := xformd(t, nil, "test", path)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stdout)
	}
	for _, want := range []string{
		`FAIL ` + path + `:9: "wrong"`,
		"disposition: expected forward, got reject 403 Forbidden",
		`header X-StirResult: expected "TN-Validation-Passed-A", got "TN-Validation-Failed-A"`,
		`variable stir_error_code: expected "", got "438"`,
		"1 passed, 1 failed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, `"right"`) {
		t.Errorf("passing case listed without -v")
	}
}

// TestE2ERobustness runs the RFC 4475 torture messages shipped with sipgo
// and malformed captures through dryrun: each must give a result or an
// error, never a crash, and the exit status must be 0 or 3.
func TestE2ERobustness(t *testing.T) {
	var inputs []string
	if dir := tortureDir(); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
		inputs = append(inputs, files...)
	} else {
		t.Log("sipgo torture messages not found in the module cache; testing generated inputs only")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 64<<10)
	rng.Read(random)
	pcap := writeCapture(t, false)
	pdata, _ := os.ReadFile(pcap)
	flipped := append([]byte{}, pdata...)
	for i := 24; i < len(flipped); i += 97 {
		flipped[i] ^= 0xff
	}
	malformed := map[string][]byte{
		"random.bin":            random,
		"nul.sip":               make([]byte, 4096),
		"long-line.sip":         bytes.Repeat([]byte("A"), 1<<20),
		"huge-header.sip":       append([]byte("INVITE sip:a@b SIP/2.0\r\nX-Big: "), bytes.Repeat([]byte("x"), 200<<10)...),
		"cl-overflow.sip":       []byte("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 99999999999999999999999\r\n\r\nbody"),
		"pcap-flipped.pcap":     flipped,
		"pcap-header-only.pcap": pdata[:24],
		"pcap-short.pcap":       pdata[:10],
		"pcapng-garbage.pcapng": append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, random[:1000]...),
		"many-starts.sip":       bytes.Repeat([]byte("garbage line\nINVITE sip:a@b SIP/2.0\n"), 20000),
	}
	for name, data := range malformed {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, p)
	}
	for _, format := range []string{"text", "json"} {
		start := time.Now()
		args := dryrun("--format", format)
		r := xformd(t, nil, append(args, inputs...)...)
		if r.code != 0 && r.code != 3 {
			t.Errorf("%s: exit %d, want 0 or 3\n%s", format, r.code, r.stderr)
		}
		if format == "json" {
			recs := jsonLines(t, r.stdout)
			if len(recs) == 0 {
				t.Errorf("no records")
			}
			for _, rec := range recs {
				_, isErr := rec["error"]
				_, isRes := rec["disposition"]
				if !isErr && !isRes {
					t.Errorf("record is neither a result nor an error: %v", rec)
				}
			}
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%s: %d inputs took %v", format, len(inputs), d)
		}
	}
}

// tortureDir finds sipgo's copy of the RFC 4475 torture tests.
func tortureDir() string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "emiago", "sipgo@v1.7.2", "sip", "testdata", "torture")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
