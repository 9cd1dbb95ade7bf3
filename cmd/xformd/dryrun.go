package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/replay"
	"github.com/xformd/xformd/rules"
)

// Exit statuses of dryrun, as documented in docs/operators.md.
const (
	exitOK          = 0
	exitRuleErrors  = 1
	exitUsage       = 2
	exitBadCaptures = 3
)

// x5uFlag collects repeated --x5u URL=PATH flags.
type x5uFlag map[string]string

// String shows the mappings, for flag's defaults.
func (f x5uFlag) String() string { return fmt.Sprint(map[string]string(f)) }

// Set adds one URL=PATH mapping.
func (f x5uFlag) Set(v string) error {
	url, path, ok := strings.Cut(v, "=")
	if !ok || url == "" || path == "" {
		return fmt.Errorf("want URL=PATH, e.g. https://cert.example.org/sp.pem=pki/sp.pem")
	}
	f[url] = path
	return nil
}

// parseNow reads --now: RFC 3339, or @ and Unix seconds; "" is zero.
func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := replay.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--now: %v", err)
	}
	return t, nil
}

// parseInterspersed parses flags that may come after positional
// arguments (xformd dryrun capture.sip --rules r.json) and returns the
// positional ones. "-" is positional (stdin).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// isTerminal reports whether w is a terminal, for colour.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runDryrun replays captured INVITEs through a rule file and reports each
// step. Exit 0 when every capture was processed, 1 on rule file errors, 2
// on usage errors, 3 when some capture or message could not be parsed.
func runDryrun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dryrun", stderr)
	rulesPath := fs.String("rules", "", "rule file (JSON or YAML) to run; required")
	direction := fs.String("direction", "inbound", "direction of the captured calls: inbound, outbound or any")
	trust := fs.String("trust", "", "directory of trust anchor PEM files for stir_validate")
	x5u := x5uFlag{}
	fs.Var(x5u, "x5u", "URL=PATH: serve that certificate URL from a local PEM file (repeatable)")
	allowFetch := fs.Bool("allow-fetch", false, "let stir_validate fetch certificates over the network (off: dry runs stay offline)")
	nowFlag := fs.String("now", "", "verification/signing time, RFC 3339 or @unix-seconds (default: packet time, else Date header, else now)")
	format := fs.String("format", "text", "output format: text or json (one object per INVITE per line)")
	signKey := fs.String("sign-key", "", "private key PEM for stir_sign")
	signX5U := fs.String("sign-x5u", "", "certificate URL that stir_sign puts in the Identity header")
	color := fs.String("color", "auto", "colour text output: auto (on a terminal), always or never")
	setUsage(fs, stderr,
		"usage: xformd dryrun --rules FILE [--direction inbound|outbound] [--trust DIR] [--x5u URL=PATH]... [--now TIME] [--format text|json] CAPTURE...",
		"\nReplays the INVITEs of each CAPTURE (SIP text, '-' for stdin, or pcap/pcapng) through the rules and shows",
		"every step, the variables, the disposition and the header changes. No network is used unless --allow-fetch.",
		"Exit status: 0 processed, 1 rule file errors, 2 usage errors, 3 some captures could not be parsed.",
		"")
	captures, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xformd dryrun: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'xformd dryrun -h' for usage")
		return exitUsage
	}
	if *rulesPath == "" {
		return usageErr("--rules FILE is required")
	}
	if len(captures) == 0 {
		return usageErr("no CAPTURE given (a SIP text file, '-' for stdin, or a pcap/pcapng file)")
	}
	dir, ok := rules.ParseDirection(*direction)
	if !ok {
		return usageErr("invalid --direction %q: use inbound, outbound or any", *direction)
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return usageErr("%v", err)
	}
	if *format != "text" && *format != "json" {
		return usageErr("invalid --format %q: use text or json", *format)
	}
	style := replay.Style{}
	switch *color {
	case "always":
		style.Color = true
	case "never":
	case "auto":
		style.Color = isTerminal(stdout) && os.Getenv("NO_COLOR") == ""
	default:
		return usageErr("invalid --color %q: use auto, always or never", *color)
	}
	env, err := replay.NewEnv(replay.Config{
		Direction: dir, TrustDir: *trust, X5U: x5u, AllowFetch: *allowFetch,
		SignKey: *signKey, SignX5U: *signX5U, Now: now,
	})
	if err != nil {
		return usageErr("%v", err)
	}
	defer env.Close()
	pipeline, err := env.Compile(*rulesPath)
	if err != nil {
		for _, e := range rules.Errors(err) {
			fmt.Fprintln(stderr, e.Error())
		}
		return exitRuleErrors
	}
	if f, err := rules.LoadFile(*rulesPath); err == nil {
		for _, w := range replay.Warnings(f, replay.Config{Direction: dir, TrustDir: *trust, X5U: x5u, AllowFetch: *allowFetch, SignKey: *signKey}) {
			fmt.Fprintf(stderr, "xformd dryrun: warning: %s\n", w)
		}
	}
	status := exitOK
	for _, path := range captures {
		// A pcap holds much besides INVITEs (OPTIONS pings, responses):
		// they are counted and summed up once instead of a line each.
		skipped := map[string]int{}
		st, err := capture.ReadFile(path, os.Stdin, func(m *capture.Message) error {
			if m.Err == nil && !m.IsInvite() && m.Transport != "" {
				kind := m.Method
				if kind == "" {
					kind = "responses"
				}
				skipped[kind]++
				return nil
			}
			if m.Err != nil {
				status = exitBadCaptures
				if *format == "json" {
					return replay.WriteJSONError(stdout, m)
				}
				return replay.WriteTextSkipped(stdout, m, style)
			}
			if !m.IsInvite() {
				if *format == "json" {
					fmt.Fprintf(stderr, "%s: %s\n", m.Source, m.Note)
					return nil
				}
				return replay.WriteTextSkipped(stdout, m, style)
			}
			o, err := env.Run(pipeline, m)
			if err != nil {
				status = exitBadCaptures
				m.Err = err
				if *format == "json" {
					return replay.WriteJSONError(stdout, m)
				}
				return replay.WriteTextSkipped(stdout, m, style)
			}
			if *format == "json" {
				return replay.WriteJSON(stdout, o)
			}
			return replay.WriteText(stdout, o, style)
		})
		if err != nil {
			fmt.Fprintf(stderr, "xformd dryrun: %s: %v\n", path, err)
			if *format == "json" {
				_ = replay.WriteJSONError(stdout, &capture.Message{Source: path, Err: err})
			}
			status = exitBadCaptures
			continue
		}
		if len(skipped) > 0 {
			var parts []string
			for _, k := range replay.SortedKeys(skipped) {
				parts = append(parts, fmt.Sprintf("%d %s", skipped[k], k))
			}
			fmt.Fprintf(stderr, "xformd dryrun: %s: %d INVITEs replayed; skipped %s\n", path, st.Invites, strings.Join(parts, ", "))
		}
		if st.Truncated > 0 {
			fmt.Fprintf(stderr, "xformd dryrun: %s: %d packets were cut short by the capture's snap length; SIP in them cannot be read whole (capture with tcpdump -s 0)\n", path, st.Truncated)
		}
		if st.Messages == 0 {
			what := "no SIP messages found"
			if st.Format != capture.Text {
				what = fmt.Sprintf("no SIP messages found in %d packets (SIP over UDP/TCP only; TLS, SCTP and WebSocket cannot be read)", st.Packets)
			}
			fmt.Fprintf(stderr, "xformd dryrun: %s: %s\n", path, what)
		} else if st.Invites == 0 && st.Errors == 0 {
			fmt.Fprintf(stderr, "xformd dryrun: %s: no INVITEs among %d SIP messages\n", path, st.Messages)
		}
	}
	return status
}
