package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/internal/schemagen"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/suite"
)

var update = flag.Bool("update", false, "rewrite rules/schema.json from the action registry")

// TestSchemaAgreesWithCompiler checks that rules/schema.json is exactly what
// the action registry generates, so the schema's action list and operand
// counts are the compiler's. Run with -update after changing an action.
func TestSchemaAgreesWithCompiler(t *testing.T) {
	reg := actions.Builtin(actions.Options{})
	want, err := schemagen.Generate(reg)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "..", "rules", "schema.json"), want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote rules/schema.json")
		return
	}
	var doc struct {
		Defs struct {
			Rule struct {
				Properties struct {
					Action struct {
						Enum []string `json:"enum"`
					} `json:"action"`
				} `json:"properties"`
			} `json:"rule"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(rules.Schema(), &doc); err != nil {
		t.Fatalf("rules/schema.json: %v", err)
	}
	if got := doc.Defs.Rule.Properties.Action.Enum; !slices.Equal(got, reg.Names()) {
		t.Errorf("schema actions %v\ncompiler actions %v\nrun: go test ./cmd/xformd -run TestSchemaAgreesWithCompiler -update", got, reg.Names())
	}
	if !bytes.Equal(rules.Schema(), want) {
		t.Errorf("rules/schema.json is out of date with the action registry (operand counts or summaries changed);\nrun: go test ./cmd/xformd -run TestSchemaAgreesWithCompiler -update")
	}
}

func TestSchemaCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"schema"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !bytes.Equal(out.Bytes(), rules.Schema()) {
		t.Errorf("xformd schema does not print rules/schema.json")
	}
	out.Reset()
	if code := run([]string{"schema", "--suite"}, &out, &errb); code != 0 || !bytes.Equal(out.Bytes(), suite.Schema()) {
		t.Errorf("xformd schema --suite: exit %d, does not print suite/schema.json", code)
	}
	if code := run([]string{"schema", "extra"}, &out, &errb); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
}
