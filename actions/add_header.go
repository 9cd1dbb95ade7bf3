package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

func addHeaderSpec() engine.Spec {
	return engine.Spec{
		Name:        "add_header",
		Summary:     "Append a header, keeping any existing instances.",
		Operands:    []string{"name", "value"},
		MinOperands: 2, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			w, err := buildHeaderWrite(b, ops)
			if err != nil {
				return nil, err
			}
			return &addHeader{w}, nil
		},
	}
}

type addHeader struct{ headerWrite }

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
