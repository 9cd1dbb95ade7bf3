// Package suite runs rule test suites: YAML files of cases, each naming a
// rule file, an INVITE and what must come out (disposition, variables,
// headers, display name, Request-URI, the PASSporT a signing rule made).
// `xformd test` is a thin shell around it; CI runs the suites of examples/.
//
// A suite file:
//
//	rules: rules.json            # default rule file, relative to the suite
//	direction: inbound           # default direction
//	now: "2026-01-15T10:00:00Z"  # default clock (RFC 3339 or @unix)
//	trust: pki/trust             # trust anchors for stir_validate
//	x5u:                         # certificate URLs served from files
//	  https://cert.example.org/shaken.pem: pki/shaken.pem
//	sign: {key: pki/shaken-key.pem, x5u: https://cert.example.org/shaken.pem}
//	cases:
//	  - name: verified A call is marked
//	    invite: invites/signed-a.sip   # a file, or inline SIP text
//	    expect:
//	      disposition: forward
//	      variables: {stir_verstat: TN-Validation-Passed}
//	      headers: {X-StirResult: TN-Validation-Passed-A}
//	      headers_absent: [P-Asserted-Identity]
//	      display_name: "Alice*"
//
// Every key of a case except name, invite and expect overrides the
// suite's default of the same name.
package suite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/internal/suggest"
	"github.com/xformd/xformd/replay"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/sipmsg"
	"github.com/xformd/xformd/stir"
	"gopkg.in/yaml.v3"
)

// MaxSuiteSize bounds a suite file.
const MaxSuiteSize = 8 << 20

// Settings are the keys a suite sets as defaults and a case may override.
type Settings struct {
	// Rules is the rule file, relative to the suite file.
	Rules string `yaml:"rules"`
	// Direction is inbound, outbound or any.
	Direction string `yaml:"direction"`
	// Now is the clock: RFC 3339 or @ and Unix seconds.
	Now string `yaml:"now"`
	// Trust is the directory of trust anchor PEM files.
	Trust string `yaml:"trust"`
	// X5U maps certificate URLs to local PEM files.
	X5U map[string]string `yaml:"x5u"`
	// Sign configures stir_sign.
	Sign *Sign `yaml:"sign"`
}

// Sign is the signing key and certificate URL for stir_sign.
type Sign struct {
	// Key is the private key file (PEM, PKCS#8 or SEC 1).
	Key string `yaml:"key"`
	// X5U is the certificate URL put in the Identity header.
	X5U string `yaml:"x5u"`
}

// Values is one string or a list of strings in YAML.
type Values []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (v *Values) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*v = Values{n.Value}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*v = list
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// Expect is what a case checks. Every field is optional; an empty
// expectation only checks that the INVITE runs.
type Expect struct {
	// Disposition is forward, reject or redirect.
	Disposition string `yaml:"disposition"`
	// Status is the SIP status of a reject or redirect.
	Status int `yaml:"status"`
	// Reason is the reason phrase of a reject or redirect.
	Reason string `yaml:"reason"`
	// Target is the redirect Contact or the route of a forward.
	Target *string `yaml:"target"`
	// Variables are values variables must have ("" also matches unset).
	Variables map[string]string `yaml:"variables"`
	// Headers are header values: a string is the first instance's value,
	// a list is every instance in order.
	Headers map[string]Values `yaml:"headers"`
	// HeadersPresent and HeadersAbsent list header names.
	HeadersPresent []string `yaml:"headers_present"`
	HeadersAbsent  []string `yaml:"headers_absent"`
	// HeadersMatch are regular expressions (Go syntax) the first instance
	// must match.
	HeadersMatch map[string]string `yaml:"headers_match"`
	// DisplayName is the From display name (CNAM), unquoted.
	DisplayName *string `yaml:"display_name"`
	// FromUser, ToUser, RURI and RURIUser are the URIs after the rules.
	FromUser *string `yaml:"from_user"`
	ToUser   *string `yaml:"to_user"`
	RURI     *string `yaml:"ruri"`
	RURIUser *string `yaml:"ruri_user"`
	// Identity checks the SHAKEN PASSporT in the last Identity header.
	Identity *IdentityExpect `yaml:"identity"`
}

