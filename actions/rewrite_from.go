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
			return buildURIRewrite(b, ops, func(r *sip.Request) []namedURI {
				if f := r.From(); f != nil {
					return []namedURI{{"From user", &f.Address}}
				}
				return nil
			})
		},
	}
}

// namedURI is a URI of the request with the name traces give it.
type namedURI struct {
	name string
	uri  *sip.Uri
}

// uriRewrite rewrites the user part of one or more URIs of the request.
type uriRewrite struct {
	pat  *engine.Pattern
	repl *engine.Replacement
	uris func(*sip.Request) []namedURI
}

func buildURIRewrite(b *engine.Builder, ops []rules.Value, uris func(*sip.Request) []namedURI) (engine.Action, error) {
	pat, err := b.Pattern(ops[0])
	if err != nil {
		return nil, err
	}
	repl, err := b.Replacement(ops[1], pat)
	if err != nil {
		return nil, err
	}
	return &uriRewrite{pat: pat, repl: repl, uris: uris}, nil
}

func (a *uriRewrite) Run(c *engine.Call) engine.Outcome {
	us := a.uris(c.Request)
	if len(us) == 0 {
		return engine.Fail("request has no From header to rewrite")
	}
	changed := false
	for _, nu := range us {
		u := nu.uri
		old := sipmsg.URIUser(u)
		repl, ok := a.pat.ReplaceFirst(c, old, a.repl)
		if !ok {
			continue
		}
		if err := sipmsg.SetURIUser(u, repl); err != nil {
			return engine.Fail("%s rewrite: %v", nu.name, err)
		}
		changed = true
		if c.Tracing {
			c.Notef("%s %q -> %q", nu.name, old, repl)
		}
	}
	if !changed {
		return engine.NoMatch()
	}
	return engine.Done()
}
