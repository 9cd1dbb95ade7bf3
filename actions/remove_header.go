package actions

import (
	"strings"

	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
)

func removeHeaderSpec() engine.Spec {
	return engine.Spec{
		Name:        "remove_header",
		Summary:     "Remove every instance of a header (case-insensitive, compact forms included); a name ending in * removes every header with that prefix, protected ones excepted.",
		Operands:    []string{"name"},
		MinOperands: 1, MaxOperands: 1,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			if prefix, ok := strings.CutSuffix(ops[0].Text, "*"); ok {
				if prefix == "" || !sipmsg.ValidName(prefix) {
					return nil, b.Errorf(ops[0], "invalid header prefix %q: write a header name prefix followed by *, e.g. X-*", ops[0].Text)
				}
				return &removeHeaderPrefix{prefix: strings.ToLower(prefix), spelled: ops[0].Text}, nil
			}
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
	return removed(c, sipmsg.RemoveAll(c.Request, a.name), a.spelled)
}

func removed(c *engine.Call, n int, spelled string) engine.Outcome {
	if n == 0 {
		if c.Tracing {
			c.Notef("no %s header", spelled)
		}
		return engine.NoMatch()
	}
	if c.Tracing {
		c.Notef("removed %d %s header(s)", n, spelled)
	}
	return engine.Done()
}

// removeHeaderPrefix removes every header whose full name starts with a
// prefix, such as the untrusted X- headers of another network. Protected
// headers are never removed, whatever the prefix.
type removeHeaderPrefix struct {
	prefix  string
	spelled string
}

func (a *removeHeaderPrefix) Run(c *engine.Call) engine.Outcome {
	total := 0
	for {
		var victim string
		for _, h := range c.Request.Headers() {
			name := h.Name()
			full := sipmsg.Canonical(name)
			if len(full) >= len(a.prefix) && strings.EqualFold(full[:len(a.prefix)], a.prefix) && !sipmsg.IsProtected(name) {
				victim = name
				break
			}
		}
		if victim == "" || !c.Request.RemoveHeader(victim) {
			return removed(c, total, a.spelled)
		}
		total++
	}
}
