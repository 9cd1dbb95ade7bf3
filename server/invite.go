package server

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/sipmsg"
)

// Headers a 302 carries to tell the upstream SBC about From and To changes
// (a response's own From and To must stay those of the request).
const (
	hdrNewFrom = "X-Xformd-From"
	hdrNewTo   = "X-Xformd-To"
)

// Dispositions recorded in CDRs and metrics beyond the engine's three.
const (
	dispOverload = "overload"
	dispError    = "error"
)

// onInvite runs one INVITE through the rules and answers or forwards it.
func (st *stack) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	s := st.srv
	s.metrics.request(sip.INVITE)
	if inDialog(req) {
		st.onInDialog(req, tx)
		return
	}
	if final := st.handleInvite(req, tx); final >= 300 && !sip.IsReliable(req.Transport()) {
		// Over UDP sipgo keeps an answered transaction for T4 (5 s) after
		// the ACK, to absorb ACK retransmissions, with a goroutine parked
		// per ACK: at thousands of calls a second that is tens of
		// thousands of transactions and hundreds of MB. Taking the ACK
		// here and ending the transaction frees it at once; a
		// retransmitted ACK then matches nothing and is dropped by onAck.
		select {
		case <-tx.Acks():
			tx.Terminate()
		case <-tx.Done():
		}
	}
}

// handleInvite does the work of onInvite and returns the final status
// sent (0 when none was).
func (st *stack) handleInvite(req *sip.Request, tx sip.ServerTransaction) int {
	s := st.srv
	start := time.Now()
	rec := cdr{Time: start}
	fillCDRFromRequest(&rec, req)
	if s.draining.Load() {
		st.overloaded(req, tx, &rec, start)
		return sip.StatusServiceUnavailable
	}
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if n > int64(s.cfg.Limits.MaxCalls) {
		st.overloaded(req, tx, &rec, start)
		return sip.StatusServiceUnavailable
	}

	rs := s.rules.Load()
	rec.RulesVersion = rs.version
	// The pipeline works on a copy: the original stays as received, for
	// the transaction layer (which holds it), for building responses with
	// the caller's own From and To, and for finding what the rules changed.
	work := req.Clone()
	call := engine.NewCall(work)
	call.Now = start
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		call.Source = ap
	}
	call.Direction = st.directionOf(call.Source)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Limits.CallTimeout)
	defer cancel()
	call.Context = ctx
	call.Logger = s.log
	call.Tracing = s.tracing
	res := rs.pipeline(call.Direction).Run(call)
	s.metrics.latency.Observe(time.Since(start).Seconds())

	rec.Direction = call.Direction.String()
	rec.Verstat, _ = call.Var("stir_verstat")
	rec.Attest, _ = call.Var("stir_attest")
	rec.OrigID, _ = call.Var("stir_origid")
	rec.STIRErrorCode, _ = call.Var("stir_error_code")
	if rec.Verstat != "" {
		s.metrics.stir(rec.Verstat, rec.Attest)
	}
	if res.Err != nil {
		s.log.Error("rule failed", "call_id", rec.CallID, "error", res.Err)
	}

	d := res.Disposition
	rec.Disposition = d.Kind.String()
	var resp *sip.Response
	switch d.Kind {
	case engine.Reject:
		resp = sip.NewResponseFromRequest(req, d.Status, d.Reason, nil)
		if rec.STIRErrorCode != "" {
			text, _ := call.Var("stir_error")
			resp.AppendHeader(sip.NewHeader("Reason", reasonValue(rec.STIRErrorCode, text)))
		}
	case engine.Redirect:
		resp = st.redirectResponse(req, work, d.Target, &rec)
	default:
		if s.mode == config.Proxy {
			rec.Status, rec.Target = st.forward(req, work, call.Route(), tx)
			if rec.Status == 0 {
				rec.Disposition = dispError
			}
			st.finish(&rec, call, &res, start)
			// The proxied transaction ends with the callee's answer.
			return 0
		}
		resp = st.redirectResponse(req, work, d.Target, &rec)
	}
	rec.Status = resp.StatusCode
	if err := tx.Respond(resp); err != nil {
		s.log.Warn("cannot send response", "call_id", rec.CallID, "status", resp.StatusCode, "error", err)
		rec.Status = 0
	}
	st.finish(&rec, call, &res, start)
	return rec.Status
}

