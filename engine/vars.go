package engine

import (
	"net/netip"
	"sort"
	"strconv"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/templates"
)

// VarRef identifies a variable within one pipeline.
type VarRef = templates.Ref

type symKind uint8

const (
	symSlot symKind = iota
	symBuiltin
	symHeader
)

type symbol struct {
	name    string
	kind    symKind
	slot    int
	builtin func(*Call) string
	hdr     sipmsg.Name
}

type builtinVar struct {
	get func(*Call) string
	doc string
}

// builtins are the variables read from the INVITE. They are computed from
// the request as it is when read, so a rule after rewrite_from sees the new
// from_user.
var builtins = map[string]builtinVar{
	"from_user":    {func(c *Call) string { return sipmsg.URIUser(fromAddr(c)) }, "user part of the From URI"},
	"from_display": {fromDisplay, "From display name (CNAM), unquoted"},
	"from_cnam":    {fromDisplay, "alias of from_display"},
	"from_uri":     {func(c *Call) string { return uriString(fromAddr(c)) }, "the From URI"},
	"from_host":    {func(c *Call) string { return fromAddr(c).Host }, "host part of the From URI"},
	"to_user":      {func(c *Call) string { return sipmsg.URIUser(toAddr(c)) }, "user part of the To URI"},
	"to_uri":       {func(c *Call) string { return uriString(toAddr(c)) }, "the To URI"},
	"ruri":         {func(c *Call) string { return uriString(ruri(c)) }, "the Request-URI"},
	"ruri_user":    {func(c *Call) string { return sipmsg.URIUser(ruri(c)) }, "user part of the Request-URI"},
	"pai_user": {func(c *Call) string {
		return sipmsg.AddressUser(headerValue(c.Request, paiName))
	}, "user of the first P-Asserted-Identity (the number for tel: URIs)"},
	"call_id": {func(c *Call) string {
		if c.Request == nil {
			return ""
		}
		if id := c.Request.CallID(); id != nil {
			return id.Value()
		}
		return ""
	}, "the Call-ID"},
	"src_ip": {func(c *Call) string {
		src := source(c)
		if !src.IsValid() {
			return ""
		}
		return src.Addr().String()
	}, "source IP address of the request"},
	"src_port": {func(c *Call) string {
		src := source(c)
		if !src.IsValid() {
			return ""
		}
		return strconv.Itoa(int(src.Port()))
	}, "source port of the request"},
	"transport": {func(c *Call) string { return c.Transport }, "udp, tcp, tls, ..."},
	"direction": {func(c *Call) string { return c.Direction.String() }, "inbound or outbound"},
}

// source returns the call's source address, falling back to what sipgo
// knows of the request (its transport source, else the top Via).
func source(c *Call) netip.AddrPort {
	if c.Source.IsValid() || c.Request == nil {
		return c.Source
	}
	if ap, err := netip.ParseAddrPort(c.Request.Source()); err == nil {
		return ap
	}
	return netip.AddrPort{}
}

var paiName = sipmsg.MakeName("P-Asserted-Identity")

var emptyURI sip.Uri

func fromAddr(c *Call) *sip.Uri {
	if c.Request != nil {
		if f := c.Request.From(); f != nil {
			return &f.Address
		}
	}
	return &emptyURI
}

func toAddr(c *Call) *sip.Uri {
	if c.Request != nil {
		if t := c.Request.To(); t != nil {
			return &t.Address
		}
	}
	return &emptyURI
}

func ruri(c *Call) *sip.Uri {
	if c.Request != nil {
		return &c.Request.Recipient
	}
	return &emptyURI
}

func uriString(u *sip.Uri) string {
	if u == &emptyURI {
		return ""
	}
	return u.String()
}

func fromDisplay(c *Call) string {
	if c.Request != nil {
		if f := c.Request.From(); f != nil {
			return sipmsg.UnquoteDisplay(f.DisplayName)
		}
	}
	return ""
}

func makeHeaderName(name string) sipmsg.Name { return sipmsg.MakeName(name) }

func headerValue(req *sip.Request, n sipmsg.Name) string {
	if req == nil {
		return ""
	}
	return sipmsg.Value(req, n)
}

// BuiltinVariables returns the names of the variables read from the INVITE,
// sorted, with a one-line description of each.
func BuiltinVariables() [][2]string {
	out := make([][2]string, 0, len(builtins))
	for n, b := range builtins {
		out = append(out, [2]string{n, b.doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// IsBuiltin reports whether name is a variable read from the INVITE
// (including header.Name).
func IsBuiltin(name string) bool {
	if _, ok := builtins[name]; ok {
		return true
	}
	return len(name) > 7 && name[:7] == "header."
}
