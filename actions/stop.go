package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

func stopSpec() engine.Spec {
	return engine.Spec{
		Name:        "stop",
		Summary:     "End the pipeline; the call goes on as it is.",
		Operands:    []string{},
		MinOperands: 0, MaxOperands: 0,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			return engine.ActionFunc(func(c *engine.Call) engine.Outcome { return engine.Stop() }), nil
		},
	}
}
