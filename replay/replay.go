// Package replay runs captured INVITEs through a compiled rule pipeline the
// way the daemon would, offline and deterministically, and reports what
// happened: the trace of every rule, the variables set, the disposition and
// the message before and after. It is the engine of `xformd dryrun` and of
// `xformd test` suites.
package replay

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/stir"
)

// Config is how calls are replayed: direction, the STIR trust and
// certificate sources (offline by default), the signing credentials, and the
// clock.
type Config struct {
	// Direction of the replayed calls; rules.Any runs every rule.
	Direction rules.Direction
	// TrustDir holds the trust anchors (PEM files) for stir_validate.
	TrustDir string
	// X5U resolves certificate URLs from local PEM files.
	X5U map[string]string
	// AllowFetch lets stir_validate fetch certificates over the network;
	// off by default so that a dry run never leaves the machine.
	AllowFetch bool
	// SignKey and SignX5U are the private key file and certificate URL for
	// stir_sign; both empty means stir_sign is not configured.
	SignKey, SignX5U string
	// Now fixes the verification and signing time; zero means: the packet
	// time, else the INVITE's Date header, else the current time.
	Now time.Time
	// NowLabel says where a fixed Now came from in reports; default
	// "--now".
	NowLabel string
	// Timeout bounds one call's run (certificate fetches); default 5s.
	Timeout time.Duration
}

// ParseTime reads a clock value as operators write it: RFC 3339
// (2026-01-15T10:00:00Z) or @ followed by Unix seconds (@1768471200).
func ParseTime(s string) (time.Time, error) {
	if secs, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(secs, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid time %q: after @ write Unix seconds, e.g. @1768471200", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: write RFC 3339 (2026-01-15T10:00:00Z) or @ and Unix seconds", s)
	}
	return t, nil
}

// Env is a configured replay environment: the action registry wired with
// the STIR services. It is built once and used for many calls.
type Env struct {
	cfg      Config
	verifier *stir.Verifier
	// Registry holds the built-in actions wired to the environment's STIR
	// verifier and signer.
	Registry *engine.Registry
}

// Close releases the verifier's certificate cache.
func (e *Env) Close() {
	if e.verifier != nil {
		e.verifier.Close()
	}
}

// NewEnv builds the registry for cfg: a STIR verifier that resolves
// certificates from cfg.X5U (and fetches only with AllowFetch) and trusts
// cfg.TrustDir, and a signer when a key is given.
func NewEnv(cfg Config) (*Env, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	for url, path := range cfg.X5U {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("certificate file for %s: %w", url, err)
		}
	}
	if cfg.TrustDir != "" {
		st, err := os.Stat(cfg.TrustDir)
		if err != nil {
			return nil, fmt.Errorf("trust directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("trust directory %s is not a directory (put the trust anchor PEM files in a directory)", cfg.TrustDir)
		}
	}
	if (cfg.SignKey == "") != (cfg.SignX5U == "") {
		return nil, fmt.Errorf("signing needs both a key file and a certificate URL (x5u)")
	}
	ver, err := stir.NewVerifier(stir.Config{
		TrustDir:   cfg.TrustDir,
		Static:     cfg.X5U,
		AllowFetch: cfg.AllowFetch,
	})
	if err != nil {
		return nil, fmt.Errorf("STIR verifier: %w", err)
	}
	opts := actions.Options{Verifier: ver}
	if cfg.SignKey != "" {
		s, err := stir.LoadSigner(cfg.SignKey, cfg.SignX5U)
		if err != nil {
			ver.Close()
			return nil, fmt.Errorf("STIR signer: %w", err)
		}
		opts.Signer = s
	}
	return &Env{cfg: cfg, verifier: ver, Registry: actions.Builtin(opts)}, nil
}

// Compile loads and compiles a rule file with the environment's registry.
// Errors are a rules.ErrorList with positions.
func (e *Env) Compile(path string) (*engine.Pipeline, error) {
	f, err := rules.LoadFile(path)
	if f == nil {
		return nil, err
	}
	p, cerr := compile(e, f)
	if err == nil && cerr == nil {
		return p, nil
	}
	all := append(rules.ErrorList{}, rules.Errors(err)...)
	all = append(all, rules.Errors(cerr)...)
	return nil, all.Err()
}

func compile(e *Env, f *rules.File) (*engine.Pipeline, error) {
	return engine.Compile(f, e.Registry, engine.Options{})
}

// Outcome is what replaying one INVITE produced.
type Outcome struct {
	// Message is the capture message that was replayed.
	Message *capture.Message
	// Now is the clock the call ran with, and NowSource says where it came
	// from: "--now", "packet time", "Date header" or "current time".
	Now       time.Time
	NowSource string
	// Call is the call after the run: Request is the final message, and
	// Var/SetVars give variables.
	Call *engine.Call
	// Result is the disposition and the per-rule trace.
	Result engine.Result
	// Before and After are the start line and header lines of the message
	// before and after the rules ran.
	Before, After []string

	final string
}

// Final returns the SIP message text after the rules ran.
func (o *Outcome) Final() string { return o.final }

// Variables returns the variables rules set, by name.
func (o *Outcome) Variables() map[string]string { return o.Call.SetVars() }

