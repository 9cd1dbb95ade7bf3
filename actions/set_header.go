package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

func setHeaderSpec() engine.Spec {
	return engine.Spec{
		Name:        "set_header",
		Summary:     "Set a header: replace every instance, or add it when absent.",
		Operands:    []string{"name", "value"},
		MinOperands: 2, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			w, err := buildHeaderWrite(b, ops)
			if err != nil {
				return nil, err
			}
			return &setHeader{w}, nil
		},
	}
}

type setHeader struct{ headerWrite }

func (a *setHeader) Run(c *engine.Call) engine.Outcome {
	v := a.value.Render(c)
	n, err := a.field.Set(c.Request, v)
	if err != nil {
		return engine.Fail("set_header %s: %v", a.name, err)
	}
	if c.Tracing {
		if n == 0 {
			c.Notef("added %s: %s", a.name, v)
		} else {
			c.Notef("set %s: %s (replaced %d)", a.name, v, n)
		}
	}
	return engine.Done()
}
