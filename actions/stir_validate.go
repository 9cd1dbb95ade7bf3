package actions

import (
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/stir"
)

// stirVars are the variables stir_validate sets, in Result field order.
var stirVars = []string{"stir_verstat", "stir_attest", "stir_origid", "stir_status", "stir_error_code", "stir_error", "stir_spc", "stir_x5u"}

var (
	identityName = sipmsg.MakeName("Identity")
	paiName      = sipmsg.MakeName("P-Asserted-Identity")
	dateName     = sipmsg.MakeName("Date")
)

func stirValidateSpec(opts Options) engine.Spec {
	return engine.Spec{
		Name: "stir_validate",
		Summary: "Verify the STIR/SHAKEN Identity headers of the INVITE and set stir_verstat, stir_attest, stir_origid, " +
			"stir_status, stir_error_code, stir_error, stir_spc and stir_x5u.",
		Operands:    []string{},
		MinOperands: 0, MaxOperands: 0,
		Provides: stirVars,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			v := opts.Verifier
			if v == nil {
				// No verification service configured (xformd check, or a
				// daemon without trust anchors): a verifier with no
				// anchors and no fetching, so that unsigned calls read
				// No-TN-Validation and signed ones fail with 437.
				var err error
				if v, err = stir.NewVerifier(stir.Config{}); err != nil {
					return nil, b.Errorf(rules.Value{Pos: b.ActionPos()}, "stir_validate: %v", err)
				}
			}
			a := &stirValidate{v: v}
			for i, name := range stirVars {
				a.refs[i] = b.Var(name)
			}
			return a, nil
		},
	}
}

type stirValidate struct {
	v    *stir.Verifier
	refs [8]engine.VarRef
}

func (a *stirValidate) Run(c *engine.Call) engine.Outcome {
	in := STIRInput(c.Request, c.Now)
	ctx := c.Context
	if ctx == nil {
		ctx = contextBackground
	}
	r := a.v.Verify(ctx, in)
	for i, val := range [8]string{r.Verstat, r.Attest, r.OrigID, r.Status, r.ErrorCode, r.Error, r.SPC, r.X5U} {
		c.Set(a.refs[i], val)
	}
	if c.Tracing {
		if r.Error != "" {
			c.Notef("%s (%s)", r.Status, r.Error)
		} else {
			c.Notef("%s spc=%s x5u=%s", r.Status, r.SPC, r.X5U)
		}
	}
	return engine.Done()
}

// STIRInput collects what verification needs from an INVITE: its
// Identity headers (also the compact form y), the caller (P-Asserted-
// Identity user, else From user), the called numbers (To user and
// Request-URI user) and the Date header. stir_validate uses it; so can
// tools that verify outside a pipeline.
func STIRInput(req *sip.Request, now time.Time) stir.Input {
	in := stir.Input{Now: now, Orig: callerTN(req), Date: sipmsg.Value(req, dateName)}
	for _, h := range req.Headers() {
		if identityName.Matches(h.Name()) {
			in.Identities = append(in.Identities, h.Value())
		}
	}
	in.Dest = make([]string, 0, 2)
	if to := req.To(); to != nil {
		in.Dest = append(in.Dest, sipmsg.URIUser(&to.Address))
	}
	in.Dest = append(in.Dest, sipmsg.URIUser(&req.Recipient))
	return in
}

// callerTN is the calling party for STIR: the P-Asserted-Identity user
// when that header is present, else the From user.
func callerTN(req *sip.Request) string {
	if pai := sipmsg.Value(req, paiName); pai != "" {
		if u := sipmsg.AddressUser(pai); u != "" {
			return u
		}
	}
	if from := req.From(); from != nil {
		return sipmsg.URIUser(&from.Address)
	}
	return ""
}

// calledTN is the called party for signing: the To user, else the
// Request-URI user.
func calledTN(req *sip.Request) string {
	if to := req.To(); to != nil {
		if u := sipmsg.URIUser(&to.Address); u != "" {
			return u
		}
	}
	return sipmsg.URIUser(&req.Recipient)
}