// Clock returns the time a call is to run at: cfg.Now, else the packet
// time, else the INVITE's Date header, else the current time.
func (e *Env) Clock(m *capture.Message) (time.Time, string) {
	switch {
	case !e.cfg.Now.IsZero():
		if e.cfg.NowLabel != "" {
			return e.cfg.Now, e.cfg.NowLabel
		}
		return e.cfg.Now, "--now"
	case !m.Time.IsZero():
		return m.Time, "packet time"
	}
	if m.Request != nil {
		if h := m.Request.GetHeader("Date"); h != nil {
			if t, err := http.ParseTime(strings.TrimSpace(h.Value())); err == nil {
				return t, "Date header"
			}
		}
	}
	return time.Now(), "current time"
}

// Run replays one INVITE through p. The message's request is changed in
// place; Before keeps what it was. m must be an INVITE (m.IsInvite()). The
// error is set only if replaying failed outside the actions (which the
// engine already guards); captures are untrusted, so it is reported rather
// than allowed to end a dry run.
func (e *Env) Run(p *engine.Pipeline, m *capture.Message) (*Outcome, error) {
	now, src := e.Clock(m)
	return e.RunAt(p, m, now, src)
}

// RunAt is Run with an explicit clock.
func (e *Env) RunAt(p *engine.Pipeline, m *capture.Message, now time.Time, nowSource string) (o *Outcome, err error) {
	defer func() {
		if v := recover(); v != nil {
			o, err = nil, fmt.Errorf("replaying %s failed: %v", m.Source, v)
		}
	}()
	req := m.Request
	o = &Outcome{Message: m, Now: now, NowSource: nowSource, Before: HeaderLines(req)}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	c := engine.NewCall(req)
	c.Direction = e.cfg.Direction
	c.Now = now
	c.Context = ctx
	c.Tracing = true
	if m.Transport != "" {
		c.Transport = m.Transport
	}
	if m.Src.IsValid() {
		c.Source = m.Src
	}
	o.Result = p.Run(c)
	o.Call = c
	o.After = HeaderLines(req)
	o.final = req.String()
	return o, nil
}

// HeaderLines returns a request's start line and its header lines in
// order, as "Name: value".
func HeaderLines(req *sip.Request) []string {
	lines := []string{req.StartLine()}
	for _, h := range req.Headers() {
		lines = append(lines, h.Name()+": "+h.Value())
	}
	return lines
}

// DiffLine is one line of a header diff.
type DiffLine struct {
	// Op is ' ' (unchanged), '-' (removed) or '+' (added).
	Op   byte
	Text string
}

// Diff compares two lists of header lines with a longest common
// subsequence, so that a changed header shows as one removal and one
// addition in place.
func Diff(before, after []string) []DiffLine {
	n, m := len(before), len(after)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if before[i] == after[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []DiffLine
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && before[i] == after[j]:
			out = append(out, DiffLine{' ', before[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, DiffLine{'-', before[i]})
			i++
		default:
			out = append(out, DiffLine{'+', after[j]})
			j++
		}
	}
	return out
}

// Changed reports whether a diff has any removed or added line.
func Changed(d []DiffLine) bool {
	for _, l := range d {
		if l.Op != ' ' {
			return true
		}
	}
	return false
}

// UsesAction reports whether a rule file names an action, at top level or
// nested in a condition; used to warn when stir_validate runs without trust
// anchors.
func UsesAction(f *rules.File, action string) bool {
	for _, r := range f.Rules {
		if r.Action.Text == action {
			return true
		}
		for _, o := range r.Operands {
			if o.Text == action {
				return true
			}
		}
	}
	return false
}

// Warnings points out configurations that make a dry run misleading: STIR
// actions without their trust or key, or a direction no rule runs in.
func Warnings(f *rules.File, cfg Config) []string {
	var out []string
	if UsesAction(f, "stir_validate") && cfg.TrustDir == "" && len(cfg.X5U) == 0 && !cfg.AllowFetch {
		out = append(out, "the rules use stir_validate but no --trust, --x5u or --allow-fetch was given; signed calls will fail verification")
	}
	if UsesAction(f, "stir_sign") && cfg.SignKey == "" {
		out = append(out, "the rules use stir_sign but no --sign-key and --sign-x5u were given; signing steps will fail")
	}
	if cfg.Direction != rules.Any && len(f.Rules) > 0 {
		runs := false
		for _, r := range f.Rules {
			if r.Direction == rules.Any || r.Direction == cfg.Direction {
				runs = true
				break
			}
		}
		if !runs {
			out = append(out, fmt.Sprintf("no rule runs on %s calls; use --direction to replay the other direction", cfg.Direction))
		}
	}
	return out
}

// SortedKeys returns a map's keys in order, for stable output.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Verify runs the environment's STIR verifier at now on the given Identity
// header values of req, with the caller and called numbers taken from req
// as stir_validate takes them. Test suites use it to check what stir_sign
// made.
func (e *Env) Verify(req *sip.Request, identities []string, now time.Time) stir.Result {
	in := actions.STIRInput(req, now)
	in.Identities = identities
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	return e.verifier.Verify(ctx, in)
}
