package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/xformd/xformd/replay"
	"github.com/xformd/xformd/suite"
)

// runTest runs rule test suites and prints each failing case with expected
// and actual values, then "N passed, N failed". Exit 0 when all pass, 1 on
// any failure or a suite that cannot be read, 2 on usage errors.
func runTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("test", stderr)
	verbose := fs.Bool("v", false, "also list passing cases, and show the dry run of failing ones")
	run := fs.String("run", "", "run only the cases whose name matches this regular expression")
	setUsage(fs, stderr,
		"usage: xformd test [-v] [-run REGEX] SUITE.yaml|DIR...",
		"\nRuns rule test suites: each case replays an INVITE through a rule file and checks the",
		"disposition, variables, headers, display name and Request-URI. A directory stands for",
		"every tests.yaml and *.tests.yaml below it. See docs/operators.md.",
		"")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	var opts suite.Options
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintf(stderr, "xformd test: invalid -run %q: %v\n", *run, err)
			return exitUsage
		}
		opts.Run = re
	}
	files, err = suite.Find(files)
	if err != nil {
		fmt.Fprintf(stderr, "xformd test: %v\n", err)
		return exitUsage
	}
	runner := suite.NewRunner()
	defer runner.Close()
	passed, failed := 0, 0
	for _, path := range files {
		f, err := suite.Load(path)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %v\n", err)
			failed++
			continue
		}
		for _, r := range runner.Run(f, opts) {
			if r.Passed() {
				passed++
				if *verbose {
					fmt.Fprintf(stdout, "ok   %s\n", r.Where())
				}
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n", r.Where())
			if r.Err != nil {
				fmt.Fprintf(stdout, "     cannot run: %s\n", indent(r.Err.Error()))
			}
			for _, f := range r.Failures {
				fmt.Fprintf(stdout, "     %s\n", f)
			}
			if *verbose && r.Outcome != nil {
				fmt.Fprintln(stdout, "     dry run:")
				var b strings.Builder
				_ = replay.WriteText(&b, r.Outcome, replay.Style{})
				fmt.Fprint(stdout, indentBlock(b.String(), "       "))
			}
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n       ") }

func indentBlock(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
