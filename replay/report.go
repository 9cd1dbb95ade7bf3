package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/engine"
)

// Disposition is the JSON form of a call's disposition.
type Disposition struct {
	// Kind is forward, reject or redirect.
	Kind string `json:"kind"`
	// Status is the SIP status of a reject or redirect, 0 for forward.
	Status int `json:"status"`
	// Reason is the reason phrase of a reject or redirect.
	Reason string `json:"reason"`
	// Target is the redirect Contact, or where a forwarded call is routed
	// ("" when no rule chose).
	Target string `json:"target"`
}

// Step is the JSON form of one rule's trace.
type Step struct {
	// Rule is the rule's 1-based number in its file.
	Rule int `json:"rule"`
	// Pos is where the rule starts, file:line:col.
	Pos string `json:"pos"`
	// Action is the rule's action; Name its name, if it has one.
	Action string `json:"action"`
	Name   string `json:"name,omitempty"`
	// Status is applied, not matched, failed, stopped, rejected,
	// redirected, skipped (direction), skipped (when) or panicked.
	Status string `json:"status"`
	// Detail says what the rule changed or why it did nothing.
	Detail string `json:"detail,omitempty"`
	// Flags are regex_timeout and pattern_error.
	Flags []string `json:"flags,omitempty"`
}

// Record is the JSON object written for one INVITE by `xformd dryrun
// --format json`: one per line.
type Record struct {
	// Source is file#n, the n-th SIP message of the capture.
	Source string `json:"source"`
	// CallID is the INVITE's Call-ID.
	CallID string `json:"call_id"`
	// Frame, Time, Src, Dst and Transport describe the packet (pcap only):
	// frame number, capture time, addresses, udp or tcp.
	Frame     int    `json:"frame,omitempty"`
	Time      string `json:"time,omitempty"`
	Src       string `json:"src,omitempty"`
	Dst       string `json:"dst,omitempty"`
	Transport string `json:"transport,omitempty"`
	// Now is the clock the call ran at (RFC 3339), NowSource where it came
	// from.
	Now       string `json:"now"`
	NowSource string `json:"now_source"`
	// Disposition is what happens to the call.
	Disposition Disposition `json:"disposition"`
	// Variables are the variables rules set.
	Variables map[string]string `json:"variables"`
	// Trace has one entry per rule, in order.
	Trace []Step `json:"trace"`
	// Diff lists the changed header lines, "- old" and "+ new".
	Diff []string `json:"diff"`
	// Message is the final SIP message text.
	Message string `json:"message"`
	// Note is a remark from reading the capture (a corrected
	// Content-Length).
	Note string `json:"note,omitempty"`
	// Error is set when an action failed badly (panicked); the disposition
	// is then a 500.
	Error string `json:"error,omitempty"`
}

// ErrorRecord is the JSON object written for a message that could not be
// parsed.
type ErrorRecord struct {
	// Source is file#n, or the capture's name when it could not be read.
	Source string `json:"source"`
	// Frame is the packet number for pcap input.
	Frame int `json:"frame,omitempty"`
	// Error says what is wrong and where.
	Error string `json:"error"`
}

// DispositionOf converts an engine disposition.
func DispositionOf(d engine.Disposition) Disposition {
	out := Disposition{Kind: d.Kind.String(), Reason: d.Reason, Target: d.Target}
	if d.Kind != engine.Forward {
		out.Status = d.Status
	}
	return out
}

// StepOf converts one engine trace step.
func StepOf(s engine.Step) Step {
	st := Step{Rule: s.Rule + 1, Pos: s.Pos.String(), Action: s.Action, Name: s.Name, Status: s.Status.String(), Detail: s.Detail}
	if s.Flags&engine.FlagRegexTimeout != 0 {
		st.Flags = append(st.Flags, "regex_timeout")
	}
	if s.Flags&engine.FlagPatternError != 0 {
		st.Flags = append(st.Flags, "pattern_error")
	}
	return st
}

// Record builds the JSON record of an outcome.
func (o *Outcome) Record() Record {
	m := o.Message
	r := Record{
		Source:      m.Source,
		CallID:      callID(o),
		Frame:       m.Frame,
		Transport:   m.Transport,
		Now:         o.Now.UTC().Format(time.RFC3339),
		NowSource:   o.NowSource,
		Disposition: DispositionOf(o.Result.Disposition),
		Variables:   o.Variables(),
		Trace:       make([]Step, 0, len(o.Result.Steps)),
		Diff:        []string{},
		Message:     o.final,
		Note:        m.Note,
	}
	if !m.Time.IsZero() {
		r.Time = m.Time.UTC().Format(time.RFC3339Nano)
	}
	if m.Src.IsValid() {
		r.Src, r.Dst = m.Src.String(), m.Dst.String()
	}
	for _, s := range o.Result.Steps {
		r.Trace = append(r.Trace, StepOf(s))
	}
	for _, d := range Diff(o.Before, o.After) {
		if d.Op != ' ' {
			r.Diff = append(r.Diff, string(d.Op)+" "+d.Text)
		}
	}
	if o.Result.Err != nil {
		r.Error = o.Result.Err.Error()
	}
	return r
}

