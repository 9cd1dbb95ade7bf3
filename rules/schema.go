package rules

import (
	"bytes"
	_ "embed"
)

//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of rule files: the
// actions with their operand counts, directions and when conditions, for
// editors (VS Code's JSON and YAML extensions) and for `xformd schema`. It is
// generated from the action registry by internal/schemagen; a test in
// cmd/xformd keeps the two in agreement.
func Schema() []byte { return bytes.Clone(schemaJSON) }