// finish records one INVITE: metrics, the CDR line and the call log line
// (with the rule trace at debug level).
func (st *stack) finish(rec *cdr, call *engine.Call, res *engine.Result, start time.Time) {
	s := st.srv
	rec.Duration = time.Since(start)
	s.metrics.call(rec.Disposition, rec.Status)
	s.writeCDR(rec)
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "call",
			slog.String("call_id", rec.CallID),
			slog.String("direction", rec.Direction),
			slog.String("disposition", rec.Disposition),
			slog.Int("status", rec.Status),
			slog.String("target", rec.target()),
			slog.String("stir_verstat", rec.Verstat),
			slog.String("stir_attest", rec.Attest),
			slog.Uint64("rules_version", rec.RulesVersion),
			slog.Duration("took", rec.Duration))
	}
	if s.tracing && res != nil {
		for _, step := range res.Steps {
			s.log.LogAttrs(context.Background(), slog.LevelDebug, "rule",
				slog.String("call_id", rec.CallID),
				slog.Int("rule", step.Rule+1),
				slog.String("pos", step.Pos.String()),
				slog.String("action", step.Action),
				slog.String("status", step.Status.String()),
				slog.String("detail", step.Detail))
		}
	}
}

func (s *Server) writeCDR(rec *cdr) {
	if !s.cdr.enabled() {
		return
	}
	bp := cdrBufs.Get().(*[]byte)
	line := rec.appendJSON((*bp)[:0])
	if err := s.cdr.write(line); err != nil {
		s.metrics.cdrErrors.Inc()
		s.log.Warn("cdr write failed", "error", err)
	}
	*bp = line
	cdrBufs.Put(bp)
}

// overloaded answers 503 with Retry-After instead of queueing the call.
func (st *stack) overloaded(req *sip.Request, tx sip.ServerTransaction, rec *cdr, start time.Time) {
	s := st.srv
	s.metrics.overload.Inc()
	resp := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
	resp.AppendHeader(s.retryHdr)
	if err := tx.Respond(resp); err != nil {
		s.log.Warn("cannot send 503", "call_id", rec.CallID, "error", err)
	}
	rec.Disposition, rec.Status = dispOverload, sip.StatusServiceUnavailable
	if v := s.rules.Load(); v != nil {
		rec.RulesVersion = v.version
	}
	rec.Duration = time.Since(start)
	s.metrics.call(rec.Disposition, rec.Status)
	s.writeCDR(rec)
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "call",
		slog.String("call_id", rec.CallID), slog.String("disposition", dispOverload), slog.Int("status", 503),
		slog.Int64("in_progress", s.inFlight.Load()), slog.Bool("draining", s.draining.Load()))
}

func fillCDRFromRequest(rec *cdr, req *sip.Request) {
	if id := req.CallID(); id != nil {
		rec.CallID = string(*id)
	}
	rec.Source = req.Source()
	rec.Transport = sipmsg.LowerTransport(req.Transport())
	if f := req.From(); f != nil {
		rec.From = uriUserOrHost(&f.Address)
	}
	if t := req.To(); t != nil {
		rec.To = uriUserOrHost(&t.Address)
	}
}

func uriUserOrHost(u *sip.Uri) string {
	if u.User != "" {
		return u.User
	}
	return u.Host
}

