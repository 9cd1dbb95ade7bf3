package rules

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestPosString(t *testing.T) {
	tests := []struct {
		p    Pos
		want string
	}{
		{Pos{File: "r.json", Line: 3, Col: 7}, "r.json:3:7"},
		{Pos{File: "r.json"}, "r.json"},
		{Pos{File: "dir/r.yaml", Line: 1, Col: 1}, "dir/r.yaml:1:1"},
		{Pos{}, ""},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		in   string
		want Direction
		ok   bool
	}{
		{"", Any, true},
		{"any", Any, true},
		{"ANY", Any, true},
		{"both", Any, true},
		{"inbound", Inbound, true},
		{" Inbound ", Inbound, true},
		{"in", Inbound, true},
		{"outbound", Outbound, true},
		{"OUT", Outbound, true},
		{"inbnd", Any, false},
		{"sideways", Any, false},
		{"in bound", Any, false},
	}
	for _, tt := range tests {
		got, ok := ParseDirection(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseDirection(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for d, s := range map[Direction]string{Any: "any", Inbound: "inbound", Outbound: "outbound", Direction(9): "any"} {
		if got := d.String(); got != s {
			t.Errorf("Direction(%d).String() = %q, want %q", d, got, s)
		}
		if back, ok := ParseDirection(d.String()); !ok || (d <= Outbound && back != d) {
			t.Errorf("ParseDirection(%v.String()) = %v, %v", d, back, ok)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Pos: Pos{File: "r.json", Line: 2, Col: 5}, Msg: "unknown action \"set_heder\"", Hint: "did you mean set_header?"}, `r.json:2:5: unknown action "set_heder" (did you mean set_header?)`},
		{&Error{Pos: Pos{File: "r.json", Line: 2, Col: 5}, Msg: "bad"}, "r.json:2:5: bad"},
		{&Error{Pos: Pos{File: "r.json"}, Msg: "cannot read"}, "r.json: cannot read"},
		{Errorf(Pos{File: "x", Line: 1, Col: 2}, "want %d operands, got %d", 2, 3), "x:1:2: want 2 operands, got 3"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorListSort(t *testing.T) {
	mk := func(file string, line, col int, msg string) *Error {
		return &Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: msg}
	}
	l := ErrorList{
		mk("b.json", 1, 1, "b11"),
		mk("a.json", 10, 2, "a10-2"),
		mk("a.json", 2, 30, "a2-30"),
		mk("a.json", 2, 4, "a2-4 first"),
		mk("a.json", 2, 4, "a2-4 second"),
		mk("a.json", 0, 0, "a no pos"),
	}
	err := l.Err()
	if err == nil {
		t.Fatal("Err() = nil for a non-empty list")
	}
	var got []string
	for _, e := range l {
		got = append(got, e.Msg)
	}
	want := []string{"a no pos", "a2-4 first", "a2-4 second", "a2-30", "a10-2", "b11"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted = %q, want %q", got, want)
	}
	wantText := "a.json: a no pos\na.json:2:4: a2-4 first\na.json:2:4: a2-4 second\na.json:2:30: a2-30\na.json:10:2: a10-2\nb.json:1:1: b11"
	if err.Error() != wantText {
		t.Errorf("Error() =\n%s\nwant\n%s", err.Error(), wantText)
	}
	if (ErrorList{}).Err() != nil || ErrorList(nil).Err() != nil {
		t.Error("Err() of an empty list is not nil")
	}
}

func TestErrorsFlatten(t *testing.T) {
	one := &Error{Pos: Pos{File: "f", Line: 1, Col: 1}, Msg: "one"}
	two := &Error{Pos: Pos{File: "f", Line: 2, Col: 1}, Msg: "two"}
	if got := Errors(nil); got != nil {
		t.Errorf("Errors(nil) = %v", got)
	}
	if got := Errors(ErrorList{one, two}); len(got) != 2 || got[0] != one || got[1] != two {
		t.Errorf("Errors(list) = %v", got)
	}
	if got := Errors(fmt.Errorf("loading: %w", ErrorList{one, two})); len(got) != 2 {
		t.Errorf("Errors(wrapped list) = %v", got)
	}
	if got := Errors(fmt.Errorf("ctx: %w", one)); len(got) != 1 || got[0] != one {
		t.Errorf("Errors(wrapped one) = %v", got)
	}
	got := Errors(errors.New("plain"))
	if len(got) != 1 || got[0].Msg != "plain" || got[0].Pos != (Pos{}) {
		t.Errorf("Errors(plain) = %v", got)
	}
}
