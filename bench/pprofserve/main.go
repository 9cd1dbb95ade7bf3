// Command pprofserve runs the xformd daemon exactly as `xformd serve` does
// (same flags, same config.Flags → server.New → Start wiring) plus Go's
// net/http/pprof handlers on a separate loopback address, so that the
// daemon can be CPU-profiled under load without changing it:
//
//	go build -o /tmp/pprofserve ./bench/pprofserve
//	/tmp/pprofserve -pprof 127.0.0.1:6070 --listen udp:127.0.0.1:5070 ... &
//	curl -o cpu.pprof 'http://127.0.0.1:6070/debug/pprof/profile?seconds=10'
//
// It exists only for benchmarking (bench/run.sh uses it when the daemon's
// admin listener has no /debug/pprof). SIGTERM or SIGINT stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs passed in.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pprofserve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f config.Flags
	f.Register(fs)
	pprofAddr := fs.String("pprof", "127.0.0.1:6070", "loopback `host:port` for /debug/pprof")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pprofserve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	host, _, err := net.SplitHostPort(*pprofAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(stderr, "pprofserve: -pprof %q: want a loopback host:port\n", *pprofAddr)
		return 2
	}
	cfg, err := f.Build()
	if err != nil {
		fmt.Fprintf(stderr, "pprofserve: %v\n", err)
		return 1
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	ln, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		fmt.Fprintf(stderr, "pprofserve: %v\n", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	srv, err := server.New(server.Options{Config: cfg, LogOutput: stderr, Stdout: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "pprofserve: %v\n", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(stderr, "pprofserve: %v\n", err)
		srv.Close()
		return 1
	}
	srv.Logger().Info("pprofserve: xformd serving", "pprof", ln.Addr().String())
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Fprintf(stderr, "pprofserve: shutdown: %v\n", err)
	}
	return 0
}