// IdentityExpect checks a PASSporT, typically one a stir_sign rule made.
type IdentityExpect struct {
	// Attest is the attest claim, A, B or C.
	Attest string `yaml:"attest"`
	// Orig and Dest are orig.tn and dest.tn.
	Orig string `yaml:"orig"`
	Dest Values `yaml:"dest"`
	// OrigID is the origid claim.
	OrigID *string `yaml:"origid"`
	// X5U is the certificate URL in the PASSporT header.
	X5U string `yaml:"x5u"`
	// Verified runs the suite's verifier (trust, x5u) on the header, at
	// the case's clock, and requires TN-Validation-Passed.
	Verified bool `yaml:"verified"`
}

// Case is one test case.
type Case struct {
	// Name names the case in reports; default "case N".
	Name string `yaml:"name"`
	// Settings override the suite's defaults for this case.
	Settings `yaml:",inline"`
	// Invite is a path (relative to the suite) to a capture, or inline
	// SIP text (anything with a line break).
	Invite string `yaml:"invite"`
	// Index picks the n-th INVITE (1-based) of a capture with several.
	Index int `yaml:"index"`
	// Expect is what must come out.
	Expect Expect `yaml:"expect"`

	line int
}

// File is a parsed suite file.
type File struct {
	// Settings are the defaults of every case.
	Settings `yaml:",inline"`
	// Cases are run in order.
	Cases []Case `yaml:"cases"`

	path string
}

// Find expands suite arguments: a file is itself; a directory is every
// file named tests.yaml or *.tests.yaml below it, in lexical order. A
// directory holding none is an error, so that a mistyped path cannot make CI
// pass by testing nothing.
func Find(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			out = append(out, p) // Load reports a missing file
			continue
		}
		n := len(out)
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if !d.IsDir() && (name == "tests.yaml" || strings.HasSuffix(name, ".tests.yaml")) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no suite files (tests.yaml or *.tests.yaml) in this directory", p)
		}
	}
	return out, nil
}

// Load reads and parses a suite file. Unknown keys are errors, so that a
// misspelt expectation cannot silently check nothing.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read suite: %w", err)
	}
	if len(data) > MaxSuiteSize {
		return nil, fmt.Errorf("%s: suite file larger than %d bytes", path, MaxSuiteSize)
	}
	return Parse(path, data)
}

// Parse parses a suite file's bytes; path names it in errors and anchors
// relative paths.
func Parse(path string, data []byte) (*File, error) {
	f := &File{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty suite file: write cases: [...]", path)
		}
		return nil, fmt.Errorf("%s: %s", path, explainYAML(err))
	}
	// A second pass over the node tree finds each case's line.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) > 0 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "cases" && root.Content[i+1].Kind == yaml.SequenceNode {
				for j, n := range root.Content[i+1].Content {
					if j < len(f.Cases) {
						f.Cases[j].line = n.Line
					}
				}
			}
		}
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: suite has no cases: write cases: [...]", path)
	}
	for i := range f.Cases {
		c := &f.Cases[i]
		if c.Name == "" {
			c.Name = fmt.Sprintf("case %d", i+1)
		}
		if c.Invite == "" {
			return nil, fmt.Errorf("%s:%d: case %q has no invite: give a capture file or inline SIP text", path, c.line, c.Name)
		}
		for _, name := range sortedKeys(c.Expect.Headers) {
			if len(c.Expect.Headers[name]) == 0 {
				return nil, fmt.Errorf("%s:%d: case %q: header %s has no expected value; to require that it is absent, list it in headers_absent", path, c.line, c.Name, name)
			}
		}
	}
	return f, nil
}

// Options tune a run.
type Options struct {
	// Run, when set, selects the cases whose name it matches.
	Run *regexp.Regexp
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	// Suite is the suite file.
	Suite string
	// Name is the case's name and Line the line it starts on.
	Name string
	Line int
	// Failures are the expectations that did not hold, each saying
	// expected and actual.
	Failures []string
	// Err is why the case could not run.
	Err error
	// Outcome is the replay of the INVITE, when it ran.
	Outcome *replay.Outcome
}

// Passed reports whether the case ran and every expectation held.
func (r *CaseResult) Passed() bool { return r.Err == nil && len(r.Failures) == 0 }

// Where names the case for people: suite:line: "name".
func (r *CaseResult) Where() string { return fmt.Sprintf("%s:%d: %q", r.Suite, r.Line, r.Name) }

// Runner runs cases, reusing environments and compiled rule files across
// cases and suites that share them.
type Runner struct {
	envs      map[string]*replay.Env
	pipelines map[string]*engine.Pipeline
	perr      map[string]error
}

