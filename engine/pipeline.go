package engine

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/expr-lang/expr/vm"
	"github.com/xformd/xformd/rules"
)

// Pipeline is a compiled rule file. It is immutable after Compile and safe
// for concurrent use; the daemon swaps whole pipelines on reload.
type Pipeline struct {
	file      string
	rules     []*compiledRule
	ruleCount int
	syms      []symbol
	index     map[string]VarRef
	slotNames []string
}

type compiledRule struct {
	info       RuleInfo
	dir        rules.Direction
	when       *vm.Program
	whenIdents []whenIdent
	act        Action
}

type whenIdent struct {
	name   string
	ref    VarRef
	header bool
}

// File returns the name of the rule file the pipeline was compiled from.
func (p *Pipeline) File() string { return p.file }

// Len returns the number of rules.
func (p *Pipeline) Len() int { return len(p.rules) }

// Variables returns the names of the variables rules may set (provided by
// actions or declared with set_variable), in declaration order.
func (p *Pipeline) Variables() []string { return append([]string(nil), p.slotNames...) }

func (p *Pipeline) addSymbol(s symbol) VarRef {
	ref := VarRef(len(p.syms))
	p.syms = append(p.syms, s)
	p.index[s.name] = ref
	return ref
}

func (p *Pipeline) declare(name string) VarRef {
	if ref, ok := p.index[name]; ok {
		return ref
	}
	slot := len(p.slotNames)
	p.slotNames = append(p.slotNames, name)
	return p.addSymbol(symbol{name: name, kind: symSlot, slot: slot})
}

// Kind is the kind of a call's disposition.
type Kind uint8

// The dispositions.
const (
	// Forward: the call goes on, to the route target if a rule set one.
	Forward Kind = iota
	// Reject: answer with a final 4xx-6xx response.
	Reject
	// Redirect: answer 302 with a Contact of the target.
	Redirect
)

// String returns the disposition kind's name: forward, reject, redirect.
func (k Kind) String() string {
	switch k {
	case Reject:
		return "reject"
	case Redirect:
		return "redirect"
	}
	return "forward"
}

// Disposition is what is to happen to the call.
type Disposition struct {
	Kind Kind
	// Status is the SIP status for reject and redirect, 0 for forward.
	Status int
	Reason string
	// Target is the redirect Contact, or the route target of a forward.
	Target string
}

// StepStatus says what happened to one rule on one call.
type StepStatus uint8

// The step statuses.
const (
	StepApplied StepStatus = iota
	StepNotMatched
	StepFailed
	StepStopped
	StepRejected
	StepRedirected
	StepSkippedDirection
	StepSkippedWhen
	StepPanicked
)

var stepNames = [...]string{"applied", "not matched", "failed", "stopped", "rejected", "redirected", "skipped (direction)", "skipped (when)", "panicked"}

// String names the status for traces.
func (s StepStatus) String() string {
	if int(s) < len(stepNames) {
		return stepNames[s]
	}
	return "unknown"
}

// StepFlags are facts about a step recorded even without tracing.
type StepFlags uint8

// The flags.
const (
	// FlagRegexTimeout: a regex match ran out of time (counted as no match).
	FlagRegexTimeout StepFlags = 1 << iota
	// FlagPatternError: a pattern built from variables did not compile.
	FlagPatternError
)

// RuleInfo identifies a rule in traces.
type RuleInfo struct {
	// Rule is the rule's 0-based index in its file.
	Rule   int
	Pos    rules.Pos
	Action string
	Name   string
}

// Step is the trace of one rule on one call. The rule's identity is shared
// with the pipeline (read it as s.Rule, s.Pos, s.Action, s.Name), so that
// recording a step copies a few words.
type Step struct {
	*RuleInfo
	Status StepStatus
	Flags  StepFlags
	// Detail says what the rule changed or why it did nothing; filled only
	// when the call is traced, or for failures.
	Detail string
}

// Result is the outcome of running a pipeline on a call.
type Result struct {
	Disposition Disposition
	// Steps is the trace, one step per rule. It may share storage with the
	// Call, so it is valid until the Call runs again.
	Steps []Step
	// Err is set when an action panicked; the disposition is then a 500.
	Err error
}

