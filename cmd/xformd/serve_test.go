package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the daemon's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeInvalidConfig(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--mode", "bridge", "--listen", "sctp:1.2.3.4:5060"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{`sip.mode: "bridge" is not redirect or proxy`, `transport "sctp" is not udp, tcp or tls`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"transformations": [{"action": "set_headr", "operands": ["X", "y"]}]}`), 0o644)
	errb.Reset()
	code = run([]string{"serve", "--rules", bad, "--listen", "udp:127.0.0.1:0", "--admin", "off"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), bad+":1:") {
		t.Fatalf("broken rules: exit %d, stderr:\n%s", code, errb.String())
	}
}

func TestServePrintConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--mode", "proxy", "--next-hop", "sip:10.0.0.1", "--admin-token", "s3cret", "--print-config"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Errorf("--print-config shows the admin token")
	}
	if !strings.Contains(out.String(), "mode: proxy") || !strings.Contains(out.String(), "next_hop: sip:10.0.0.1") {
		t.Errorf("--print-config:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"serve", "--print-default-config"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "examples/carrierx-stir/rules.json") {
		t.Errorf("--print-default-config: %d\n%s", code, out.String())
	}
}

// The daemon starts from the repository's default rules, answers, reloads
// on SIGHUP and exits 0 on SIGTERM.
func TestServeSignals(t *testing.T) {
	// From the repository root, as `go run ./cmd/xformd serve` is run.
	t.Chdir("../..")
	var out io.Writer = io.Discard
	errb := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0", "--admin", "127.0.0.1:0"}, out, errb)
	}()
	adminRe := regexp.MustCompile(`msg="xformd serving".* admin=(127\.0\.0\.1:\d+)`)
	var admin string
	deadline := time.Now().Add(10 * time.Second)
	for admin == "" {
		if m := adminRe.FindStringSubmatch(errb.String()); m != nil {
			admin = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get("http://" + admin + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	for !strings.Contains(errb.String(), "trigger=sighup") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload on SIGHUP:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM:\n%s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit after SIGTERM:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "msg=stopped") {
		t.Errorf("no orderly stop:\n%s", errb.String())
	}
}
