package actions

import (
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
)

func rewriteFromHeaderParamSpec() engine.Spec {
	return engine.Spec{
		Name:        "rewrite_from_header_param",
		Summary:     "Rewrite the From display name (param cnam or display) or a From header parameter with pattern and replacement.",
		Operands:    []string{"param", "pattern", "replacement"},
		MinOperands: 3, MaxOperands: 3,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			return buildParamRewrite(b, ops, "From", func(r *sip.Request) (*string, *sip.HeaderParams) {
				if f := r.From(); f != nil {
					return &f.DisplayName, &f.Params
				}
				return nil, nil
			})
		},
	}
}

// paramRewrite rewrites the display name or a header parameter of the From
// or To header.
type paramRewrite struct {
	header  string
	param   string
	display bool
	pat     *engine.Pattern
	repl    *engine.Replacement
	fields  func(*sip.Request) (*string, *sip.HeaderParams)
}

func buildParamRewrite(b *engine.Builder, ops []rules.Value, header string, fields func(*sip.Request) (*string, *sip.HeaderParams)) (engine.Action, error) {
	param := strings.TrimSpace(ops[0].Text)
	a := &paramRewrite{header: header, param: param, fields: fields}
	switch strings.ToLower(param) {
	case "cnam", "display", "display_name", "display-name":
		a.display = true
	case "tag":
		return nil, b.Errorf(ops[0], "the %s tag identifies the dialog and cannot be rewritten", header)
	default:
		if !sipmsg.IsToken(param) {
			return nil, b.Errorf(ops[0], "invalid parameter name %q: use cnam (display name) or a header parameter name", param)
		}
	}
	pat, err := b.Pattern(ops[1])
	if err != nil {
		return nil, err
	}
	repl, err := b.Replacement(ops[2], pat)
	if err != nil {
		return nil, err
	}
	a.pat, a.repl = pat, repl
	return a, nil
}

func (a *paramRewrite) Run(c *engine.Call) engine.Outcome {
	display, params := a.fields(c.Request)
	if display == nil {
		return engine.Fail("request has no %s header", a.header)
	}
	if a.display {
		old := sipmsg.UnquoteDisplay(*display)
		nv, ok := a.pat.ReplaceFirst(c, old, a.repl)
		if !ok {
			return engine.NoMatch()
		}
		*display = sipmsg.QuoteDisplay(nv)
		if c.Tracing {
			c.Notef("%s display name %q -> %q", a.header, old, nv)
		}
		return engine.Done()
	}
	raw, _ := params.Get(a.param)
	old := sipmsg.UnquoteParam(raw)
	nv, ok := a.pat.ReplaceFirst(c, old, a.repl)
	if !ok {
		return engine.NoMatch()
	}
	if !sipmsg.ValidValue(nv) {
		return engine.Fail("%s;%s: new value contains a line break", a.header, a.param)
	}
	if *params == nil {
		*params = sip.NewParams()
	}
	params.Add(a.param, sipmsg.ParamValue(nv))
	if c.Tracing {
		c.Notef("%s;%s %q -> %q", a.header, a.param, old, nv)
	}
	return engine.Done()
}
