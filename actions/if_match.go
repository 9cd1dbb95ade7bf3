package actions

import (
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/templates"
)

func ifMatchSpec() engine.Spec {
	return engine.Spec{
		Name:        "if_match",
		Summary:     "Run the nested action when subject matches pattern (unanchored search).",
		Operands:    []string{"subject", "pattern", "action", "operands..."},
		MinOperands: 3, MaxOperands: -1,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			return buildIfMatch(b, ops, true)
		},
	}
}

func ifNotMatchSpec() engine.Spec {
	return engine.Spec{
		Name:        "if_not_match",
		Summary:     "Run the nested action when subject does not match pattern.",
		Operands:    []string{"subject", "pattern", "action", "operands..."},
		MinOperands: 3, MaxOperands: -1,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			return buildIfMatch(b, ops, false)
		},
	}
}

type ifMatch struct {
	subject *templates.Template
	pat     *engine.Pattern
	want    bool
	then    engine.Action
	action  string
}

func buildIfMatch(b *engine.Builder, ops []rules.Value, want bool) (engine.Action, error) {
	subject, err := b.Template(ops[0])
	if err != nil {
		return nil, err
	}
	pat, err := b.Pattern(ops[1])
	if err != nil {
		return nil, err
	}
	then, err := b.Nested(ops[2:])
	if err != nil {
		return nil, err
	}
	return &ifMatch{subject: subject, pat: pat, want: want, then: then, action: ops[2].Text}, nil
}

func (a *ifMatch) Run(c *engine.Call) engine.Outcome {
	s := a.subject.Render(c)
	if a.pat.Match(c, s) != a.want {
		if c.Tracing {
			if a.want {
				c.Notef("%q does not match %q", s, a.pat.Source())
			} else {
				c.Notef("%q matches %q", s, a.pat.Source())
			}
		}
		return engine.NoMatch()
	}
	if c.Tracing {
		if a.want {
			c.Notef("%q matches %q: %s", s, a.pat.Source(), a.action)
		} else {
			c.Notef("%q does not match %q: %s", s, a.pat.Source(), a.action)
		}
	}
	out := a.then.Run(c)
	if out.Kind == engine.NotMatched {
		// The condition held; the nested action had nothing to change.
		return engine.Done()
	}
	return out
}
