package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/templates"
)

func routeSpec() engine.Spec {
	return engine.Spec{
		Name:        "route",
		Summary:     "Set where the call is sent next (the next hop, or the 302 Contact in redirect mode); the pipeline goes on.",
		Operands:    []string{"uri"},
		MinOperands: 1, MaxOperands: 1,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			t, err := uriOperand(b, ops[0])
			return &route{target: t}, err
		},
	}
}

type route struct{ target *templates.Template }

func (a *route) Run(c *engine.Call) engine.Outcome {
	uri, err := renderURI(c, a.target)
	if err != nil {
		return engine.Fail("route: %v", err)
	}
	c.SetRoute(uri)
	if c.Tracing {
		c.Notef("route to %s", uri)
	}
	return engine.Done()
}