// NewRunner returns a Runner; Close it when done.
func NewRunner() *Runner {
	return &Runner{envs: map[string]*replay.Env{}, pipelines: map[string]*engine.Pipeline{}, perr: map[string]error{}}
}

// Close releases the environments.
func (r *Runner) Close() {
	for _, e := range r.envs {
		e.Close()
	}
}

// Run runs the selected cases of a suite file.
func (r *Runner) Run(f *File, opts Options) []*CaseResult {
	var out []*CaseResult
	for i := range f.Cases {
		c := &f.Cases[i]
		if opts.Run != nil && !opts.Run.MatchString(c.Name) {
			continue
		}
		res := &CaseResult{Suite: f.path, Name: c.Name, Line: c.line}
		res.Err = r.runCase(f, c, res)
		out = append(out, res)
	}
	return out
}

// resolve makes a suite-relative path usable from the working directory.
func (f *File) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(f.path), p)
}

// merged returns the case's settings over the suite's.
func (f *File) merged(c *Case) Settings {
	s := f.Settings
	if c.Rules != "" {
		s.Rules = c.Rules
	}
	if c.Direction != "" {
		s.Direction = c.Direction
	}
	if c.Now != "" {
		s.Now = c.Now
	}
	if c.Trust != "" {
		s.Trust = c.Trust
	}
	if c.X5U != nil {
		s.X5U = c.X5U
	}
	if c.Sign != nil {
		s.Sign = c.Sign
	}
	return s
}

// config turns settings into a replay configuration with resolved paths.
func (f *File) config(s Settings) (replay.Config, error) {
	var cfg replay.Config
	dir, ok := rules.ParseDirection(s.Direction)
	if !ok {
		return cfg, fmt.Errorf("invalid direction %q: use inbound, outbound or any", s.Direction)
	}
	if s.Direction == "" {
		dir = rules.Inbound
	}
	cfg.Direction = dir
	if s.Now != "" {
		t, err := ParseTime(s.Now)
		if err != nil {
			return cfg, fmt.Errorf("now: %v", err)
		}
		cfg.Now, cfg.NowLabel = t, "now in the suite"
	}
	cfg.TrustDir = f.resolve(s.Trust)
	if len(s.X5U) > 0 {
		cfg.X5U = map[string]string{}
		for url, p := range s.X5U {
			cfg.X5U[url] = f.resolve(p)
		}
	}
	if s.Sign != nil {
		cfg.SignKey, cfg.SignX5U = f.resolve(s.Sign.Key), s.Sign.X5U
	}
	return cfg, nil
}

// ParseTime reads a clock value: RFC 3339, or @ and Unix seconds.
func ParseTime(s string) (time.Time, error) { return replay.ParseTime(s) }

func (r *Runner) env(cfg replay.Config) (*replay.Env, error) {
	key, _ := json.Marshal(cfg)
	if e, ok := r.envs[string(key)]; ok {
		return e, nil
	}
	e, err := replay.NewEnv(cfg)
	if err != nil {
		return nil, err
	}
	r.envs[string(key)] = e
	return e, nil
}

func (r *Runner) pipeline(envKey *replay.Env, path string) (*engine.Pipeline, error) {
	key := fmt.Sprintf("%p\x00%s", envKey, path)
	if p, ok := r.pipelines[key]; ok {
		return p, nil
	}
	if err, ok := r.perr[key]; ok {
		return nil, err
	}
	p, err := envKey.Compile(path)
	if err != nil {
		r.perr[key] = err
		return nil, err
	}
	r.pipelines[key] = p
	return p, nil
}

func (r *Runner) runCase(f *File, c *Case, res *CaseResult) error {
	s := f.merged(c)
	if s.Rules == "" {
		return fmt.Errorf("no rules file: set rules: in the suite or the case")
	}
	cfg, err := f.config(s)
	if err != nil {
		return err
	}
	env, err := r.env(cfg)
	if err != nil {
		return err
	}
	p, err := r.pipeline(env, f.resolve(s.Rules))
	if err != nil {
		return fmt.Errorf("rule file does not compile:\n%v", err)
	}
	m, err := f.invite(c)
	if err != nil {
		return err
	}
	o, err := env.Run(p, m)
	if err != nil {
		return err
	}
	res.Outcome = o
	res.Failures = check(&c.Expect, o, env)
	return nil
}

