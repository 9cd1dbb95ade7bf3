package suite

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// TestSchemaKeys checks that the schema names exactly the keys the suite
// types decode, section by section.
func TestSchemaKeys(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	keys := func(obj any) []string {
		props := obj.(map[string]any)["properties"].(map[string]any)
		var out []string
		for k := range props {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	expect := defs["expect"].(map[string]any)
	for _, tt := range []struct {
		name   string
		schema any
		typ    reflect.Type
	}{
		{"suite", doc, reflect.TypeOf(File{})},
		{"case", defs["case"], reflect.TypeOf(Case{})},
		{"expect", expect, reflect.TypeOf(Expect{})},
		{"identity", expect["properties"].(map[string]any)["identity"], reflect.TypeOf(IdentityExpect{})},
		{"sign", defs["sign"], reflect.TypeOf(Sign{})},
	} {
		if got, want := keys(tt.schema), yamlKeys(tt.typ); !slices.Equal(got, want) {
			t.Errorf("%s: schema keys %v, suite decodes %v", tt.name, got, want)
		}
	}
}

// TestSchemaExamples validates every example suite against the schema.
func TestSchemaExamples(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("suite.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("suite.json")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*", "tests.yaml"))
	if len(files) == 0 {
		t.Fatal("no example suites")
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(v)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s does not validate against suite/schema.json:\n%v", path, err)
		}
	}
}
