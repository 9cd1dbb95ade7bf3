// Package interop tests xformd against independent SIP tools from Debian:
// sipsak as a caller of the daemon, tshark as the capturer whose pcap files
// dryrun must read, and tshark as a reader of the pcap files our examples
// ship. The STIR interop with secsipidx lives in package stir.
//
// Outside CI a missing tool skips its test with a message; with CI=true it
// fails, because .ci/run installs the tools.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xformd/xformd/stir/stirtest"
)

const rulesFile = "../examples/carrierx-stir/rules.json"

// need returns the path of tool, skipping (or failing in CI) when absent.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; .ci/run installs it with apt-get", tool)
		}
		t.Skipf("%s not installed (apt-get install -y %s); skipping interop test", tool, tool)
	}
	return p
}

var binPath string

// TestMain builds the xformd binary once for every test.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xformd-interop")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "xformd")
	cmd := exec.Command("go", "build", "-o", binPath, "../cmd/xformd")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build xformd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeUDPPort asks the OS for a free UDP port on 127.0.0.1.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// stirSetup writes a fresh test PKI and returns the flags that let xformd
// verify its Identity headers offline, and the PKI.
func stirSetup(t *testing.T) ([]string, *stirtest.PKI) {
	t.Helper()
	pki := stirtest.NewT(t, stirtest.Options{})
	files := pki.WriteFilesT(t)
	args := []string{"--trust", files.TrustDir}
	for url, path := range files.Static("https://cert.example.org/") {
		args = append(args, "--x5u", url+"="+path)
	}
	return args, pki
}

