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
			return buildURIRewrite(b, ops, "To/Request-URI user", func(r *sip.Request) []*sip.Uri {
				out := make([]*sip.Uri, 0, 2)
				if t := r.To(); t != nil {
					out = append(out, &t.Address)
				}
				return append(out, &r.Recipient)
			})
		},
	}
}
