package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/xformd/xformd/rules"
)

// runSchema prints the JSON Schema of rule files, for editors:
// xformd schema > xformd-rules.schema.json.
func runSchema(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xformd schema > xformd-rules.schema.json")
		fmt.Fprintln(stderr, "\nPrints the JSON Schema of rule files (actions, operand counts, directions, when),")
		fmt.Fprintln(stderr, "for editor completion and validation. See docs/operators.md for editor setup.")
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xformd schema: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if _, err := stdout.Write(rules.Schema()); err != nil {
		fmt.Fprintf(stderr, "xformd schema: %v\n", err)
		return 1
	}
	return 0
}
