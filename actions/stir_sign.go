package actions

import (
	"context"

	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/stir"
	"github.com/xformd/xformd/templates"
)

var contextBackground = context.Background()

func stirSignSpec(opts Options) engine.Spec {
	return engine.Spec{
		Name: "stir_sign",
		Summary: "Sign the call as a SHAKEN originating provider: add Identity with attestation attest (A, B or C; a template) " +
			"and origid (a template; default a random UUID).",
		Operands:    []string{"attest", "origid"},
		MinOperands: 1, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			attest, err := b.Template(ops[0])
			if err != nil {
				return nil, err
			}
			if attest.IsLiteral() {
				if a := attest.Render(nil); a != "A" && a != "B" && a != "C" {
					return nil, b.Errorf(ops[0], "attest %q: want A, B or C (or a template that gives one)", a)
				}
			}
			a := &stirSign{signer: opts.Signer, attest: attest}
			if len(ops) > 1 {
				if a.origID, err = b.Template(ops[1]); err != nil {
					return nil, err
				}
			}
			return a, nil
		},
	}
}

type stirSign struct {
	signer *stir.Signer
	attest *templates.Template
	origID *templates.Template
}

func (a *stirSign) Run(c *engine.Call) engine.Outcome {
	if a.signer == nil {
		return engine.Fail("stir_sign: no signing key configured (give xformd a SHAKEN private key and certificate URL)")
	}
	claims := stir.Claims{
		Attest: a.attest.Render(c),
		Orig:   callerTN(c.Request),
		Dest:   []string{calledTN(c.Request)},
		IAT:    c.Now,
	}
	if a.origID != nil {
		claims.OrigID = a.origID.Render(c)
	}
	id, err := a.signer.Sign(claims)
	if err != nil {
		return engine.Fail("stir_sign: %w", err)
	}
	if err := sipmsg.Add(c.Request, "Identity", id); err != nil {
		return engine.Fail("stir_sign: %w", err)
	}
	if c.Tracing {
		c.Notef("signed attest %s orig %s dest %s", claims.Attest, claims.Orig, claims.Dest[0])
	}
	return engine.Done()
}
