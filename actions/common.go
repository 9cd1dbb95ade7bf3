package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/templates"
)

// headerName validates a header-name operand: literal (no variables), an
// RFC 3261 token, and not one of the headers rules may not touch.
func headerName(b *engine.Builder, v rules.Value) (string, error) {
	if v.Text == "" {
		return "", b.Errorf(v, "header name is empty")
	}
	if !sipmsg.ValidName(v.Text) {
		return "", b.Errorf(v, "invalid header name %q: a header name is letters, digits and -.!%%*_+`'~ only", v.Text)
	}
	if sipmsg.IsProtected(v.Text) {
		switch sipmsg.Canonical(v.Text) {
		case "from":
			return "", b.Errorf(v, "the From header cannot be changed with header actions: use rewrite_from or rewrite_from_header_param")
		case "to":
			return "", b.Errorf(v, "the To header cannot be changed with header actions: use rewrite_to or rewrite_to_header_param")
		}
		return "", b.Errorf(v, "header %s is protected: changing it would break the SIP transaction", sipmsg.DisplayName(v.Text))
	}
	return v.Text, nil
}

// headerWrite is a compiled [name, value] operand pair of set_header and
// add_header.
type headerWrite struct {
	name  string
	field sipmsg.Field
	value *templates.Template
}

func buildHeaderWrite(b *engine.Builder, ops []rules.Value) (headerWrite, error) {
	name, err := headerName(b, ops[0])
	if err != nil {
		return headerWrite{}, err
	}
	value, err := b.Template(ops[1])
	if err != nil {
		return headerWrite{}, err
	}
	return headerWrite{name: name, field: sipmsg.MakeField(name), value: value}, nil
}

// headerWriteSpec is the spec of an action with [name, value] operands that
// writes a header (set_header, add_header).
func headerWriteSpec(name, summary string, mk func(headerWrite) engine.Action) engine.Spec {
	return engine.Spec{
		Name:        name,
		Summary:     summary,
		Operands:    []string{"name", "value"},
		MinOperands: 2, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			w, err := buildHeaderWrite(b, ops)
			if err != nil {
				return nil, err
			}
			return mk(w), nil
		},
	}
}
