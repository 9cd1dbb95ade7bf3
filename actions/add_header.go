package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/templates"
)

func addHeaderSpec() engine.Spec {
	return engine.Spec{
		Name:        "add_header",
		Summary:     "Append a header, keeping any existing instances.",
		Operands:    []string{"name", "value"},
		MinOperands: 2, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			name, err := headerName(b, ops[0])
			if err != nil {
				return nil, err
			}
			value, err := b.Template(ops[1])
			if err != nil {
				return nil, err
			}
			return &addHeader{name: name, field: sipmsg.MakeField(name), value: value}, nil
		},
	}
}

type addHeader struct {
	name  string
	field sipmsg.Field
	value *templates.Template
}

func (a *addHeader) Run(c *engine.Call) engine.Outcome {
	v := a.value.Render(c)
	if err := a.field.Add(c.Request, v); err != nil {
		return engine.Fail("add_header %s: %v", a.name, err)
	}
	if c.Tracing {
		c.Notef("added %s: %s", a.name, v)
	}
	return engine.Done()
}