// reasonValue builds an RFC 3326 Reason header value for a STIR failure:
// SIP ;cause=438;text="...".
func reasonValue(cause, text string) string {
	var b strings.Builder
	b.Grow(len(text) + 32)
	b.WriteString("SIP ;cause=")
	b.WriteString(cause)
	b.WriteString(`;text="`)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r', '\n':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// redirectResponse builds the 302 of redirect mode: Contact is target (the
// rewritten Request-URI when target is ""), and the headers the rules set or added ride along for the upstream SBC
// to copy into the call it places. A From whose display name or URI the
// rules changed is given whole in X-Xformd-From, and its display name
// also as the Contact's display name (the usual way redirect CNAM
// services return a caller name); a changed To likewise in X-Xformd-To.
func (st *stack) redirectResponse(orig, work *sip.Request, target string, rec *cdr) *sip.Response {
	resp := sip.NewResponseFromRequest(orig, sip.StatusMovedTemporarily, "Moved Temporarily", nil)
	contact := &sip.ContactHeader{}
	if target == "" {
		// work is ours alone: its Request-URI can be shared, not copied.
		contact.Address = work.Recipient
	} else if err := sip.ParseUri(strings.Trim(strings.TrimSpace(target), "<>"), &contact.Address); err != nil {
		st.srv.log.Warn("redirect target is not a SIP URI; using the Request-URI", "call_id", rec.CallID, "target", target, "error", err)
		contact.Address = work.Recipient
	}
	rec.targetURI = &contact.Address
	of, nf := orig.From(), work.From()
	if of != nil && nf != nil && (of.DisplayName != nf.DisplayName || !sameURI(&of.Address, &nf.Address)) {
		contact.DisplayName = nf.DisplayName
		resp.AppendHeader(sip.NewHeader(hdrNewFrom, nameAddr(nf.DisplayName, &nf.Address)))
	}
	if ot, nt := orig.To(), work.To(); ot != nil && nt != nil && (ot.DisplayName != nt.DisplayName || !sameURI(&ot.Address, &nt.Address)) {
		resp.AppendHeader(sip.NewHeader(hdrNewTo, nameAddr(nt.DisplayName, &nt.Address)))
	}
	resp.AppendHeader(contact)
	appendChangedHeaders(resp, orig, work)
	return resp
}

// sameURI compares two URIs field by field, without formatting them.
func sameURI(a, b *sip.Uri) bool {
	return a.Scheme == b.Scheme && a.User == b.User && a.Password == b.Password && a.Host == b.Host &&
		a.Port == b.Port && a.Wildcard == b.Wildcard && a.Raw() == b.Raw() &&
		sameParams(a.UriParams, b.UriParams) && sameParams(a.Headers, b.Headers)
}

func sameParams(a, b sip.HeaderParams) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func nameAddr(display string, u *sip.Uri) string {
	var b strings.Builder
	b.Grow(len(display) + len(u.User) + len(u.Host) + 24)
	if display != "" {
		b.WriteByte('"')
		b.WriteString(display)
		b.WriteString(`" `)
	}
	b.WriteByte('<')
	u.StringWrite(&b)
	b.WriteByte('>')
	return b.String()
}

// structural headers belong to the transaction or the hop, never to what
// the rules add for the SBC. sipmsg.Known recognises them in any case and
// compact form without allocating (this runs on every header of every
// call).
func structural(name string) bool {
	canon, ok := sipmsg.Known(name)
	if !ok {
		return false
	}
	switch canon {
	case "via", "from", "to", "call-id", "cseq", "content-length",
		"max-forwards", "contact", "route", "record-route", "content-type":
		return true
	}
	return false
}

// appendChangedHeaders appends to resp every header of work that orig does
// not have with the same name and value: the headers the rules set or
// added. Headers the rules removed cannot be expressed in a 302.
func appendChangedHeaders(resp *sip.Response, orig, work *sip.Request) {
	oh := orig.Headers()
	for _, h := range work.Headers() {
		name := h.Name()
		if structural(name) {
			continue
		}
		val := h.Value()
		found := false
		for _, o := range oh {
			if len(o.Name()) == len(name) && strings.EqualFold(o.Name(), name) && o.Value() == val {
				found = true
				break
			}
		}
		if !found {
			resp.AppendHeader(sip.NewHeader(name, val))
		}
	}
}

// onOptions answers OPTIONS outside a dialog with 200 (SBC keepalives and
// health checks), in both modes; in-dialog OPTIONS are routed in proxy
// mode.
func (st *stack) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	st.srv.metrics.request(sip.OPTIONS)
	if inDialog(req) {
		st.onInDialog(req, tx)
		return
	}
	resp := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	resp.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	resp.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	if st.srv.draining.Load() {
		resp = sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
		resp.AppendHeader(st.srv.retryHdr)
	}
	if err := tx.Respond(resp); err != nil {
		st.srv.log.Debug("cannot answer OPTIONS", "error", err)
	}
}

// inDialog reports whether a request belongs to a dialog (its To has a
// tag).
func inDialog(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}

// requestCounter names are fixed, so the counters are resolved once.
func (m *metrics) request(method sip.RequestMethod) {
	name := string(method)
	switch method {
	case sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.OPTIONS, sip.UPDATE, sip.INFO, sip.PRACK, sip.REFER, sip.MESSAGE, sip.NOTIFY, sip.SUBSCRIBE, sip.REGISTER:
	default:
		name = "other"
	}
	if c, ok := m.requestCounters.Load(name); ok {
		c.(interface{ Inc() }).Inc()
		return
	}
	c := m.requests.WithLabelValues(name)
	m.requestCounters.Store(name, c)
	c.Inc()
}
