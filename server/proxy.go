package server

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
)

// branchPrefix marks the Via branches xformd creates, so that a stray
// response (a 2xx retransmitted after its transaction ended) can be
// recognised as ours and relayed statelessly.
const branchPrefix = sip.RFC3261BranchMagicCookie + "xfd"

// prebuilt tells sipgo's client that the request is complete: no Via,
// Call-ID or CSeq is to be added.
func prebuilt(*sipgo.Client, *sip.Request) error { return nil }

// forward sends the rewritten INVITE work to its next hop (the route rule's
// target, else a Route header, else sip.next_hop, else the Request-URI),
// relays the responses to the caller, and returns the final status sent
// upstream (0 when none could be) and the next hop used.
func (st *stack) forward(orig, work *sip.Request, routeTarget string, srvTx sip.ServerTransaction) (int, string) {
	s := st.srv
	if status := st.prepareForward(orig, work); status != 0 {
		st.respond(orig, srvTx, status, "")
		return status, ""
	}
	hop, err := st.nextHop(work, routeTarget)
	if err != nil {
		s.metrics.proxyErrors.WithLabelValues("build").Inc()
		s.log.Warn("no next hop", "call_id", callID(orig), "error", err)
		st.respond(orig, srvTx, sip.StatusBadGateway, "")
		return sip.StatusBadGateway, ""
	}
	target := hop.String()
	st.addVia(work, hop.transport)
	st.addRecordRoute(work, orig)
	st.address(work, hop)

	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SIP.ProxyTimeout)
	defer cancel()
	tx, err := st.client.TransactionRequest(ctx, work, prebuilt)
	if err != nil {
		s.metrics.proxyErrors.WithLabelValues("transport").Inc()
		s.log.Warn("cannot forward INVITE", "call_id", callID(orig), "next_hop", target, "error", err)
		st.respond(orig, srvTx, sip.StatusServiceUnavailable, "")
		return sip.StatusServiceUnavailable, target
	}
	// 2xx retransmissions arrive after the transaction passed its 2xx up;
	// they go to the caller statelessly (RFC 6026).
	tx.OnRetransmission(func(r *sip.Response) {
		if r.IsSuccess() {
			st.relayStateless(orig, r)
		}
	})
	var cancelSent atomic.Bool
	srvTx.OnCancel(func(*sip.Request) {
		cancelSent.Store(true)
		go st.cancelDownstream(work)
	})
	// cancelled: the caller's CANCEL ended our server transaction (sipgo
	// answered 487) and a CANCEL went downstream; we still wait for the
	// downstream final response, so that a 200 that crossed the CANCEL
	// reaches the caller (who then ACKs and hangs up) and a 487 is not
	// relayed a second time.
	cancelled := false
	srvDone := srvTx.Done()
	for {
		select {
		case r := <-tx.Responses():
			if r.StatusCode == sip.StatusTrying {
				continue
			}
			if cancelled {
				if r.IsSuccess() {
					st.relayStateless(orig, r)
				}
				if r.StatusCode >= 200 {
					return sip.StatusRequestTerminated, target
				}
				continue
			}
			up := relayResponse(orig, r)
			if err := srvTx.Respond(up); err != nil {
				s.log.Debug("cannot relay response", "call_id", callID(orig), "status", r.StatusCode, "error", err)
			}
			if r.StatusCode >= 200 {
				return r.StatusCode, target
			}
		case <-tx.Done():
			if cancelled {
				return sip.StatusRequestTerminated, target
			}
			status := sip.StatusServiceUnavailable
			kind := "transport"
			if errors.Is(tx.Err(), sip.ErrTransactionTimeout) {
				status, kind = sip.StatusRequestTimeout, "timeout"
			}
			s.metrics.proxyErrors.WithLabelValues(kind).Inc()
			s.log.Warn("next hop failed", "call_id", callID(orig), "next_hop", target, "error", tx.Err())
			st.respond(orig, srvTx, status, "")
			return status, target
		case <-srvDone:
			srvDone = nil
			cancelled = true
			if !cancelSent.Load() {
				// The caller's side went away without a CANCEL (its TCP
				// connection closed): stop the callee ringing all the same.
				go st.cancelDownstream(work)
			}
			cancel()
			ctx, cancel = context.WithTimeout(s.ctx, cancelWait)
			defer cancel()
		case <-ctx.Done():
			tx.Terminate()
			if cancelled {
				return sip.StatusRequestTerminated, target
			}
			go st.cancelDownstream(work)
			s.metrics.proxyErrors.WithLabelValues("timeout").Inc()
			st.respond(orig, srvTx, sip.StatusRequestTimeout, "")
			return sip.StatusRequestTimeout, target
		}
	}
}

