package actions

import (
	"strconv"
	"strings"

	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/internal/suggest"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/templates"
)

// rejectNames are the symbolic reasons reject accepts, with their status.
var rejectNames = map[string]int{
	"bad_request":             400,
	"unauthorized":            401,
	"payment_required":        402,
	"forbidden":               403,
	"not_found":               404,
	"method_not_allowed":      405,
	"not_acceptable":          406,
	"request_timeout":         408,
	"gone":                    410,
	"unsupported_media_type":  415,
	"use_identity_header":     428,
	"anonymity_disallowed":    433,
	"bad_identity_info":       436,
	"unsupported_credential":  437,
	"invalid_identity_header": 438,
	"unavailable":             480,
	"temporarily_unavailable": 480,
	"loop_detected":           482,
	"too_many_hops":           483,
	"address_incomplete":      484,
	"busy":                    486,
	"busy_here":               486,
	"request_terminated":      487,
	"not_acceptable_here":     488,
	"server_error":            500,
	"not_implemented":         501,
	"bad_gateway":             502,
	"service_unavailable":     503,
	"server_timeout":          504,
	"busy_everywhere":         600,
	"declined":                603,
	"does_not_exist":          604,
	"does_not_exist_anywhere": 604,
	"not_acceptable_anywhere": 606,
	"unwanted":                607,
	"rejected":                608,
}

// StatusText returns the RFC 3261 (and extension) reason phrase of a SIP
// status code, or a generic phrase for its class.
func StatusText(code int) string {
	if s, ok := statusText[code]; ok {
		return s
	}
	switch code / 100 {
	case 1:
		return "Trying"
	case 2:
		return "OK"
	case 3:
		return "Redirection"
	case 4:
		return "Client Error"
	case 5:
		return "Server Error"
	}
	return "Global Failure"
}

var statusText = map[int]string{
	100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK",
	301: "Moved Permanently", 302: "Moved Temporarily",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
	410: "Gone", 415: "Unsupported Media Type", 428: "Use Identity Header",
	433: "Anonymity Disallowed", 436: "Bad Identity Info", 437: "Unsupported Credential",
	438: "Invalid Identity Header", 480: "Temporarily Unavailable", 482: "Loop Detected",
	483: "Too Many Hops", 484: "Address Incomplete", 486: "Busy Here", 487: "Request Terminated",
	488: "Not Acceptable Here", 500: "Server Internal Error", 501: "Not Implemented",
	502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-out",
	600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
	606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}

// RejectNames returns the symbolic reject reasons, sorted, for docs.
func RejectNames() map[string]int {
	out := make(map[string]int, len(rejectNames))
	for k, v := range rejectNames {
		out[k] = v
	}
	return out
}

func rejectSpec() engine.Spec {
	return engine.Spec{
		Name:        "reject",
		Summary:     "Answer with a final 4xx-6xx response (a name such as forbidden, or a number) and end the pipeline.",
		Operands:    []string{"reason or code", "reason phrase?"},
		MinOperands: 1, MaxOperands: 2,
		Build: func(b *engine.Builder, ops []rules.Value) (engine.Action, error) {
			code, err := rejectCode(b, ops[0])
			if err != nil {
				return nil, err
			}
			a := &reject{code: code, phrase: StatusText(code)}
			if len(ops) == 2 {
				t, err := b.Template(ops[1])
				if err != nil {
					return nil, err
				}
				if t.IsLiteral() && !sipmsg.ValidValue(t.Source()) {
					return nil, b.Errorf(ops[1], "reason phrase contains a line break")
				}
				a.custom = t
			}
			return a, nil
		},
	}
}

func rejectCode(b *engine.Builder, v rules.Value) (int, error) {
	s := strings.TrimSpace(v.Text)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 400 || n > 699 {
			return 0, b.Errorf(v, "reject status %d is not a final error response: use 400-699", n)
		}
		return n, nil
	}
	key := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(s, "-", "_"), " ", "_"))
	if n, ok := rejectNames[key]; ok {
		return n, nil
	}
	names := make([]string, 0, len(rejectNames))
	for k := range rejectNames {
		names = append(names, k)
	}
	e := &rules.Error{Pos: v.Pos, Msg: "unknown reject reason " + strconv.Quote(s) + ": use a status code 400-699 or a name such as forbidden, busy, declined"}
	e.Hint = suggest.Hint(key, names)
	return 0, e
}

type reject struct {
	code   int
	phrase string
	custom *templates.Template
}

func (a *reject) Run(c *engine.Call) engine.Outcome {
	phrase := a.phrase
	if a.custom != nil {
		if p := a.custom.Render(c); p != "" && sipmsg.ValidValue(p) {
			phrase = p
		}
	}
	if c.Tracing {
		c.Notef("reject %d %s", a.code, phrase)
	}
	return engine.RejectCall(a.code, phrase)
}
