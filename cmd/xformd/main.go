// Command xformd runs declarative SIP call transformations with
// STIR/SHAKEN verification and signing: as a daemon in the call path
// (serve), on captured INVITEs (dryrun), and as tools for rule authors
// (check, test, schema, sign).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: it gets its arguments (after the subcommand
// name) and the output streams, and returns the process exit status.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands. Each lives in its own file.
var commands = map[string]command{
	"check":  {"compile rule files and report every error as file:line:col", runCheck},
	"serve":  {"run the SIP daemon", runServe},
	"dryrun": {"replay captured INVITEs (SIP text, pcap) through rules and show every step", runDryrun},
	"test":   {"run rule test suites (YAML) and report failing expectations", runTest},
	"schema": {"print the JSON Schema of rule files for editors", runSchema},
	"sign":   {"print a signed SHAKEN Identity header value (STIR authentication service)", runSign},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "xformd: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: xformd <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'xformd <command> -h' for a command's flags")
}

// newFlagSet makes a subcommand's flag set that reports errors to stderr
// instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// setUsage makes -h print the given lines, then the flags' defaults.
func setUsage(fs *flag.FlagSet, stderr io.Writer, lines ...string) {
	fs.Usage = func() {
		for _, l := range lines {
			fmt.Fprintln(stderr, l)
		}
		fs.PrintDefaults()
	}
}

// flagExit is the exit status for a flag parsing error: 0 when the user
// asked for -h, 2 (usage error) otherwise.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
