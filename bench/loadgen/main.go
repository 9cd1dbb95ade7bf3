// Command loadgen sends SIP INVITEs with STIR/SHAKEN Identity headers over
// UDP at a fixed rate for a fixed time to a SIP server on this machine (an
// xformd daemon in redirect mode, or Kamailio doing the same work) and
// reports calls per second, failed calls and latency percentiles.
//
// Each call is one INVITE, matched to its final response by Call-ID; a
// non-2xx final response is ACKed as a real UAC would (otherwise a stateful
// server retransmits it). A call fails when it gets no final response within
// -timeout, a final status other than the expected one, or (for signed calls
// with -want-header) a response without the expected header value. Nothing
// is retransmitted: a lost datagram is a failed call.
//
// Usage:
//
//	loadgen -gen-pki DIR                           # write a test PKI, exit
//	loadgen -probe -target 127.0.0.1:5070          # wait until the target answers OPTIONS
//	loadgen -target 127.0.0.1:5070 -rate 2000 -duration 10s \
//	        -key DIR/shaken-key.pem -x5u https://cert.example.org/shaken.pem \
//	        -want-header 'X-StirResult: TN-Validation-Passed-A'
//
// The summary is one line of key=value pairs (or JSON with -json). The exit
// status is 0 when every call succeeded, 3 when some failed, 1 on a setup
// error. Only loopback targets are accepted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/xformd/xformd/stir/stirtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs passed in, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        config
		wantHeader string
		keyFile    string
		x5u        string
		attest     string
		refresh    time.Duration
		serveAddr  string
		serveFile  string
		asJSON     bool
		genPKI     string
		probe      bool
		cpuProfile string
	)
	fs.StringVar(&cfg.target, "target", "127.0.0.1:5060", "`host:port` of the SIP server (UDP, loopback only)")
	fs.Float64Var(&cfg.rate, "rate", 1000, "INVITEs per second (open loop)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to send")
	fs.IntVar(&cfg.conns, "conns", 4, "UDP sockets, each with its own sender goroutine and source port")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Second, "how long a call waits for its final response")
	fs.Float64Var(&cfg.unsignedPct, "unsigned-pct", 0, "percent of calls without an Identity header")
	fs.Float64Var(&cfg.badSigPct, "badsig-pct", 0, "percent of calls whose signature is broken")
	fs.IntVar(&cfg.numbers, "numbers", 10000, "distinct caller/callee pairs, each with its own token (at most 10000)")
	fs.StringVar(&cfg.display, "display", "Alexander Hamilton Jr", "caller display name (CNAM)")
	fs.IntVar(&cfg.wantStatus[kindSigned], "want-signed", 302, "final status a validly signed call must get")
	fs.IntVar(&cfg.wantStatus[kindUnsigned], "want-unsigned", 302, "final status an unsigned call must get")
	fs.IntVar(&cfg.wantStatus[kindBadSig], "want-badsig", 403, "final status a call with a broken signature must get")
	fs.StringVar(&wantHeader, "want-header", "", "`Name: value` header every signed call's final response must carry")
	fs.StringVar(&keyFile, "key", "", "P-256 private key `file` (PKCS#8 or SEC 1 PEM) to sign Identity headers")
	fs.StringVar(&x5u, "x5u", "", "certificate `URL` put in the PASSporT and the info parameter")
	fs.StringVar(&attest, "attest", "A", "attestation level of signed calls")
	fs.DurationVar(&refresh, "refresh", 15*time.Second, "re-sign every token once per this interval, spread evenly (keep well under the verifier's iat window)")
	fs.StringVar(&serveAddr, "serve-x5u", "", "serve -x5u-file over HTTP on this loopback `host:port` during the run")
	fs.StringVar(&serveFile, "x5u-file", "", "certificate chain `file` that -serve-x5u serves")
	fs.IntVar(&cfg.show, "show", 0, "copy the first `n` final responses verbatim to stderr")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	fs.StringVar(&genPKI, "gen-pki", "", "write a fresh test PKI (root, intermediate, leaf with TNAuthList, keys) into `dir` and exit")
	fs.BoolVar(&probe, "probe", false, "send OPTIONS to -target until it answers (at most -timeout), then exit")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to `file`")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return 1
	}

	if genPKI != "" {
		f, err := writePKI(genPKI)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "trust=%s chain=%s key=%s\n", f.TrustDir, f.Chain[stirtest.Good], f.Key[stirtest.Good])
		return 0
	}
	if probe {
		if err := probeTarget(cfg.target, cfg.timeout); err != nil {
			fmt.Fprintf(stderr, "loadgen: probe: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s answers\n", cfg.target)
		return 0
	}

	if wantHeader != "" {
		name, value, ok := strings.Cut(wantHeader, ":")
		if !ok || strings.TrimSpace(name) == "" {
			fmt.Fprintf(stderr, "loadgen: -want-header %q: want \"Name: value\"\n", wantHeader)
			return 1
		}
		cfg.wantHeader, cfg.wantValue = strings.TrimSpace(name), strings.TrimSpace(value)
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	cfg.showTo = stderr

	var signer identitySigner
	if cfg.unsignedPct < 100 {
		if keyFile == "" {
			fmt.Fprintln(stderr, "loadgen: signed calls need -key and -x5u (or use -unsigned-pct 100)")
			return 1
		}
		s, err := loadSigner(keyFile, x5u)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		signer = s
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	if serveAddr != "" {
		stop, err := serveX5U(ctx, serveAddr, serveFile)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		defer stop()
	}

	pool, err := newTokenPool(signer, attest, cfg.numbers)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	go pool.keepFresh(ctx, refresh)

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	r, err := newRunner(cfg, pool)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	s, err := r.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if asJSON {
		fmt.Fprintln(stdout, s.json())
	} else {
		fmt.Fprintln(stdout, s.line())
	}
	if s.Failed > 0 {
		return 3
	}
	return 0
}

// probeTarget sends an OPTIONS request every 100 ms until any SIP response
// comes back or the timeout passes.
func probeTarget(target string, timeout time.Duration) error {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q: only loopback addresses are allowed", target)
	}
	raddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return err
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, raddr)
	if err != nil {
		return err
	}
	defer c.Close()
	local := c.LocalAddr().String()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65536)
	for n := 0; time.Now().Before(deadline); n++ {
		msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-probe-%d;rport\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:loadgen@127.0.0.1>;tag=probe\r\nTo: <sip:%s>\r\n"+
			"Call-ID: probe-%d@127.0.0.1\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n",
			target, local, n, target, n, n+1)
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		m, err := c.Read(buf)
		if err == nil && strings.HasPrefix(string(buf[:m]), "SIP/2.0 ") {
			return nil
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			time.Sleep(100 * time.Millisecond) // connection refused: nobody listens yet
		}
	}
	return fmt.Errorf("no answer from %s within %v", target, timeout)
}
