// Command gen regenerates the generated parts of examples/: each STIR
// example's test PKI (pki/), its signed, unsigned and tampered INVITEs
// (invites/) and its packet captures (captures/), using stir/stirtest and
// capture/capturetest. Rule files, test suites and READMEs are written by
// hand and left alone.
//
//	go run ./examples/internal/gen            # from the repository root
//	go run ./examples/internal/gen -dir /tmp/ex
//
// Everything is pinned to Now, the clock the example suites run at, and the
// certificates are valid for Validity after it, so the suites stay
// deterministic and the files keep working for decades. Keys differ on each
// run (they are random), so regenerating changes every signed file.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	dir := flag.String("dir", "examples", "examples directory to write into")
	flag.Parse()
	if err := Generate(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}