// cancelWait bounds the wait for the downstream final response after the
// caller cancelled.
const cancelWait = 5 * time.Second

// prepareForward applies the proxy's changes to every forwarded request:
// Max-Forwards decremented (483 at zero), our own Route removed. It returns
// a status to answer instead of forwarding, or 0.
func (st *stack) prepareForward(orig, work *sip.Request) int {
	mf := 70
	if h := orig.MaxForwards(); h != nil {
		mf = int(*h)
	}
	if mf <= 0 {
		return sip.StatusTooManyHops
	}
	// sipgo's Clone shares the Max-Forwards header with the original, so a
	// new one replaces it rather than decrementing it in place.
	n := sip.MaxForwardsHeader(mf - 1)
	if work.MaxForwards() != nil {
		work.ReplaceHeader(&n)
	} else {
		work.AppendHeader(&n)
	}
	if r := work.Route(); r != nil && st.isOwn(&r.Address) {
		work.RemoveHeader(r.Name())
	}
	return 0
}

// isOwn reports whether a URI (a Route) points at this stack.
func (st *stack) isOwn(u *sip.Uri) bool {
	if !strings.EqualFold(u.Host, st.host) {
		return false
	}
	port := u.Port
	for _, p := range st.ports {
		if port == p || (port == 0 && p == 5060) {
			return true
		}
	}
	return false
}

// hop is where a request goes next.
type hop struct {
	host      string
	port      int
	transport string // udp, tcp, tls
}

// String formats the hop as transport:host:port, for logs and CDRs.
func (h hop) String() string {
	return h.transport + ":" + net.JoinHostPort(h.host, strconv.Itoa(h.port))
}

// nextHop picks the destination of a forwarded request: the route rule's
// target, a Route header, sip.next_hop, or the Request-URI, in that order.
func (st *stack) nextHop(work *sip.Request, routeTarget string) (hop, error) {
	var u sip.Uri
	switch {
	case routeTarget != "":
		if err := sip.ParseUri(strings.Trim(strings.TrimSpace(routeTarget), "<>"), &u); err != nil {
			return hop{}, errors.New("route target " + strconv.Quote(routeTarget) + ": " + err.Error())
		}
	case work.Route() != nil:
		u = work.Route().Address
	case st.srv.nextHop != nil:
		u = *st.srv.nextHop
	default:
		u = work.Recipient
	}
	h, err := hopFromURI(&u)
	if err != nil {
		return h, err
	}
	// RFC 3261 section 18.1.1: a request larger than 1300 bytes (path MTU
	// unknown) goes over a congestion-controlled transport. Our Via and
	// Record-Route are not added yet: count them.
	if th := st.srv.cfg.SIP.UDPTCPThreshold; h.transport == "udp" && th > 0 && messageSize(work)+viaRRSize > th {
		h.transport = "tcp"
	}
	return h, nil
}

// viaRRSize is about what our Via and Record-Route add to a request.
const viaRRSize = 150

// messageSize is the wire size of a request.
func messageSize(r *sip.Request) int {
	var c countWriter
	r.StringWrite(&c)
	return int(c)
}

type countWriter int

// WriteString counts s.
func (c *countWriter) WriteString(s string) (int, error) {
	*c += countWriter(len(s))
	return len(s), nil
}

// addVia puts our Via on top, with a fresh branch.
func (st *stack) addVia(r *sip.Request, transport string) {
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       strings.ToUpper(transport),
		Host:            st.host,
		Port:            st.ports[transport],
		Params:          sip.NewParams(),
	}
	via.Params.Add("branch", branchPrefix+sip.GenerateTagN(16))
	via.Params.Add("rport", "")
	r.PrependHeader(via)
}

// addRecordRoute keeps us in the dialog, so that ACK, BYE and re-INVITEs
// come through and are routed.
func (st *stack) addRecordRoute(r, orig *sip.Request) {
	tp := strings.ToLower(orig.Transport())
	port := st.ports[tp]
	if port == 0 {
		for _, p := range st.ports {
			port = p
			break
		}
	}
	rr := &sip.RecordRouteHeader{Address: sip.Uri{
		Scheme:    "sip",
		Host:      st.host,
		Port:      port,
		UriParams: sip.HeaderParams{{K: "transport", V: tp}, {K: "lr", V: ""}},
	}}
	r.PrependHeader(rr)
}

