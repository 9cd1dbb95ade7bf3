package schemagen

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/xformd/xformd/engine"
)

// TestGenerate builds the schema of a two-action registry and checks that
// operand counts, the nested action and directions are enforced.
func TestGenerate(t *testing.T) {
	reg := engine.NewRegistry(
		engine.Spec{Name: "pair", Summary: "Two operands.", Operands: []string{"a", "b"}, MinOperands: 2, MaxOperands: 2},
		engine.Spec{Name: "when", Summary: "A nested action.", Operands: []string{"subject", "action", "operands..."}, MinOperands: 2, MaxOperands: -1},
		engine.Spec{Name: "none", Summary: "No operands.", Operands: []string{}, MinOperands: 0, MaxOperands: 0},
	)
	out, err := Generate(reg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Generate(reg)
	if !bytes.Equal(out, again) {
		t.Fatal("output is not stable")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		doc   string
		valid bool
	}{
		{`[{"action": "pair", "operands": ["x", "y"]}]`, true},
		{`[{"action": "pair", "operands": ["x"]}]`, false},
		{`[{"action": "pair"}]`, false},
		{`[{"action": "none"}]`, true},
		{`[{"action": "none", "operands": null}]`, true},
		{`[{"action": "none", "operands": ["x"]}]`, false},
		{`[{"action": "when", "operands": ["s", "pair", "x", "y"]}]`, true},
		{`[{"action": "when", "operands": ["s", "nope"]}]`, false},
		{`{"transformations": [{"action": "none", "direction": "outbound"}]}`, true},
		{`{"transformations": [{"action": "none", "direction": "up"}]}`, false},
		{`[{"action": "other"}]`, false},
	}
	for _, tt := range tests {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.doc)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(inst); (err == nil) != tt.valid {
			t.Errorf("%s: valid = %v, want %v (%v)", tt.doc, err == nil, tt.valid, err)
		}
	}
}
