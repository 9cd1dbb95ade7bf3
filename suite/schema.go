package suite

import (
	"bytes"
	_ "embed"
)

//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of suite files, for
// editors: `xformd schema --suite`. A test keeps its keys in agreement with
// the suite types.
func Schema() []byte { return bytes.Clone(schemaJSON) }
