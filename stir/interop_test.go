package stir

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xformd/xformd/stir/stirtest"
)

// Interoperability with secsipidx (asipto's STIR/SHAKEN implementation,
// Debian package secsipidx): tokens it signs verify here, and Identity
// headers signed here verify there, both with a bare public key and with
// its certificate fetching and chain verification. Outside CI the tests
// skip when the tool is absent; with CI=true they fail instead, because
// .ci/run installs it.

func secsipidxPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("secsipidx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("secsipidx is not installed but CI=true: .ci/run must `apt-get install -y secsipidx` (%v)", err)
		}
		t.Skip("secsipidx not installed (apt-get install secsipidx): STIR interoperability not tested")
	}
	return path
}

// runSecsipidx runs the tool with a time limit and returns its stdout.
func runSecsipidx(t *testing.T, path string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("secsipidx %s: %w (stdout %q, stderr %q)", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String()), err
}

// interopPKI is a PKI valid now (secsipidx signs and checks with the real
// clock) and a verifier serving its chains from files.
func interopPKI(t *testing.T) (*stirtest.PKI, *stirtest.Files, *Verifier) {
	p := stirtest.NewT(t, stirtest.Options{})
	f := p.WriteFilesT(t)
	v, err := NewVerifier(Config{TrustDir: f.TrustDir, Static: f.Static(testBase), Window: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return p, f, v
}

func TestInteropSecsipidxSignsXformdVerifies(t *testing.T) {
	bin := secsipidxPath(t)
	_, f, v := interopPKI(t)
	tests := []struct {
		name, key, attest, orig, dest string
	}{
		{"SEC 1 key, A", f.KeySEC1, "A", "12155551212", "12155550000"},
		{"PKCS#8 key, B", f.Key[stirtest.Good], "B", "12155551212", "12155550000"},
		{"C, caller with +", f.KeySEC1, "C", "+12155551212", "+12155550000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := runSecsipidx(t, bin, "-sign-full", "-orig-tn", tt.orig, "-dest-tn", tt.dest, "-attest", tt.attest,
				"-x5u", testX5U, "-k", tt.key, "-orig-id", "interop-"+tt.attest)
			if err != nil {
				t.Fatal(err)
			}
			r := v.Verify(context.Background(), Input{Identities: []string{id}, Orig: "12155551212", Dest: []string{"12155550000"}})
			if r.Status != "TN-Validation-Passed-"+tt.attest || r.OrigID != "interop-"+tt.attest || r.SPC != stirtest.DefaultSPC {
				t.Fatalf("secsipidx Identity %q: %+v", id, r)
			}
			// And a tampered copy fails.
			bad := strings.Replace(id, ".", ".x", 1)
			if r := v.Verify(context.Background(), Input{Identities: []string{bad}, Orig: "12155551212", Dest: []string{"12155550000"}}); r.Verstat != VerstatFailed {
				t.Fatalf("tampered secsipidx Identity passed: %+v", r)
			}
		})
	}
	// Signed with the untrusted credential's key under the trusted URL:
	// secsipidx makes a well-formed token, the signature does not verify.
	id, err := runSecsipidx(t, bin, "-sign-full", "-orig-tn", "12155551212", "-dest-tn", "12155550000", "-attest", "A",
		"-x5u", testX5U, "-k", f.Key[stirtest.Untrusted])
	if err != nil {
		t.Fatal(err)
	}
	if r := v.Verify(context.Background(), Input{Identities: []string{id}, Orig: "12155551212", Dest: []string{"12155550000"}}); r.ErrorCode != "438" {
		t.Fatalf("wrong-key secsipidx token: %+v", r)
	}
}

func TestInteropXformdSignsSecsipidxVerifies(t *testing.T) {
	bin := secsipidxPath(t)
	p, f, _ := interopPKI(t)
	dir := t.TempDir()
	pubDER, err := x509.MarshalPKIXPublicKey(&p.LeafKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		t.Fatal(err)
	}

	// A plain-HTTP server on 127.0.0.1 serving the chains, for
	// secsipidx's own certificate fetching.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range stirtest.Credentials {
			if r.URL.Path == "/"+c.String()+".pem" {
				w.Write(p.ChainPEM(c))
				return
			}
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	check := startSecsipidxServer(t, bin, "-expire", "60", "-timeout", "2", "-cert-verify", "13",
		"-ca-file", f.Root, "-ca-inter", f.Intermediate)

	for _, attest := range []string{"A", "B", "C"} {
		t.Run(attest, func(t *testing.T) {
			x5u := srv.URL + "/shaken.pem"
			s, err := LoadSigner(f.Key[stirtest.Good], x5u)
			if err != nil {
				t.Fatal(err)
			}
			id, err := s.Sign(Claims{Attest: attest, Orig: "+1 215 555 1212", Dest: []string{"12155550000"}, IAT: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			// Public key check.
			if out, err := runSecsipidx(t, bin, "-check", "-identity", id, "-fpubkey", pub, "-expire", "60"); err != nil || out != "ok" {
				t.Fatalf("secsipidx -check: %q %v", out, err)
			}
			// Certificate fetched from x5u and verified to our root.
			if status, body := check(id); status != 200 {
				t.Fatalf("secsipidx /v1/check: %d %q", status, body)
			}
			// The checks really check: a tampered token fails both.
			parts := strings.SplitN(id, ".", 3)
			c := Claims{Attest: attest, Orig: "19998887777", Dest: []string{"12155550000"}, IAT: time.Now(), OrigID: "x"}
			forged, _ := s.Sign(c)
			fparts := strings.SplitN(forged, ".", 3)
			tampered := parts[0] + "." + fparts[1] + "." + parts[2]
			if out, err := runSecsipidx(t, bin, "-check", "-identity", tampered, "-fpubkey", pub, "-expire", "60"); err == nil || out == "ok" {
				t.Fatalf("secsipidx accepted a tampered token: %q", out)
			}
			if status, _ := check(tampered); status == 200 {
				t.Fatal("secsipidx server accepted a tampered token")
			}
		})
	}
	// A chain to the untrusted root fails secsipidx's chain verification.
	s, err := LoadSigner(f.Key[stirtest.Untrusted], srv.URL+"/untrusted.pem")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := s.Sign(Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: time.Now()})
	if status, _ := check(id); status == 200 {
		t.Fatal("secsipidx accepted a certificate from an untrusted root")
	}
}

// startSecsipidxServer runs secsipidx's HTTP API on a free 127.0.0.1 port
// and returns a function that posts an Identity value to /v1/check.
func startSecsipidxServer(t *testing.T, bin string, args ...string) func(identity string) (int, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-http-srv", addr}, args...)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("secsipidx server log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("secsipidx server did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	return func(identity string) (int, string) {
		resp, err := client.Post("http://"+addr+"/v1/check", "text/plain", strings.NewReader(identity))
		if err != nil {
			t.Fatalf("secsipidx server: %v", err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, strings.TrimSpace(b.String())
	}
}
