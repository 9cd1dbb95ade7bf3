package actions

import (
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

func rewriteToSpec() engine.Spec {
	return engine.Spec{
		Name:        "rewrite_to",
		Summary:     "Rewrite the To URI user and the Request-URI user: replace the first match of pattern in each.",
		Operands:    []string{"pattern", "replacement"},
		MinOperands: 2, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			return buildURIRewrite(b, ops, func(r *sip.Request) []namedURI {
				if t := r.To(); t != nil {
					return []namedURI{{"To user", &t.Address}, {"Request-URI user", &r.Recipient}}
				}
				return []namedURI{{"Request-URI user", &r.Recipient}}
			})
		},
	}
}