// invite reads the case's INVITE from its file or inline text.
func (f *File) invite(c *Case) (*capture.Message, error) {
	var (
		msgs []*capture.Message
		err  error
	)
	if strings.ContainsAny(c.Invite, "\r\n") {
		msgs, _, err = capture.ReadAll("inline", strings.NewReader(c.Invite))
	} else {
		path := f.resolve(c.Invite)
		err = func() error {
			_, rerr := capture.ReadFile(path, nil, func(m *capture.Message) error {
				msgs = append(msgs, m)
				return nil
			})
			return rerr
		}()
	}
	if err != nil {
		return nil, fmt.Errorf("invite: %v", err)
	}
	var invites []*capture.Message
	for _, m := range msgs {
		if m.Err != nil {
			return nil, fmt.Errorf("invite %s: %v", m.Source, m.Err)
		}
		if m.IsInvite() {
			invites = append(invites, m)
		}
	}
	idx := c.Index
	if idx == 0 {
		if len(invites) > 1 {
			return nil, fmt.Errorf("invite holds %d INVITEs: choose one with index: N", len(invites))
		}
		idx = 1
	}
	if idx < 1 || idx > len(invites) {
		return nil, fmt.Errorf("invite holds %d INVITEs, no INVITE number %d", len(invites), idx)
	}
	return invites[idx-1], nil
}

// check compares an outcome with the expectations and returns what did not
// hold, each as "what: expected X, got Y".
func check(e *Expect, o *replay.Outcome, env *replay.Env) []string {
	var fails []string
	failf := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	d := replay.DispositionOf(o.Result.Disposition)
	if e.Disposition != "" && e.Disposition != d.Kind {
		failf("disposition: expected %s, got %s", e.Disposition, describe(d))
	}
	if e.Status != 0 && e.Status != d.Status {
		failf("status: expected %d, got %d (%s)", e.Status, d.Status, describe(d))
	}
	if e.Reason != "" && e.Reason != d.Reason {
		failf("reason: expected %q, got %q", e.Reason, d.Reason)
	}
	if e.Target != nil && *e.Target != d.Target {
		failf("target: expected %q, got %q", *e.Target, d.Target)
	}
	for _, name := range sortedKeys(e.Variables) {
		want := e.Variables[name]
		got, ok := o.Call.Var(name)
		if !ok {
			failf("variable %s: expected %q, but the rules know no such variable", name, want)
			continue
		}
		if got != want {
			failf("variable %s: expected %q, got %q", name, want, got)
		}
	}
	req := o.Call.Request
	values := func(name string) []string { return headerValues(req, name) }
	for _, name := range sortedKeys(e.Headers) {
		want, got := e.Headers[name], values(name)
		switch {
		case len(got) == 0:
			failf("header %s: expected %s, but it is absent", name, quoteList(want))
		case len(want) == 1 && want[0] != got[0]:
			failf("header %s: expected %q, got %q", name, want[0], got[0])
		case len(want) > 1 && !equal(want, got):
			failf("header %s: expected %s, got %s", name, quoteList(want), quoteList(got))
		}
	}
	for _, name := range e.HeadersPresent {
		if len(values(name)) == 0 {
			failf("header %s: expected present, but it is absent", name)
		}
	}
	for _, name := range e.HeadersAbsent {
		if got := values(name); len(got) > 0 {
			failf("header %s: expected absent, got %s", name, quoteList(got))
		}
	}
	for _, name := range sortedKeys(e.HeadersMatch) {
		re, err := regexp.Compile(e.HeadersMatch[name])
		if err != nil {
			failf("headers_match %s: invalid regular expression: %v", name, err)
			continue
		}
		got := values(name)
		if len(got) == 0 {
			failf("header %s: expected to match %q, but it is absent", name, re)
		} else if !re.MatchString(got[0]) {
			failf("header %s: expected to match %q, got %q", name, re, got[0])
		}
	}
	for _, v := range []struct {
		what, varName string
		want          *string
	}{
		{"display name", "from_display", e.DisplayName},
		{"from user", "from_user", e.FromUser},
		{"to user", "to_user", e.ToUser},
		{"Request-URI", "ruri", e.RURI},
		{"Request-URI user", "ruri_user", e.RURIUser},
	} {
		if v.want == nil {
			continue
		}
		if got, _ := o.Call.Var(v.varName); got != *v.want {
			failf("%s: expected %q, got %q", v.what, *v.want, got)
		}
	}
	if e.Identity != nil {
		fails = append(fails, checkIdentity(e.Identity, o, env)...)
	}
	return fails
}