// address sets where the request is sent and from which socket: UDP goes
// out of the UDP listener, so that the next hop sees one address.
func (st *stack) address(r *sip.Request, h hop) {
	r.SetTransport(strings.ToUpper(h.transport))
	r.SetDestination(net.JoinHostPort(h.host, strconv.Itoa(h.port)))
	r.Laddr = sip.Addr{}
	if h.transport == "udp" && st.udpAddr != nil {
		r.Laddr = sip.Addr{IP: st.udpAddr.IP, Port: st.udpAddr.Port}
	}
}

// relayResponse builds the response to send upstream from one received
// from downstream: the caller's own Via, From, To and CSeq (From and To as
// the caller sent them, the To tag from downstream), everything else
// (Record-Route, Contact, body, ...) from downstream.
func relayResponse(orig *sip.Request, down *sip.Response) *sip.Response {
	res := sip.NewResponseFromRequest(orig, down.StatusCode, down.Reason, nil)
	if to := res.To(); to != nil {
		to.Params.Remove("tag")
		if dt := down.To(); dt != nil {
			if tag, ok := dt.Params.Get("tag"); ok {
				to.Params.Add("tag", tag)
			}
		}
	}
	for res.RemoveHeader("Record-Route") {
	}
	for _, h := range down.Headers() {
		switch strings.ToLower(h.Name()) {
		case "via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "content-length", "l":
			continue
		}
		res.AppendHeader(sip.HeaderClone(h))
	}
	res.SetBody(down.Body())
	return res
}

// relayStateless sends a 2xx retransmission upstream outside any
// transaction.
func (st *stack) relayStateless(orig *sip.Request, down *sip.Response) {
	up := relayResponse(orig, down)
	if err := st.ua.TransportLayer().WriteMsg(up); err != nil {
		st.srv.log.Debug("cannot relay 2xx retransmission", "call_id", callID(orig), "error", err)
	}
}

// unhandledResponse gets responses that match no client transaction. A
// 2xx with our Via on top (a callee's retransmission after the transaction
// ended) is sent on to the next Via statelessly (RFC 6026); anything else
// belongs to a transaction we already finished and is dropped.
func (st *stack) unhandledResponse(r *sip.Response) {
	via := r.Via()
	if via == nil || !r.IsSuccess() {
		return
	}
	if b, _ := via.Params.Get("branch"); !strings.HasPrefix(b, branchPrefix) {
		return
	}
	up := r.Clone()
	up.RemoveHeader("Via")
	next := up.Via()
	if next == nil {
		return
	}
	up.SetDestination("")
	up.SetTransport(next.Transport)
	if err := st.ua.TransportLayer().WriteMsg(up); err != nil {
		st.srv.log.Debug("cannot relay stray response", "error", err)
	}
}

