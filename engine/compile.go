package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/xformd/xformd/internal/suggest"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/templates"
)

// Options tune compilation.
type Options struct {
	// RegexTimeout bounds each regex match; 0 means DefaultRegexTimeout.
	RegexTimeout time.Duration
}

// maxNesting bounds if_match nesting, so that a generated file cannot
// build an arbitrarily deep action.
const maxNesting = 8

// Compile turns a rule file into a pipeline. Every template, regex and
// condition is compiled here; all problems are returned together as a
// rules.ErrorList with positions.
func Compile(f *rules.File, reg *Registry, opts Options) (*Pipeline, error) {
	if opts.RegexTimeout <= 0 {
		opts.RegexTimeout = DefaultRegexTimeout
	}
	c := &compiler{reg: reg, opts: opts, p: &Pipeline{file: f.Name, index: map[string]VarRef{}}}
	for _, name := range reg.provided() {
		c.p.declare(name)
	}
	for i := range f.Rules {
		r := &f.Rules[i]
		cr, err := c.rule(r)
		if err != nil {
			c.errs = append(c.errs, rules.Errors(err)...)
			continue
		}
		c.p.rules = append(c.p.rules, cr)
	}
	if err := c.errs.Err(); err != nil {
		return nil, err
	}
	c.p.ruleCount = len(f.Rules)
	return c.p, nil
}

type compiler struct {
	reg  *Registry
	opts Options
	p    *Pipeline
	errs rules.ErrorList
}

func (c *compiler) rule(r *rules.Rule) (*compiledRule, error) {
	cr := &compiledRule{info: RuleInfo{Rule: r.Index, Pos: r.Pos, Action: r.Action.Text, Name: r.Name}, dir: r.Direction}
	b := &Builder{c: c, rule: r, depth: 0}
	act, err := b.build(r.Action, r.Operands)
	if err != nil {
		return nil, err
	}
	cr.act = act
	if strings.TrimSpace(r.When.Text) != "" {
		prog, idents, err := c.when(r.When)
		if err != nil {
			return nil, err
		}
		cr.when, cr.whenIdents = prog, idents
	}
	return cr, nil
}

// when compiles an expr-lang condition over the variables known at this
// point of the file. Every variable is a string; header(name) reads a
// header. The result must be a boolean.
func (c *compiler) when(v rules.Value) (*vm.Program, []whenIdent, error) {
	env := map[string]any{"header": func(string) string { return "" }}
	for name := range builtins {
		env[name] = ""
	}
	for _, name := range c.p.slotNames {
		env[name] = ""
	}
	prog, err := expr.Compile(v.Text, expr.Env(env), expr.AsBool())
	if err != nil {
		msg := strings.TrimSpace(err.Error())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		e := rules.Errorf(v.Pos, "invalid when condition: %s", msg)
		if strings.Contains(msg, "unknown name") {
			name := between(msg, "unknown name ", " ")
			e.Hint = suggest.Hint(name, c.knownNames())
		}
		return nil, nil, e
	}
	seen := map[string]bool{}
	var idents []whenIdent
	collect := identCollector(func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if name == "header" {
			idents = append(idents, whenIdent{name: name, header: true})
			return
		}
		if ref, ok := c.resolve(name); ok == nil {
			idents = append(idents, whenIdent{name: name, ref: ref})
		}
	})
	node := prog.Node()
	ast.Walk(&node, collect)
	return prog, idents, nil
}

func between(s, after, before string) string {
	i := strings.Index(s, after)
	if i < 0 {
		return ""
	}
	s = s[i+len(after):]
	if j := strings.Index(s, before); j >= 0 {
		s = s[:j]
	}
	return strings.Trim(s, "()\"'")
}

type identCollector func(string)

func (f identCollector) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		f(id.Value)
	}
}

// knownNames lists every variable name a template may use here.
func (c *compiler) knownNames() []string {
	out := make([]string, 0, len(builtins)+len(c.p.slotNames))
	for n := range builtins {
		out = append(out, n)
	}
	out = append(out, c.p.slotNames...)
	sort.Strings(out)
	return out
}

// resolve finds or makes the symbol for a variable name.
func (c *compiler) resolve(name string) (VarRef, error) {
	if ref, ok := c.p.index[name]; ok {
		return ref, nil
	}
	if b, ok := builtins[name]; ok {
		return c.p.addSymbol(symbol{name: name, kind: symBuiltin, builtin: b.get}), nil
	}
	if h, ok := strings.CutPrefix(name, "header."); ok && h != "" {
		return c.p.addSymbol(symbol{name: name, kind: symHeader, hdr: makeHeaderName(h)}), nil
	}
	msg := fmt.Sprintf("unknown variable %q", name)
	if h := suggest.Hint(name, c.knownNames()); h != "" {
		msg += " (" + h + ")"
	} else {
		msg += " (variables are built in, set by stir_validate, or set by an earlier set_variable)"
	}
	return 0, errors.New(msg)
}

// Builder is what an action's Build function gets: the means to compile
// its operands with positions, declare variables and build nested actions.
type Builder struct {
	c     *compiler
	rule  *rules.Rule
	depth int
	name  rules.Value
}

// Rule returns the rule being compiled.
func (b *Builder) Rule() *rules.Rule { return b.rule }

// ActionPos returns where the action's name was written.
func (b *Builder) ActionPos() rules.Pos { return b.name.Pos }

