package actions

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/templates"
)

func redirectSpec() engine.Spec {
	return engine.Spec{
		Name:        "redirect",
		Summary:     "Answer 302 Moved Temporarily with Contact uri and end the pipeline.",
		Operands:    []string{"uri"},
		MinOperands: 1, MaxOperands: 1,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			t, err := uriOperand(b, ops[0])
			return &redirect{target: t}, err
		},
	}
}

// uriOperand compiles a URI operand; a literal URI is checked at load time,
// a templated one on each call.
func uriOperand(b *engine.Builder, v rules.Value) (*templates.Template, error) {
	t, err := b.Template(v)
	if err != nil {
		return nil, err
	}
	if t.IsLiteral() {
		if err := checkURI(t.Render(nil)); err != nil {
			return nil, b.Errorf(v, "%v", err)
		}
	}
	return t, nil
}

// checkURI accepts a SIP, SIPS or tel URI, with or without angle brackets.
func checkURI(s string) error {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	if s == "" {
		return fmt.Errorf("empty URI")
	}
	if strings.ContainsAny(s, "\r\n\x00<> ") {
		return fmt.Errorf("invalid URI %q: contains spaces, brackets or line breaks", s)
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return fmt.Errorf("invalid URI %q: %v", s, err)
	}
	switch u.Scheme {
	case "sip", "sips":
		if u.Host == "" {
			return fmt.Errorf("invalid URI %q: no host", s)
		}
	case "tel":
	default:
		return fmt.Errorf("invalid URI %q: use a sip:, sips: or tel: URI", s)
	}
	return nil
}

// renderURI renders a URI operand and checks it when it has variables.
func renderURI(c *engine.Call, t *templates.Template) (string, error) {
	s := strings.TrimSpace(t.Render(c))
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	if !t.IsLiteral() {
		if err := checkURI(s); err != nil {
			return "", err
		}
	}
	return s, nil
}

type redirect struct{ target *templates.Template }

func (a *redirect) Run(c *engine.Call) engine.Outcome {
	uri, err := renderURI(c, a.target)
	if err != nil {
		return engine.Fail("redirect: %v", err)
	}
	if c.Tracing {
		c.Notef("redirect to %s", uri)
	}
	return engine.RedirectCall(uri)
}
