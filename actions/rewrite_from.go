package actions

import (
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
)

func rewriteFromSpec() engine.Spec {
	return engine.Spec{
		Name:        "rewrite_from",
		Summary:     "Rewrite the From URI user: replace the first match of pattern, like s/pattern/replacement/.",
		Operands:    []string{"pattern", "replacement"},
		MinOperands: 2, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			return buildURIRewrite(b, ops, "From user", func(r *sip.Request) []*sip.Uri {
				if f := r.From(); f != nil {
					return []*sip.Uri{&f.Address}
				}
				return nil
			})
		},
	}
}

// uriRewrite rewrites the user part of one or more URIs of the request.
type uriRewrite struct {
	what string
	pat  *engine.Pattern
	repl *engine.Replacement
	uris func(*sip.Request) []*sip.Uri
}

func buildURIRewrite(b *engine.Builder, ops []rules.Value, what string, uris func(*sip.Request) []*sip.Uri) (engine.Action, error) {
	pat, err := b.Pattern(ops[0])
	if err != nil {
		return nil, err
	}
	repl, err := b.Replacement(ops[1], pat)
	if err != nil {
		return nil, err
	}
	return &uriRewrite{what: what, pat: pat, repl: repl, uris: uris}, nil
}

func (a *uriRewrite) Run(c *engine.Call) engine.Outcome {
	us := a.uris(c.Request)
	if len(us) == 0 {
		return engine.Fail("request has no %s to rewrite", a.what)
	}
	changed := false
	for _, u := range us {
		old := sipmsg.URIUser(u)
		nu, ok := a.pat.ReplaceFirst(c, old, a.repl)
		if !ok {
			continue
		}
		if err := sipmsg.SetURIUser(u, nu); err != nil {
			return engine.Fail("%s rewrite: %v", a.what, err)
		}
		changed = true
		if c.Tracing {
			c.Notef("%s %q -> %q", a.what, old, nu)
		}
	}
	if !changed {
		return engine.NoMatch()
	}
	return engine.Done()
}
