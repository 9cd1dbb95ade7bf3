package actions

import (
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

func rewriteToHeaderParamSpec() engine.Spec {
	return engine.Spec{
		Name:        "rewrite_to_header_param",
		Summary:     "Rewrite the To display name (param cnam or display) or a To header parameter with pattern and replacement.",
		Operands:    []string{"param", "pattern", "replacement"},
		MinOperands: 3, MaxOperands: 3,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			return buildParamRewrite(b, ops, "To", func(r *sip.Request) (*string, *sip.HeaderParams) {
				if t := r.To(); t != nil {
					return &t.DisplayName, &t.Params
				}
				return nil, nil
			})
		},
	}
}