// checkIdentity checks the PASSporT of the last Identity header.
func checkIdentity(e *IdentityExpect, o *replay.Outcome, env *replay.Env) []string {
	req := o.Call.Request
	all := headerValues(req, "Identity")
	if len(all) == 0 {
		return []string{"identity: expected an Identity header, but there is none"}
	}
	value := all[len(all)-1]
	id, err := stir.ParseIdentity(value)
	if err != nil {
		return []string{fmt.Sprintf("identity: the Identity header does not parse: %v", err)}
	}
	pp, err := stir.ParsePASSporT(id.Token)
	if err != nil {
		return []string{fmt.Sprintf("identity: the PASSporT does not parse: %v", err)}
	}
	var fails []string
	failf := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	if e.Attest != "" && e.Attest != pp.Claims.Attest {
		failf("identity attest: expected %q, got %q", e.Attest, pp.Claims.Attest)
	}
	if e.Orig != "" && e.Orig != pp.Claims.Orig {
		failf("identity orig.tn: expected %q, got %q", e.Orig, pp.Claims.Orig)
	}
	if len(e.Dest) > 0 && !equal(e.Dest, pp.Claims.Dest) {
		failf("identity dest.tn: expected %s, got %s", quoteList(e.Dest), quoteList(pp.Claims.Dest))
	}
	if e.OrigID != nil && *e.OrigID != pp.Claims.OrigID {
		failf("identity origid: expected %q, got %q", *e.OrigID, pp.Claims.OrigID)
	}
	if e.X5U != "" && e.X5U != pp.Header.X5U {
		failf("identity x5u: expected %q, got %q", e.X5U, pp.Header.X5U)
	}
	if e.Verified {
		res := env.Verify(req, all, o.Now)
		if res.Verstat != stir.VerstatPassed {
			failf("identity: expected it to verify, got %s: %s", res.Verstat, res.Error)
		}
	}
	return fails
}

func describe(d replay.Disposition) string {
	switch d.Kind {
	case "reject":
		return fmt.Sprintf("reject %d %s", d.Status, d.Reason)
	case "redirect":
		return fmt.Sprintf("redirect %d to %s", d.Status, d.Target)
	}
	if d.Target != "" {
		return "forward to " + d.Target
	}
	return "forward"
}

func equal(a, b []string) bool {
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

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// headerValues returns the values of every instance of a header, matched
// case-insensitively and through compact forms.
func headerValues(req *sip.Request, name string) []string {
	n := sipmsg.MakeName(name)
	var out []string
	for _, h := range req.Headers() {
		if n.Matches(h.Name()) {
			out = append(out, h.Value())
		}
	}
	return out
}

var unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type suite\.(\w+)`)

// sections names the suite types as an author knows them, with their keys.
var sections = map[string]struct {
	name string
	typ  reflect.Type
}{
	"File":           {"the suite", reflect.TypeOf(File{})},
	"Case":           {"a case", reflect.TypeOf(Case{})},
	"Expect":         {"expect", reflect.TypeOf(Expect{})},
	"IdentityExpect": {"expect.identity", reflect.TypeOf(IdentityExpect{})},
	"Sign":           {"sign", reflect.TypeOf(Sign{})},
}

// explainYAML rewrites yaml.v3's errors about unknown keys into the suite's
// terms with a "did you mean" hint: a misspelt expectation must not pass
// silently, and the author must see which key was meant.
func explainYAML(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return unknownFieldRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := unknownFieldRE.FindStringSubmatch(m)
		sec, ok := sections[sub[3]]
		if !ok {
			return m
		}
		keys := yamlKeys(sec.typ)
		out := fmt.Sprintf("line %s: unknown key %q in %s", sub[1], sub[2], sec.name)
		if h := suggest.Hint(sub[2], keys); h != "" {
			return out + " (" + h + ")"
		}
		return out + " (keys: " + strings.Join(keys, ", ") + ")"
	})
}

// yamlKeys lists the YAML keys of a struct type, inlined structs included.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case opts == "inline":
			keys = append(keys, yamlKeys(f.Type)...)
		case name != "" && name != "-":
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}
