// Package schemagen generates rules/schema.json, the JSON Schema of rule
// files, from an action registry: every action's name, summary, operand
// names and operand counts come from its engine.Spec, so the schema and the
// compiler cannot disagree. The checked-in file is compared with the
// generated one by a test (cmd/xformd), which rewrites it with -update.
package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/xformd/xformd/engine"
)

// obj is a JSON object that keeps its keys in the order written, so the
// generated file reads well and diffs cleanly.
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the members in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Generate returns the JSON Schema (draft 2020-12) of rule files for the
// actions in reg, indented, with a trailing newline.
func Generate(reg *engine.Registry) ([]byte, error) {
	specs := reg.Specs()
	names := reg.Names()
	descs := make([]string, len(specs))
	for i, s := range specs {
		descs[i] = fmt.Sprintf("%s %s: %s", s.Name, usage(s), s.Summary)
	}
	var conds []any
	for _, s := range specs {
		conds = append(conds, actionCondition(s, names))
	}
	rule := obj{
		{"type", "object"},
		{"description", "One transformation: an action with positional string operands, optionally limited to a direction and a when condition."},
		{"required", []string{"action"}},
		{"additionalProperties", false},
		{"properties", obj{
			{"action", obj{
				{"description", "The action to run."},
				{"enum", names},
				{"enumDescriptions", descs},
			}},
			{"direction", obj{
				{"description", "Which calls the rule runs on: inbound, outbound or any (default). in, out and both are accepted spellings."},
				{"enum", []string{"inbound", "outbound", "any", "in", "out", "both"}},
				{"default", "any"},
			}},
			{"operands", obj{
				{"description", "The action's positional operands. Each is a template: {{variable}} (or <<variable>>) is replaced by the variable's value."},
				{"type", []string{"array", "null"}},
				{"items", obj{{"$ref", "#/$defs/operand"}}},
			}},
			{"name", obj{{"description", "A name for traces and logs."}, {"type", "string"}}},
			{"comment", obj{{"description", "Free text for people; ignored."}, {"type", "string"}}},
			{"when", obj{
				{"description", "An expr-lang boolean condition over the call's variables, e.g. stir_attest in [\"A\",\"B\"] && from_user startsWith \"1\"; the rule runs only when it is true."},
				{"type", "string"},
			}},
		}},
		{"allOf", conds},
	}
	schema := obj{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", "https://github.com/xformd/xformd/rules/schema.json"},
		{"title", "xformd rule file"},
		{"description", "CarrierX-style SIP call transformations: an object with a transformations list, or a bare list of rules. JSON or YAML. Generated from the action registry; run `xformd schema` to print it."},
		{"oneOf", []any{
			obj{
				{"type", "object"},
				{"required", []string{"transformations"}},
				{"properties", obj{{"transformations", obj{
					{"description", "The rules, run in order on every INVITE of their direction."},
					{"type", []string{"array", "null"}},
					{"items", obj{{"$ref", "#/$defs/rule"}}},
				}}}},
			},
			obj{
				{"type", "array"},
				{"items", obj{{"$ref", "#/$defs/rule"}}},
			},
		}},
		{"$defs", obj{
			{"operand", obj{
				{"description", "An operand: a string (numbers and booleans are read in their written spelling)."},
				{"type", []string{"string", "number", "boolean"}},
			}},
			{"rule", rule},
		}},
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// actionCondition says, for one action, how many operands it takes and
// what each is.
func actionCondition(s *engine.Spec, names []string) obj {
	ops := obj{{"description", fmt.Sprintf("%s %s: %s", s.Name, usage(s), s.Summary)}}
	if s.MinOperands > 0 {
		ops = append(ops, kv{"minItems", s.MinOperands})
	}
	if s.MaxOperands >= 0 {
		ops = append(ops, kv{"maxItems", s.MaxOperands})
	}
	var prefix []any
	for _, o := range s.Operands {
		if strings.HasSuffix(o, "...") {
			break
		}
		item := obj{{"description", o}}
		if o == "action" {
			// The nested action of if_match and if_not_match.
			item = append(item, kv{"enum", names})
		}
		prefix = append(prefix, item)
	}
	if len(prefix) > 0 {
		ops = append(ops, kv{"prefixItems", prefix})
	}
	if s.MinOperands > 0 {
		// An action that needs operands cannot have them null or absent.
		ops = append(ops, kv{"type", "array"})
	}
	then := obj{{"properties", obj{{"operands", ops}}}}
	if s.MinOperands > 0 {
		then = append(then, kv{"required", []string{"operands"}})
	}
	return obj{
		{"if", obj{{"properties", obj{{"action", obj{{"const", s.Name}}}}}, {"required", []string{"action"}}}},
		{"then", then},
	}
}

// usage writes the operands as [a, b].
func usage(s *engine.Spec) string {
	return "[" + strings.Join(s.Operands, ", ") + "]"
}
