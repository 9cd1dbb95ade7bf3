package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/templates"
)

func setVariableSpec() engine.Spec {
	return engine.Spec{
		Name:        "set_variable",
		Summary:     "Set a variable for later rules and the CDR.",
		Operands:    []string{"name", "value"},
		MinOperands: 2, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			value, err := b.Template(ops[1])
			if err != nil {
				return nil, err
			}
			ref, err := b.Declare(ops[0])
			if err != nil {
				return nil, err
			}
			return &setVariable{name: ops[0].Text, ref: ref, value: value}, nil
		},
	}
}

type setVariable struct {
	name  string
	ref   engine.VarRef
	value *templates.Template
}

func (a *setVariable) Run(c *engine.Call) engine.Outcome {
	v := a.value.Render(c)
	c.Set(a.ref, v)
	if c.Tracing {
		c.Notef("%s = %q", a.name, v)
	}
	return engine.Done()
}