// startServe runs xformd serve in redirect mode on a free UDP port and
// waits until it answers OPTIONS from sipsak.
func startServe(t *testing.T, sipsak string, extra []string) int {
	t.Helper()
	port := freeUDPPort(t)
	args := append([]string{"serve", "--listen", fmt.Sprintf("udp:127.0.0.1:%d", port), "--admin", "off", "--rules", rulesFile}, extra...)
	cmd := exec.Command(binPath, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := run(sipsak, "-s", fmt.Sprintf("sip:ping@127.0.0.1:%d", port))
		if err == nil {
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer OPTIONS from sipsak: %v\n%s\n%s", err, out, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run runs a command with a 20 s limit and returns its combined output.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// invite builds an INVITE addressed to the daemon, signed with cred when
// attest is not empty.
func invite(t *testing.T, pki *stirtest.PKI, port int, callID, attest, orig string) []byte {
	t.Helper()
	in := stirtest.Invite{From: "12155551212", To: "12155550000", CallID: callID}
	if attest != "" {
		in.Identity = []string{pki.Identity(stirtest.Good, stirtest.DefaultX5U, stirtest.Claims{
			Attest: attest, Orig: orig, Dest: []string{"12155550000"}, IAT: time.Now(), OrigID: uuid.NewString(),
		})}
	}
	b := bytes.ReplaceAll(in.Bytes(), []byte("xformd.example.org"), []byte(fmt.Sprintf("127.0.0.1:%d", port)))
	return b
}

// sendInvite sends an INVITE file with sipsak and returns the final
// response text sipsak printed.
func sendInvite(t *testing.T, sipsak string, port int, msg []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "invite.sip")
	if err := os.WriteFile(f, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := run(sipsak, "--ignore-redirects", "-vvv", "-f", f, "-s", fmt.Sprintf("sip:12155550000@127.0.0.1:%d", port))
	i := strings.Index(out, "received from:")
	if i < 0 {
		t.Fatalf("sipsak got no reply:\n%s", out)
	}
	resp := out[i:]
	j := strings.Index(resp, "\nSIP/2.0 ")
	if j < 0 {
		t.Fatalf("no response in sipsak output:\n%s", out)
	}
	resp = resp[j+1:]
	if k := strings.Index(resp, "\n\n"); k > 0 {
		resp = resp[:k]
	}
	return resp
}

// TestSipsakCallsDaemon: sipsak, an independent SIP client, sends OPTIONS
// and signed, unsigned and forged INVITEs to xformd serve running the
// CarrierX rules, and gets the answers the rules call for.
func TestSipsakCallsDaemon(t *testing.T) {
	sipsak := need(t, "sipsak")
	stirArgs, pki := stirSetup(t)
	port := startServe(t, sipsak, stirArgs)

	cases := []struct {
		name, attest, orig string
		want               []string
	}{
		{"signed A", "A", "12155551212", []string{"SIP/2.0 302", "X-StirResult: TN-Validation-Passed-A", `"Alice*"`}},
		{"signed B", "B", "12155551212", []string{"SIP/2.0 302", "X-StirResult: TN-Validation-Passed-B"}},
		{"unsigned", "", "", []string{"SIP/2.0 302", "X-StirResult: No-TN-Validation-", `"POSSIBLE FRAUD"`}},
		{"forged caller", "A", "19995550000", []string{"SIP/2.0 403", "Reason: SIP ;cause=438"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := sendInvite(t, sipsak, port, invite(t, pki, port, fmt.Sprintf("interop-%d@127.0.0.1", i), tc.attest, tc.orig))
			for _, w := range tc.want {
				if !strings.Contains(resp, w) {
					t.Errorf("response lacks %q:\n%s", w, resp)
				}
			}
		})
	}
}

// TestTsharkCaptureDryrun: tshark captures real traffic between sipsak and
// the daemon on the loopback interface, in pcap and pcapng, and xformd
// dryrun replays that capture with the same outcomes.
func TestTsharkCaptureDryrun(t *testing.T) {
	sipsak := need(t, "sipsak")
	tshark := need(t, "tshark")
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("capturing on lo needs root")
	}
	stirArgs, pki := stirSetup(t)
	port := startServe(t, sipsak, stirArgs)

	for _, format := range []string{"pcap", "pcapng"} {
		t.Run(format, func(t *testing.T) {
			capFile := filepath.Join(t.TempDir(), "calls."+format)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, tshark, "-i", "lo", "-f", fmt.Sprintf("udp port %d", port), "-F", format, "-w", capFile)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			var tsharkErr strings.Builder
			go func() {
				sc := bufio.NewScanner(stderr)
				once := false
				for sc.Scan() {
					tsharkErr.WriteString(sc.Text() + "\n")
					if !once && strings.Contains(sc.Text(), "Capturing on") {
						once = true
						close(started)
					}
				}
				if !once {
					close(started)
				}
			}()
			select {
			case <-started:
			case <-time.After(20 * time.Second):
				t.Fatal("tshark did not start capturing")
			}
			time.Sleep(300 * time.Millisecond)
			sendInvite(t, sipsak, port, invite(t, pki, port, "cap-a@127.0.0.1", "A", "12155551212"))
			sendInvite(t, sipsak, port, invite(t, pki, port, "cap-unsigned@127.0.0.1", "", ""))
			sendInvite(t, sipsak, port, invite(t, pki, port, "cap-forged@127.0.0.1", "A", "19995550000"))
			time.Sleep(500 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); err != nil && ctx.Err() != nil {
				t.Fatalf("tshark: %v\n%s", err, tsharkErr.String())
			}

			args := append([]string{"dryrun", "--format", "json", "--rules", rulesFile}, stirArgs...)
			out, err := exec.Command(binPath, append(args, capFile)...).Output()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var r struct {
					CallID      string `json:"call_id"`
					Disposition struct {
						Kind   string `json:"kind"`
						Status int    `json:"status"`
					} `json:"disposition"`
					Variables map[string]string `json:"variables"`
				}
				if json.Unmarshal([]byte(line), &r) != nil || r.CallID == "" {
					continue
				}
				got[r.CallID] = fmt.Sprintf("%s %d %s", r.Disposition.Kind, r.Disposition.Status, r.Variables["stir_verstat"])
			}
			want := map[string]string{
				"cap-a@127.0.0.1":        "forward 0 TN-Validation-Passed",
				"cap-unsigned@127.0.0.1": "forward 0 No-TN-Validation",
				"cap-forged@127.0.0.1":   "reject 403 TN-Validation-Failed",
			}
			for id, w := range want {
				if got[id] != w {
					t.Errorf("%s: dryrun of the %s capture gave %q, want %q\nall output:\n%s\ntshark:\n%s", id, format, got[id], w, out, tsharkErr.String())
				}
			}
		})
	}
}

// TestTsharkReadsExampleCapture: the pcap our example generator writes is
// read by tshark as the same SIP INVITEs that dryrun finds in it.
func TestTsharkReadsExampleCapture(t *testing.T) {
	tshark := need(t, "tshark")
	const capFile = "../examples/carrierx-stir/captures/calls.pcap"
	out, err := run(tshark, "-r", capFile, "-Y", "sip.Method == \"INVITE\"", "-T", "fields", "-e", "sip.Call-ID")
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	var tsharkIDs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, " ") {
			tsharkIDs = append(tsharkIDs, l)
		}
	}
	if len(tsharkIDs) == 0 {
		t.Fatalf("tshark found no INVITE in %s:\n%s", capFile, out)
	}
	dr, _ := exec.Command(binPath, "dryrun", "--format", "json", "--rules", rulesFile, capFile).Output()
	for _, id := range tsharkIDs {
		if !strings.Contains(string(dr), fmt.Sprintf("%q", id)) {
			t.Errorf("tshark sees INVITE %s, dryrun does not:\n%s", id, dr)
		}
	}
}
