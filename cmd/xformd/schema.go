package main

import (
	"fmt"
	"io"

	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/suite"
)

// runSchema prints the JSON Schema of rule files (or, with --suite, of test
// suites) for editors: xformd schema > xformd-rules.schema.json.
func runSchema(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("schema", stderr)
	suites := fs.Bool("suite", false, "print the schema of xformd test suites instead of rule files")
	setUsage(fs, stderr,
		"usage: xformd schema [--suite] > xformd-rules.schema.json",
		"\nPrints the JSON Schema of rule files (actions, operand counts, directions, when),",
		"or with --suite of test suites, for editor completion and validation.",
		"See docs/operators.md for editor setup.")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xformd schema: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	schema := rules.Schema()
	if *suites {
		schema = suite.Schema()
	}
	if _, err := stdout.Write(schema); err != nil {
		fmt.Fprintf(stderr, "xformd schema: %v\n", err)
		return 1
	}
	return 0
}
