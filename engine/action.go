package engine

import (
	"fmt"
	"sort"

	"github.com/xformd/xformd/rules"
)

// Action is one compiled step of a pipeline. Run applies it to the call and
// says what happened. Actions are built once, at compile time, and must be
// safe for concurrent use by many calls: all per-call state lives in Call.
type Action interface {
	Run(c *Call) Outcome
}

// ActionFunc adapts a function to the Action interface.
type ActionFunc func(c *Call) Outcome

// Run calls f(c).
func (f ActionFunc) Run(c *Call) Outcome { return f(c) }

// OutcomeKind says what an action did.
type OutcomeKind uint8

// The outcomes. Applied, NotMatched and Failed let the pipeline go on;
// Stopped, Rejected and Redirected end it.
const (
	Applied OutcomeKind = iota
	NotMatched
	Failed
	Stopped
	Rejected
	Redirected
)

// Outcome is the result of running one action.
type Outcome struct {
	Kind OutcomeKind
	// Status and Reason are the SIP response of a reject or redirect.
	Status int
	Reason string
	// Target is the redirect URI.
	Target string
	// Err explains a Failed outcome.
	Err error
}

// Ends reports whether the outcome ends the pipeline.
func (o Outcome) Ends() bool { return o.Kind >= Stopped }

// Convenience constructors for the common outcomes.
var (
	outcomeApplied    = Outcome{Kind: Applied}
	outcomeNotMatched = Outcome{Kind: NotMatched}
	outcomeStopped    = Outcome{Kind: Stopped}
)

// Done is the outcome of an action that did its work.
func Done() Outcome { return outcomeApplied }

// NoMatch is the outcome of a condition that did not hold.
func NoMatch() Outcome { return outcomeNotMatched }

// Stop ends the pipeline; the call goes on as it is.
func Stop() Outcome { return outcomeStopped }

// RejectCall ends the pipeline with a final response.
func RejectCall(status int, reason string) Outcome {
	return Outcome{Kind: Rejected, Status: status, Reason: reason}
}

// RedirectCall ends the pipeline with a 302 to target.
func RedirectCall(target string) Outcome {
	return Outcome{Kind: Redirected, Status: 302, Reason: "Moved Temporarily", Target: target}
}

// Fail records a run-time problem; the pipeline goes on with the next rule,
// since one broken rule must not drop the call.
func Fail(format string, args ...any) Outcome {
	return Outcome{Kind: Failed, Err: fmt.Errorf(format, args...)}
}

// Spec describes an action to the compiler, the schema and the docs.
type Spec struct {
	// Name is the action's rule-file name, e.g. "set_header".
	Name string
	// Summary is one line for docs and the JSON Schema.
	Summary string
	// Operands names the positional operands, for docs and error messages.
	Operands []string
	// MinOperands and MaxOperands bound the operand count; MaxOperands -1
	// means no upper bound.
	MinOperands, MaxOperands int
	// Provides lists the variables the action sets when it runs. They are
	// known to every rule file compiled with the registry and read as "" until
	// the action runs.
	Provides []string
	// Build validates the operands and returns the compiled action. Every
	// problem must be returned here, positioned with Builder.Errorf.
	Build func(b *Builder, operands []rules.Value) (Action, error)
}

// Registry is the set of actions a pipeline may use. It is passed to
// Compile explicitly: there is no global registration.
type Registry struct {
	specs map[string]*Spec
	names []string
}

// NewRegistry builds a registry from specs. A duplicate name panics, since
// it is a programming error in the program that builds the registry.
func NewRegistry(specs ...Spec) *Registry {
	r := &Registry{specs: make(map[string]*Spec, len(specs))}
	for i := range specs {
		s := specs[i]
		if _, dup := r.specs[s.Name]; dup {
			panic("engine: duplicate action " + s.Name)
		}
		r.specs[s.Name] = &s
		r.names = append(r.names, s.Name)
	}
	sort.Strings(r.names)
	return r
}

// Lookup returns the spec of the named action.
func (r *Registry) Lookup(name string) (*Spec, bool) {
	s, ok := r.specs[name]
	return s, ok
}

// Names returns the action names in sorted order.
func (r *Registry) Names() []string { return append([]string(nil), r.names...) }

// Specs returns the specs in name order.
func (r *Registry) Specs() []*Spec {
	out := make([]*Spec, len(r.names))
	for i, n := range r.names {
		out[i] = r.specs[n]
	}
	return out
}

// provided lists the variables set by the registry's actions, sorted.
func (r *Registry) provided() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range r.names {
		for _, v := range r.specs[n].Provides {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}