func callID(o *Outcome) string {
	if id := o.Call.Request.CallID(); id != nil {
		return id.Value()
	}
	return ""
}

// WriteJSON writes the outcome as one line of JSON.
func WriteJSON(w io.Writer, o *Outcome) error {
	return writeLine(w, o.Record())
}

// WriteJSONError writes a message that could not be parsed as one line of
// JSON.
func WriteJSONError(w io.Writer, m *capture.Message) error {
	return writeLine(w, ErrorRecord{Source: m.Source, Frame: m.Frame, Error: m.Err.Error()})
}

func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// Style colours text output; the zero value prints plain text.
type Style struct {
	// Color turns on ANSI colours.
	Color bool
}

func (s Style) wrap(code, text string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// WriteText writes the human-readable report of one INVITE: where it came
// from, every rule with its position and what happened, the variables set,
// the disposition and the header diff.
func WriteText(w io.Writer, o *Outcome, s Style) error {
	var b strings.Builder
	m := o.Message
	fmt.Fprintf(&b, "%s %s\n", s.wrap("1", "== "+m.Source), s.wrap("1", o.Before[0]))
	fmt.Fprintf(&b, "   Call-ID %s", callID(o))
	if m.Transport != "" {
		fmt.Fprintf(&b, ", %s %s -> %s, frame %d", m.Transport, m.Src, m.Dst, m.Frame)
	}
	fmt.Fprintf(&b, "\n   now %s (%s)\n", o.Now.UTC().Format(time.RFC3339), o.NowSource)
	if m.Note != "" {
		fmt.Fprintf(&b, "   note: %s\n", m.Note)
	}
	b.WriteString("   rules:\n")
	width := 0
	for _, st := range o.Result.Steps {
		width = max(width, len(st.Pos.String()))
	}
	for _, st := range o.Result.Steps {
		j := StepOf(st)
		name := j.Action
		status := j.Status
		switch st.Status {
		case engine.StepApplied:
			status = s.wrap("32", status)
		case engine.StepFailed, engine.StepPanicked, engine.StepRejected:
			status = s.wrap("31", status)
		case engine.StepRedirected, engine.StepStopped:
			status = s.wrap("33", status)
		default:
			status = s.wrap("2", status)
		}
		fmt.Fprintf(&b, "     %-*s  #%-2d %-25s %s", width, j.Pos, j.Rule, name, status)
		if j.Detail != "" {
			fmt.Fprintf(&b, ": %s", j.Detail)
		}
		if len(j.Flags) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(j.Flags, ", "))
		}
		if j.Name != "" {
			b.WriteString(s.wrap("2", "  # "+j.Name))
		}
		b.WriteByte('\n')
	}
	if len(o.Result.Steps) == 0 {
		b.WriteString("     (no rules)\n")
	}
	vars := o.Variables()
	if len(vars) == 0 {
		b.WriteString("   variables: (none set)\n")
	} else {
		b.WriteString("   variables:\n")
		for _, k := range SortedKeys(vars) {
			fmt.Fprintf(&b, "     %s = %q\n", k, vars[k])
		}
	}
	d := DispositionOf(o.Result.Disposition)
	disp := d.Kind
	switch d.Kind {
	case "reject":
		disp = s.wrap("31;1", fmt.Sprintf("reject %d %s", d.Status, d.Reason))
	case "redirect":
		disp = s.wrap("33;1", fmt.Sprintf("redirect %d %s -> %s", d.Status, d.Reason, d.Target))
	default:
		if d.Target != "" {
			disp += " -> " + d.Target
		}
		disp = s.wrap("32;1", disp)
	}
	fmt.Fprintf(&b, "   disposition: %s\n", disp)
	if o.Result.Err != nil {
		fmt.Fprintf(&b, "   error: %s\n", firstLine(o.Result.Err.Error()))
	}
	diff := Diff(o.Before, o.After)
	if !Changed(diff) {
		b.WriteString("   headers: unchanged\n")
	} else {
		b.WriteString("   headers:\n")
		for _, l := range diff {
			switch l.Op {
			case '-':
				fmt.Fprintf(&b, "     %s\n", s.wrap("31", "- "+l.Text))
			case '+':
				fmt.Fprintf(&b, "     %s\n", s.wrap("32", "+ "+l.Text))
			}
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTextSkipped reports a message that was not run: not an INVITE, or
// not parsable.
func WriteTextSkipped(w io.Writer, m *capture.Message, s Style) error {
	var line string
	if m.Err != nil {
		line = fmt.Sprintf("%s %s\n\n", s.wrap("1", "== "+m.Source), s.wrap("31", "error: "+m.Err.Error()))
	} else {
		line = fmt.Sprintf("%s %s\n\n", s.wrap("1", "== "+m.Source), s.wrap("2", m.Note))
	}
	_, err := io.WriteString(w, line)
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
