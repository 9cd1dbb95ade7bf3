package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/stir/stirtest"
)

// TestHelperDaemon is not a test: run by TestCDRSurvivesKill9 as a child
// process, it serves until it is killed.
func TestHelperDaemon(t *testing.T) {
	cdrPath := os.Getenv("XFORMD_HELPER_CDR")
	if cdrPath == "" {
		t.Skip("helper process for TestCDRSurvivesKill9")
	}
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.SIP.Listen = []string{"udp:127.0.0.1:0"}
	cfg.Admin.Listen = ""
	cfg.Rules.Inbound = carrierxRules
	cfg.Rules.Watch = false
	cfg.CDR.Path = cdrPath
	cfg.Log.Level = "error"
	s, err := New(Options{Config: cfg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", s.SIPAddrs()[0].Addr)
	time.Sleep(time.Minute) // killed long before
}

// kill -9 of the daemon loses no CDR of an answered call and leaves no
// torn line: each line is one write(2), nothing is buffered in the process.
func TestCDRSurvivesKill9(t *testing.T) {
	cdrPath := filepath.Join(t.TempDir(), "cdr.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$", "-test.v")
	cmd.Env = append(os.Environ(), "XFORMD_HELPER_CDR="+cdrPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var a string
			if _, err := fmt.Sscanf(sc.Text(), "LISTEN %s", &a); err == nil {
				addrc <- a
			}
		}
		close(addrc)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(20 * time.Second):
		t.Fatal("helper daemon did not start")
	}
	if addr == "" {
		t.Fatal("helper daemon exited")
	}
	caller := newClient(t, "caller")
	const calls = 100
	for i := 0; i < calls; i++ {
		if res := do(t, caller, newInvite(t, stirtest.Invite{}, "udp", addr)); res.StatusCode != 302 {
			t.Fatalf("call %d: %d", i, res.StatusCode)
		}
	}
	// The CDR of the last call is written right after its response; give
	// it a moment, then kill -9.
	time.Sleep(50 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	data, err := os.ReadFile(cdrPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.Errorf("CDR file ends in a torn line")
	}
	if n := len(readCDR(t, cdrPath)); n != calls {
		t.Errorf("%d CDR lines after kill -9, want %d", n, calls)
	}
}
