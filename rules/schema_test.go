package rules

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compileSchema compiles the embedded schema with a well-kept validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema.json does not compile: %v", err)
	}
	return s
}

// instance reads a rule file (JSON or YAML) as a JSON value.
func instance(t *testing.T, name string, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return inst
}

// TestSchemaExamples checks every rule file in examples/ against the
// schema, and that the rule loader accepts them too.
func TestSchemaExamples(t *testing.T) {
	s := compileSchema(t)
	var files []string
	for _, pat := range []string{"*/rules*.json", "*/rules*.yaml", "*/rules*.yml"} {
		m, _ := filepath.Glob(filepath.Join("..", "examples", pat))
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("found %d example rule files (examples/*/rules*.{json,yaml}), want at least 4", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			f, err := LoadFile(path)
			if err != nil {
				t.Fatalf("rule loader refuses it: %v", err)
			}
			data := mustRead(t, path)
			if err := s.Validate(instance(t, path, data)); err != nil {
				t.Errorf("%s does not validate against rules/schema.json:\n%v", path, err)
			}
			if len(f.Rules) == 0 {
				t.Errorf("%s has no rules", path)
			}
		})
	}
}

// TestSchemaRejects checks that the schema catches the mistakes editors
// should underline.
func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		name, doc string
		valid     bool
	}{
		{"carrierx object", `{"transformations": [{"action": "set_header", "direction": "inbound", "operands": ["X-A", "b"]}]}`, true},
		{"bare list, YAML", "- action: stop\n- action: reject\n  operands: [403]\n", true},
		{"nested action", `[{"action": "if_match", "operands": ["{{from_user}}", "^1", "set_header", "X-A", "b"]}]`, true},
		{"when and name", `[{"action": "log", "operands": ["hi"], "when": "from_user startsWith \"1\"", "name": "n", "comment": "c"}]`, true},
		{"null transformations", `{"transformations": null}`, true},
		{"unknown action", `[{"action": "set_headr", "operands": ["X-A", "b"]}]`, false},
		{"unknown nested action", `[{"action": "if_match", "operands": ["a", "b", "nope"]}]`, false},
		{"too few operands", `[{"action": "set_header", "operands": ["X-A"]}]`, false},
		{"too many operands", `[{"action": "stop", "operands": ["x"]}]`, false},
		{"missing operands", `[{"action": "redirect"}]`, false},
		{"bad direction", `[{"action": "stop", "direction": "sideways"}]`, false},
		{"unknown key", `[{"action": "stop", "operand": []}]`, false},
		{"no action", `[{"operands": []}]`, false},
		{"operand object", `[{"action": "log", "operands": [{"a": 1}]}]`, false},
		{"no transformations", `{"transformation": []}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(instance(t, tt.name, []byte(tt.doc)))
			if (err == nil) != tt.valid {
				t.Errorf("valid = %v, want %v (%v)", err == nil, tt.valid, err)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