// Run applies the rules of the call's direction in order and returns the
// disposition and the trace. It never panics: a panicking action ends the
// call with 500 Server Internal Error, and the trace says which rule.
func (p *Pipeline) Run(c *Call) Result {
	c.p = p
	if n := len(p.slotNames); n <= len(c.valBuf) {
		c.valBuf = [len(c.valBuf)]slotValue{}
		c.vals = c.valBuf[:n]
	} else {
		c.vals = make([]slotValue, n)
	}
	res := Result{}
	if len(p.rules) <= len(c.stepBuf) {
		res.Steps = c.stepBuf[:0]
	} else {
		res.Steps = make([]Step, 0, len(p.rules))
	}
	for _, r := range p.rules {
		st := Step{RuleInfo: &r.info}
		if r.dir != rules.Any && c.Direction != rules.Any && r.dir != c.Direction {
			st.Status = StepSkippedDirection
			res.Steps = append(res.Steps, st)
			continue
		}
		if r.when != nil {
			ok, err := p.evalWhen(c, r)
			if err != nil {
				st.Status, st.Detail = StepFailed, "when: "+err.Error()
				res.Steps = append(res.Steps, st)
				continue
			}
			if !ok {
				st.Status = StepSkippedWhen
				res.Steps = append(res.Steps, st)
				continue
			}
		}
		out, perr := runAction(r.act, c)
		st.Flags, c.flags = c.flags, 0
		if len(c.notes) > 0 {
			st.Detail = strings.Join(c.notes, "; ")
			c.notes = c.notes[:0]
		}
		if perr != nil {
			st.Status = StepPanicked
			st.Detail, _, _ = strings.Cut(perr.Error(), "\n")
			res.Steps = append(res.Steps, st)
			res.Err = fmt.Errorf("%s: rule %d (%s): %w", r.info.Pos, r.info.Rule+1, r.info.Action, perr)
			res.Disposition = Disposition{Kind: Reject, Status: 500, Reason: "Server Internal Error"}
			return res
		}
		switch out.Kind {
		case Applied:
			st.Status = StepApplied
		case NotMatched:
			st.Status = StepNotMatched
		case Failed:
			st.Status = StepFailed
			if out.Err != nil {
				if st.Detail != "" {
					st.Detail += "; "
				}
				st.Detail += out.Err.Error()
			}
		case Stopped:
			st.Status = StepStopped
		case Rejected:
			st.Status = StepRejected
			res.Disposition = Disposition{Kind: Reject, Status: out.Status, Reason: out.Reason}
		case Redirected:
			st.Status = StepRedirected
			res.Disposition = Disposition{Kind: Redirect, Status: out.Status, Reason: out.Reason, Target: out.Target}
		}
		res.Steps = append(res.Steps, st)
		if out.Ends() {
			if out.Kind == Stopped {
				res.Disposition = Disposition{Kind: Forward, Target: c.route}
			}
			return res
		}
	}
	res.Disposition = Disposition{Kind: Forward, Target: c.route}
	return res
}

// runAction runs one action, turning a panic into an error.
func runAction(a Action, c *Call) (out Outcome, perr error) {
	defer func() {
		if v := recover(); v != nil {
			stack := debug.Stack()
			if len(stack) > 2048 {
				stack = stack[:2048]
			}
			perr = fmt.Errorf("action panicked: %v\n%s", v, stack)
		}
	}()
	return a.Run(c), nil
}

func (p *Pipeline) evalWhen(c *Call, r *compiledRule) (ok bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("condition panicked: %v", v)
		}
	}()
	env := make(map[string]any, len(r.whenIdents))
	for _, id := range r.whenIdents {
		if id.header {
			req := c.Request
			env["header"] = func(name string) string { return headerValue(req, makeHeaderName(name)) }
			continue
		}
		env[id.name] = c.Lookup(id.ref)
	}
	v, err := vm.Run(r.when, env)
	if err != nil {
		return false, err
	}
	b, _ := v.(bool)
	return b, nil
}