// cancelDownstream sends a CANCEL for a forwarded INVITE (RFC 3261 section
// 9.1: same Request-URI, top Via, Call-ID, From, To, CSeq number, Route).
func (st *stack) cancelDownstream(inv *sip.Request) {
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	if v := inv.Via(); v != nil {
		c.AppendHeader(v.Clone())
	}
	sip.CopyHeaders("Route", inv, c)
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	if h := inv.From(); h != nil {
		c.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.To(); h != nil {
		c.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.CallID(); h != nil {
		c.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.CSeq(); h != nil {
		c.AppendHeader(&sip.CSeqHeader{SeqNo: h.SeqNo, MethodName: sip.CANCEL})
	}
	c.SetBody(nil)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.Laddr = inv.Laddr
	ctx, cancel := context.WithTimeout(st.srv.ctx, 5*time.Second)
	defer cancel()
	tx, err := st.client.TransactionRequest(ctx, c, prebuilt)
	if err != nil {
		st.srv.log.Debug("cannot send CANCEL downstream", "call_id", callID(inv), "error", err)
		return
	}
	defer tx.Terminate()
	select {
	case <-tx.Responses():
	case <-tx.Done():
	case <-ctx.Done():
	}
}

// onInDialog routes a request inside a dialog (BYE, re-INVITE, UPDATE,
// in-dialog OPTIONS, ...). Redirect mode is in no dialog: 481.
func (st *stack) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if st.srv.mode != config.Proxy {
		st.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "")
		return
	}
	work := req.Clone()
	if status := st.prepareForward(req, work); status != 0 {
		st.respond(req, tx, status, "")
		return
	}
	h, err := st.inDialogHop(work)
	if err != nil {
		st.respond(req, tx, sip.StatusBadRequest, "")
		return
	}
	st.addVia(work, h.transport)
	st.address(work, h)
	ctx, cancel := context.WithTimeout(st.srv.ctx, st.srv.cfg.SIP.ProxyTimeout)
	defer cancel()
	ctxTx, err := st.client.TransactionRequest(ctx, work, prebuilt)
	if err != nil {
		st.srv.metrics.proxyErrors.WithLabelValues("transport").Inc()
		st.srv.log.Warn("cannot route in-dialog request", "method", string(req.Method), "call_id", callID(req), "error", err)
		st.respond(req, tx, sip.StatusServiceUnavailable, "")
		return
	}
	defer ctxTx.Terminate()
	for {
		select {
		case r := <-ctxTx.Responses():
			if r.StatusCode == sip.StatusTrying {
				continue
			}
			if err := tx.Respond(relayResponse(req, r)); err != nil {
				st.srv.log.Debug("cannot relay response", "call_id", callID(req), "error", err)
			}
			if r.StatusCode >= 200 {
				return
			}
		case <-ctxTx.Done():
			st.respond(req, tx, sip.StatusRequestTimeout, "")
			return
		case <-ctx.Done():
			st.respond(req, tx, sip.StatusRequestTimeout, "")
			return
		}
	}
}

// inDialogHop is the next hop of an in-dialog request: its (remaining)
// Route, else its Request-URI, which is the peer's Contact.
func (st *stack) inDialogHop(work *sip.Request) (hop, error) {
	u := &work.Recipient
	if r := work.Route(); r != nil {
		u = &r.Address
	}
	return hopFromURI(u)
}

// hopFromURI reads host, port and transport from a SIP URI.
func hopFromURI(u *sip.Uri) (hop, error) {
	if u.Host == "" {
		return hop{}, errors.New("next hop has no host")
	}
	h := hop{host: u.Host, port: u.Port, transport: "udp"}
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		h.transport = strings.ToLower(t)
	}
	if u.IsEncrypted() {
		h.transport = "tls"
	}
	switch h.transport {
	case "udp", "tcp", "tls":
	default:
		return hop{}, errors.New("next hop transport " + h.transport + " is not supported")
	}
	if h.port == 0 {
		h.port = 5060
		if h.transport == "tls" {
			h.port = 5061
		}
	}
	return h, nil
}

// onAck forwards ACKs for 2xx (end to end, outside any transaction) in
// proxy mode. ACKs for our own non-2xx answers never get here: the INVITE
// transaction absorbs them.
func (st *stack) onAck(req *sip.Request, tx sip.ServerTransaction) {
	st.srv.metrics.request(sip.ACK)
	if st.srv.mode != config.Proxy {
		return
	}
	work := req.Clone()
	if st.prepareForward(req, work) != 0 {
		return
	}
	h, err := st.inDialogHop(work)
	if err != nil {
		return
	}
	st.addVia(work, h.transport)
	st.address(work, h)
	if err := st.client.WriteRequest(work, prebuilt); err != nil {
		st.srv.log.Debug("cannot forward ACK", "call_id", callID(req), "error", err)
	}
}

// onOther handles every method without its own handler: in-dialog
// requests are routed (proxy mode), an unmatched CANCEL gets 481, and
// anything else 405.
func (st *stack) onOther(req *sip.Request, tx sip.ServerTransaction) {
	st.srv.metrics.request(req.Method)
	switch {
	case req.IsCancel():
		st.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "")
	case inDialog(req):
		st.onInDialog(req, tx)
	default:
		res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
		if err := tx.Respond(res); err != nil {
			st.srv.log.Debug("cannot answer", "method", string(req.Method), "error", err)
		}
	}
}

// respond sends a final response with the standard reason phrase.
func (st *stack) respond(req *sip.Request, tx sip.ServerTransaction, status int, reason string) {
	if reason == "" {
		reason = reasonPhrase(status)
	}
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	if status == sip.StatusServiceUnavailable {
		res.AppendHeader(st.srv.retryHdr)
	}
	if err := tx.Respond(res); err != nil {
		st.srv.log.Debug("cannot respond", "status", status, "call_id", callID(req), "error", err)
	}
}

func reasonPhrase(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 483:
		return "Too Many Hops"
	case 487:
		return "Request Terminated"
	case 500:
		return "Server Internal Error"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}

func callID(r *sip.Request) string {
	if id := r.CallID(); id != nil {
		return string(*id)
	}
	return ""
}
