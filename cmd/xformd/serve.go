package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/server"
)

// runServe runs the SIP daemon until SIGTERM or SIGINT. SIGHUP reopens the
// CDR file and reloads the rules.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f config.Flags
	f.Register(fs)
	printConfig := fs.Bool("print-config", false, "print the effective configuration as YAML and exit")
	printDefault := fs.Bool("print-default-config", false, "print the built-in default configuration file and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xformd serve [flags]")
		fmt.Fprintln(stderr, "\nRuns the SIP daemon. With no flags it uses the built-in configuration:")
		fmt.Fprintln(stderr, "SIP on udp+tcp 127.0.0.1:5060, admin on 127.0.0.1:9060, rules from")
		fmt.Fprintln(stderr, "examples/carrierx-stir/rules.json. See docs/serve.md.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xformd serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *printDefault {
		stdout.Write(config.DefaultYAML())
		return 0
	}
	cfg, err := f.Build()
	if err != nil {
		fmt.Fprintf(stderr, "xformd serve: %v\n", err)
		return 1
	}
	if *printConfig {
		shown := *cfg
		if shown.Admin.Token != "" {
			shown.Admin.Token = "(redacted)"
		}
		out, err := shown.Marshal()
		if err != nil {
			fmt.Fprintf(stderr, "xformd serve: %v\n", err)
			return 1
		}
		stdout.Write(out)
		return 0
	}

	// The daemon's live heap is small (rules, certificate cache, calls in
	// progress) and its garbage is per call: collecting at 4x the live heap
	// instead of 2x halves the GC's share of the CPU for a few MB. GOGC in
	// the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}

	// Signals are subscribed before anything starts, so that none is lost.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	srv, err := server.New(server.Options{Config: cfg, LogOutput: stderr, Stdout: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "xformd serve: %v\n", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(stderr, "xformd serve: %v\n", err)
		srv.Close()
		return 1
	}
	log := srv.Logger()
	log.Info("xformd serving", "config", cfg.Source, "mode", string(cfg.SIP.Mode), "admin", srv.AdminAddr())
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			if err := srv.ReopenCDR(); err != nil {
				log.Error("cannot reopen CDR file", "error", err)
			}
			srv.Reload("sighup")
		default:
			log.Info("signal: shutting down", "signal", sig.String(), "deadline", cfg.Limits.ShutdownTimeout)
			ctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				log.Error("shutdown", "error", err)
			}
			return 0
		}
	}
	return 0
}
