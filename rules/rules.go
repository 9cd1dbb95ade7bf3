// Package rules is the model of an xformd rule file and its loader.
//
// A rule file is either the CarrierX shape, an object with a
// "transformations" array, or a bare array of rules; JSON and YAML spell the
// same model. Every value keeps the file, line and column it came from, so
// that the compiler can point at the exact spot of a mistake. JSON is read
// through yaml.v3 (JSON is YAML's flow syntax) to get those positions.
package rules

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// MaxFileSize bounds the size of a rule file; larger files are refused
// before parsing so that a mistaken path (a log file, a pcap) cannot exhaust
// memory.
const MaxFileSize = 4 << 20

// Pos is a position in a rule file. Line and Col are 1-based; Col counts
// bytes, as editors and compilers do.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:col.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Direction says which calls a rule applies to.
type Direction uint8

// The directions. Any is the zero value: a rule without a direction runs on
// every call.
const (
	Any Direction = iota
	Inbound
	Outbound
)

// String returns the rule-file spelling of d.
func (d Direction) String() string {
	switch d {
	case Inbound:
		return "inbound"
	case Outbound:
		return "outbound"
	default:
		return "any"
	}
}

// ParseDirection reads a rule-file direction; the empty string is Any.
func ParseDirection(s string) (Direction, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "any", "both":
		return Any, true
	case "inbound", "in":
		return Inbound, true
	case "outbound", "out":
		return Outbound, true
	}
	return Any, false
}

// Value is a scalar from a rule file with the position it was written at.
type Value struct {
	Text string
	Pos  Pos
	// Quoted is true when the value was written in quotes, so that Pos is
	// the opening quote and the text starts one column later.
	Quoted bool
}

// Rule is one transformation as written in a rule file.
type Rule struct {
	// Index is the rule's 0-based place in its file.
	Index int
	// Pos is where the rule's object starts.
	Pos Pos
	// Action names the action, e.g. "set_header".
	Action Value
	// Direction selects the calls the rule runs on.
	Direction Direction
	// Operands are the action's positional arguments, all strings.
	Operands []Value
	// Name and Comment are free text for people; Name appears in traces.
	Name    string
	Comment string
	// When is an optional expr-lang condition; empty Text means always.
	When Value
}

// File is a loaded rule file.
type File struct {
	// Name is the path the file was loaded from, as given.
	Name  string
	Rules []Rule
}

// Error is a positioned problem in a rule file.
type Error struct {
	Pos Pos
	Msg string
	// Hint is an optional suggestion, e.g. a "did you mean" spelling.
	Hint string
}

// Error formats the problem as file:line:col: message (hint).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Errorf makes an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// ErrorList collects every problem found in a file, so that an operator
// fixes them all in one pass rather than one per run.
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Sort orders the problems by file and position.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Err returns l as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Errors flattens err into the positioned problems it carries. An error that
// is not positioned becomes one Error without a position.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	var list ErrorList
	if errors.As(err, &list) {
		return list
	}
	var one *Error
	if errors.As(err, &one) {
		return []*Error{one}
	}
	return []*Error{{Msg: err.Error()}}
}

// LoadFile reads and parses the rule file at path.
func LoadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: fmt.Sprintf("cannot read rule file: %v", err)}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &Error{Pos: Pos{File: path}, Msg: "is a directory, not a rule file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: fmt.Sprintf("cannot read rule file: %v", err)}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Pos: Pos{File: path}, Msg: fmt.Sprintf("rule file is larger than the %d byte limit", MaxFileSize)}
	}
	return Parse(path, data)
}
