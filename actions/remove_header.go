package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
)

func removeHeaderSpec() engine.Spec {
	return engine.Spec{
		Name:        "remove_header",
		Summary:     "Remove every instance of a header (case-insensitive, compact forms included).",
		Operands:    []string{"name"},
		MinOperands: 1, MaxOperands: 1,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			name, err := headerName(b, ops[0])
			if err != nil {
				return nil, err
			}
			return &removeHeader{name: sipmsg.MakeName(name), spelled: name}, nil
		},
	}
}

type removeHeader struct {
	name    sipmsg.Name
	spelled string
}

func (a *removeHeader) Run(c *engine.Call) engine.Outcome {
	n := sipmsg.RemoveAll(c.Request, a.name)
	if n == 0 {
		if c.Tracing {
			c.Notef("no %s header", a.spelled)
		}
		return engine.NoMatch()
	}
	if c.Tracing {
		c.Notef("removed %d %s header(s)", n, a.spelled)
	}
	return engine.Done()
}
