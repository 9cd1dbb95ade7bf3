package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/templates"
)

// Call is one SIP call event going through a pipeline: the INVITE, where it
// came from, and the state the rules build up. A Call is used by one
// goroutine; the Pipeline it runs on is shared.
type Call struct {
	// Request is the INVITE. Actions change it in place.
	Request *sip.Request
	// Direction selects which rules run.
	Direction rules.Direction
	// Source is the address the request came from (src_ip, src_port).
	// When it is not set, src_ip and src_port fall back to the address
	// sipgo recorded for the request (or its top Via).
	Source netip.AddrPort
	// Transport is "udp", "tcp", "tls", ... (the transport variable).
	Transport string
	// Now is the call's clock: actions use it instead of time.Now so that
	// dry runs and tests are deterministic.
	Now time.Time
	// Context bounds waits inside actions (certificate fetches).
	Context context.Context
	// Logger receives the log action's messages; nil discards them.
	Logger *slog.Logger
	// Tracing asks actions to describe what they change in the trace. It
	// costs allocations, so the daemon turns it on only at debug level.
	Tracing bool

	p       *Pipeline
	vals    []slotValue
	valBuf  [16]slotValue
	stepBuf [16]Step
	route   string
	notes   []string
	flags   StepFlags
}

type slotValue struct {
	s   string
	set bool
}

// NewCall makes a Call for req with sensible defaults: inbound, now, a
// background context. Source and transport are taken from the request's
// network metadata when sipgo filled it in.
func NewCall(req *sip.Request) *Call {
	c := &Call{Request: req, Direction: rules.Inbound, Now: time.Now(), Context: context.Background()}
	if req != nil {
		c.Transport = sipmsg.LowerTransport(req.Transport())
	}
	return c
}

// Lookup returns a variable's value; it makes Call a templates.Env.
func (c *Call) Lookup(ref templates.Ref) string {
	sym := &c.p.syms[ref]
	switch sym.kind {
	case symSlot:
		return c.vals[sym.slot].s
	case symHeader:
		return headerValue(c.Request, sym.hdr)
	default:
		return sym.builtin(c)
	}
}

// Set assigns a variable declared with Builder.Declare or provided by a
// spec.
func (c *Call) Set(ref VarRef, value string) {
	sym := &c.p.syms[ref]
	if sym.kind == symSlot {
		c.vals[sym.slot] = slotValue{s: value, set: true}
	}
}

// SetNamed assigns a variable by name; it reports false when the pipeline
// has no such settable variable. Actions use VarRefs; this is for the
// variables an action provides, looked up once at build time.
func (c *Call) SetNamed(name string, value string) bool {
	if c.p == nil {
		return false
	}
	ref, ok := c.p.index[name]
	if !ok || c.p.syms[ref].kind != symSlot {
		return false
	}
	c.Set(ref, value)
	return true
}

// Var returns a variable's current value by name: a built-in read from the
// request, header.Name, or a variable set by a rule.
func (c *Call) Var(name string) (string, bool) {
	if c.p == nil {
		return "", false
	}
	if ref, ok := c.p.index[name]; ok {
		return c.Lookup(ref), true
	}
	if h, ok := strings.CutPrefix(name, "header."); ok {
		return headerValue(c.Request, makeHeaderName(h)), true
	}
	if b, ok := builtins[name]; ok {
		return b.get(c), true
	}
	return "", false
}

// SetVars returns the variables that rules set during the run, by name.
func (c *Call) SetVars() map[string]string {
	out := map[string]string{}
	if c.p == nil {
		return out
	}
	for i, name := range c.p.slotNames {
		if c.vals[i].set {
			out[name] = c.vals[i].s
		}
	}
	return out
}

// Route returns where the call is to be sent next, as set by the route
// action; "" when no rule chose.
func (c *Call) Route() string { return c.route }

// SetRoute sets where the call is to be sent next.
func (c *Call) SetRoute(uri string) { c.route = uri }

// Notef adds a description of a change to the current step's trace. It does
// nothing unless Tracing is on; callers on hot paths should check Tracing
// first to avoid formatting costs.
func (c *Call) Notef(format string, args ...any) {
	if !c.Tracing {
		return
	}
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// Flag marks the current step, e.g. with RegexTimeout. Flags are recorded
// whether or not tracing is on.
func (c *Call) Flag(f StepFlags) { c.flags |= f }

// Pipeline returns the pipeline the call is running on (nil before Run).
func (c *Call) Pipeline() *Pipeline { return c.p }