// Errorf returns a positioned compile error at v.
func (b *Builder) Errorf(v rules.Value, format string, args ...any) error {
	return rules.Errorf(v.Pos, format, args...)
}

// Template compiles an operand as a template, resolving its variables.
func (b *Builder) Template(v rules.Value) (*templates.Template, error) {
	t, err := templates.Compile(v.Text, b.c.resolve)
	if err != nil {
		var te *templates.Error
		pos := v.Pos
		if errors.As(err, &te) {
			pos = offsetPos(v, te.Offset)
		}
		msg := err.Error()
		e := &rules.Error{Pos: pos, Msg: msg}
		if i := strings.Index(msg, " (did you mean "); i > 0 {
			e.Msg, e.Hint = msg[:i], strings.TrimSuffix(msg[i+2:], ")")
		}
		return nil, e
	}
	return t, nil
}

// offsetPos returns the position of byte off inside a scalar. It is exact
// for scalars on one line without escapes, which is how operands are
// written; otherwise it is the scalar's start.
func offsetPos(v rules.Value, off int) rules.Pos {
	p := v.Pos
	if off > len(v.Text) || strings.ContainsAny(v.Text[:off], "\n\"\\'") {
		return p
	}
	p.Col += off
	if v.Quoted {
		p.Col++
	}
	return p
}

// Pattern compiles a regex operand. A pattern with {{variables}} is
// compiled on each call instead.
func (b *Builder) Pattern(v rules.Value) (*Pattern, error) {
	t, err := b.Template(v)
	if err != nil {
		return nil, err
	}
	if !t.IsLiteral() {
		return &Pattern{src: v.Text, dynamic: t, timeout: b.c.opts.RegexTimeout}, nil
	}
	p, err := compilePattern(t.Render(nil), b.c.opts.RegexTimeout)
	if err != nil {
		return nil, rules.Errorf(v.Pos, "%v", err)
	}
	return p, nil
}

// Replacement compiles a replacement operand for pattern pat.
func (b *Builder) Replacement(v rules.Value, pat *Pattern) (*Replacement, error) {
	t, err := b.Template(v)
	if err != nil {
		return nil, err
	}
	r, err := compileReplacement(t, pat)
	if err != nil {
		return nil, rules.Errorf(v.Pos, "%v", err)
	}
	return r, nil
}

// Declare makes a variable that this rule sets, visible to the rules after
// it. Built-in names are refused.
func (b *Builder) Declare(v rules.Value) (VarRef, error) {
	name := v.Text
	if !templates.ValidName(name) || strings.HasPrefix(name, "header.") {
		return 0, rules.Errorf(v.Pos, "invalid variable name %q: use letters, digits and _", name)
	}
	if IsBuiltin(name) {
		return 0, rules.Errorf(v.Pos, "%s is a built-in variable read from the INVITE and cannot be set", name)
	}
	return b.c.p.declare(name), nil
}

// Var returns the ref of a variable provided by a spec, for actions that
// set their results by ref.
func (b *Builder) Var(name string) VarRef {
	ref, ok := b.c.p.index[name]
	if !ok {
		ref = b.c.p.declare(name)
	}
	return ref
}

// Nested builds the action named by ops[0] with operands ops[1:], as if it
// were a rule of its own (used by if_match).
func (b *Builder) Nested(ops []rules.Value) (Action, error) {
	if b.depth >= maxNesting {
		return nil, rules.Errorf(ops[0].Pos, "conditions nested more than %d deep", maxNesting)
	}
	nb := &Builder{c: b.c, rule: b.rule, depth: b.depth + 1}
	return nb.build(ops[0], ops[1:])
}

func (b *Builder) build(name rules.Value, ops []rules.Value) (Action, error) {
	b.name = name
	spec, ok := b.c.reg.Lookup(name.Text)
	if !ok {
		e := rules.Errorf(name.Pos, "unknown action %q", name.Text)
		e.Hint = suggest.Hint(name.Text, b.c.reg.names)
		if e.Hint == "" {
			e.Hint = "run xformd schema or see README for the list of actions"
		}
		return nil, e
	}
	if len(ops) < spec.MinOperands || (spec.MaxOperands >= 0 && len(ops) > spec.MaxOperands) {
		return nil, &rules.Error{Pos: name.Pos, Msg: fmt.Sprintf("%s takes %s, got %d", spec.Name, operandCount(spec), len(ops)),
			Hint: spec.Name + " " + usage(spec)}
	}
	act, err := spec.Build(b, ops)
	if err != nil {
		var re *rules.Error
		var rl rules.ErrorList
		if !errors.As(err, &re) && !errors.As(err, &rl) {
			err = rules.Errorf(name.Pos, "%s: %v", spec.Name, err)
		}
		return nil, err
	}
	return act, nil
}

func operandCount(s *Spec) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 operand"
		}
		return fmt.Sprintf("%d operands", n)
	}
	switch {
	case s.MaxOperands < 0:
		return "at least " + plural(s.MinOperands)
	case s.MinOperands == s.MaxOperands:
		return plural(s.MinOperands)
	default:
		return fmt.Sprintf("%d to %d operands", s.MinOperands, s.MaxOperands)
	}
}

func usage(s *Spec) string {
	return "[" + strings.Join(s.Operands, ", ") + "]"
}
