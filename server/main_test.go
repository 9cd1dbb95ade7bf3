package server

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestMain(m *testing.M) {
	// sipgo logs some connection bookkeeping through its package default
	// logger; keep test output readable.
	sip.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	// The tests run sipgo callers and next hops beside the daemon; set the
	// package-wide limits before any of them reads them.
	raiseSIPLimits()
	os.Exit(m.Run())
}
