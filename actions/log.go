package actions

import (
	"context"
	"log/slog"

	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/templates"
)

func logSpec() engine.Spec {
	return engine.Spec{
		Name:        "log",
		Summary:     "Write message (a template) to the log at info level with the call's Call-ID.",
		Operands:    []string{"message"},
		MinOperands: 1, MaxOperands: 1,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			t, err := b.Template(ops[0])
			if err != nil {
				return nil, err
			}
			return &logAction{msg: t, pos: b.Rule().Pos.String()}, nil
		},
	}
}

type logAction struct {
	msg *templates.Template
	pos string
}

func (a *logAction) Run(c *engine.Call) engine.Outcome {
	m := a.msg.Render(c)
	if c.Logger != nil {
		callID, _ := c.Var("call_id")
		ctx := c.Context
		if ctx == nil {
			ctx = context.Background()
		}
		c.Logger.LogAttrs(ctx, slog.LevelInfo, m, slog.String("call_id", callID), slog.String("rule", a.pos))
	}
	if c.Tracing {
		c.Notef("log: %s", m)
	}
	return engine.Done()
}
