package main

import (
	"fmt"
	"io"

	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

// runCheck loads and compiles rule files and prints every problem as
// file:line:col: message. Exit 0 when all files are valid, 1 otherwise,
// 2 on usage errors.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", stderr)
	quiet := fs.Bool("q", false, "print only errors")
	setUsage(fs, stderr,
		"usage: xformd check [-q] FILE...",
		"\nLoads and compiles each rule file (JSON or YAML) and prints every error as file:line:col: message.")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	reg := actions.Builtin(actions.Options{})
	status := 0
	for _, path := range fs.Args() {
		p, err := compileFile(path, reg)
		if err != nil {
			for _, e := range rules.Errors(err) {
				fmt.Fprintln(stdout, e.Error())
			}
			status = 1
			continue
		}
		if !*quiet {
			fmt.Fprintf(stdout, "%s: ok (%d rules)\n", path, p.Len())
		}
	}
	return status
}

// compileFile loads and compiles one rule file with default options.
func compileFile(path string, reg *engine.Registry) (*engine.Pipeline, error) {
	f, err := rules.LoadFile(path)
	if f == nil {
		return nil, err
	}
	p, cerr := engine.Compile(f, reg, engine.Options{})
	if err == nil {
		return p, cerr
	}
	// Report the rules that did not parse together with those that did not
	// compile, in file order.
	all := append(rules.ErrorList{}, rules.Errors(err)...)
	all = append(all, rules.Errors(cerr)...)
	return nil, all.Err()
}
