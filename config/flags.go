package config

import (
	"flag"
	"fmt"
	"strings"
)

// Flags are the command-line overrides of `xformd serve`. Register them on a
// FlagSet, parse, then call Build. Each field holds the flag of the same
// name (see Register); empty values leave the configuration as it is.
type Flags struct {
	// Config is --config, the YAML file to start from.
	Config string
	// Rules is --rules, FILE or inbound=FILE / outbound=FILE, repeatable.
	Rules multi
	// Listen is --listen, replacing sip.listen when given.
	Listen multi
	// Mode, NextHop, Admin and AdminToken override sip.mode, sip.next_hop,
	// admin.listen ("off" disables it) and admin.token.
	Mode, NextHop, Admin, AdminToken string
	// Trust overrides stir.trust_dir; X5U adds URL=PATH static certificates.
	Trust string
	X5U   multi
	// CDR, LogLevel and LogFormat override cdr.path, log.level, log.format.
	CDR, LogLevel, LogFormat string
	// SignKey and SignX5U override stir.sign_key and stir.sign_x5u.
	SignKey, SignX5U string
	// AllowHTTP and AllowPriv override stir.allow_http and
	// stir.allow_private when the flags are given.
	AllowHTTP, AllowPriv bool
	// Pprof overrides admin.pprof when the flag is given.
	Pprof bool

	fs *flag.FlagSet
}

// multi is a repeatable string flag.
type multi []string

// String joins the values, for flag's usage output.
func (m *multi) String() string { return strings.Join(*m, ",") }

// Set appends one occurrence of the flag.
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Config, "config", "", "YAML configuration `file` (default: the built-in configuration, see docs/serve.md)")
	fs.Var(&f.Rules, "rules", "rule `file` for every call, or inbound=FILE / outbound=FILE (repeatable)")
	fs.Var(&f.Listen, "listen", "SIP listener `transport:host:port`, e.g. udp:127.0.0.1:5060 (repeatable; replaces sip.listen)")
	fs.StringVar(&f.Mode, "mode", "", "`redirect` or proxy")
	fs.StringVar(&f.NextHop, "next-hop", "", "proxy mode default next hop `URI`, e.g. sip:10.0.0.20:5060")
	fs.StringVar(&f.Admin, "admin", "", "admin HTTP `host:port` (\"off\" disables it)")
	fs.StringVar(&f.AdminToken, "admin-token", "", "bearer `token` required by the admin API")
	fs.StringVar(&f.Trust, "trust", "", "`directory` of PEM STIR trust anchors")
	fs.Var(&f.X5U, "x5u", "serve certificate `URL=PATH` from a local PEM file instead of fetching it (repeatable)")
	fs.StringVar(&f.CDR, "cdr", "", "CDR `file` (\"-\" for standard output)")
	fs.StringVar(&f.LogLevel, "log-level", "", "log `level`: debug, info, warn, error")
	fs.StringVar(&f.LogFormat, "log-format", "", "log `format`: text or json")
	fs.StringVar(&f.SignKey, "sign-key", "", "STIR signing key `file` (PEM P-256)")
	fs.StringVar(&f.SignX5U, "sign-x5u", "", "certificate `URL` of the signing key")
	fs.BoolVar(&f.AllowHTTP, "allow-http", false, "allow fetching certificates over plain http")
	fs.BoolVar(&f.AllowPriv, "allow-private", false, "allow fetching certificates from loopback and private addresses")
	fs.BoolVar(&f.Pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the admin API")
	f.fs = fs
}

// Build loads the configuration (the --config file or the built-in
// default), applies the flags that were given, and validates the result.
func (f *Flags) Build() (*Config, error) {
	var c *Config
	var err error
	if f.Config != "" {
		c, err = Load(f.Config)
	} else {
		c, err = Default()
	}
	if err != nil {
		return nil, err
	}
	if err := f.Apply(c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Apply writes the flags that were set on the command line over c. Paths
// given as flags are relative to the working directory.
func (f *Flags) Apply(c *Config) error {
	visited := map[string]bool{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { visited[fl.Name] = true })
	}
	for _, r := range f.Rules {
		dir, file, ok := strings.Cut(r, "=")
		if !ok {
			c.Rules.Inbound, c.Rules.Outbound = r, ""
			continue
		}
		switch dir {
		case "inbound", "in":
			c.Rules.Inbound = file
		case "outbound", "out":
			c.Rules.Outbound = file
		default:
			return fmt.Errorf("--rules %s: want FILE, inbound=FILE or outbound=FILE", r)
		}
	}
	if len(f.Listen) > 0 {
		c.SIP.Listen = append([]string(nil), f.Listen...)
	}
	if f.Mode != "" {
		c.SIP.Mode = Mode(strings.ToLower(f.Mode))
	}
	if f.NextHop != "" {
		c.SIP.NextHop = f.NextHop
	}
	if f.Admin != "" {
		if f.Admin == "off" {
			c.Admin.Listen = ""
		} else {
			c.Admin.Listen = f.Admin
		}
	}
	if f.AdminToken != "" {
		c.Admin.Token = f.AdminToken
	}
	if f.Trust != "" {
		c.STIR.TrustDir = f.Trust
	}
	for _, x := range f.X5U {
		url, path, ok := strings.Cut(x, "=")
		if !ok || url == "" || path == "" {
			return fmt.Errorf("--x5u %s: want URL=PATH", x)
		}
		if c.STIR.StaticCerts == nil {
			c.STIR.StaticCerts = map[string]string{}
		}
		c.STIR.StaticCerts[url] = path
	}
	if f.CDR != "" {
		c.CDR.Path = f.CDR
	}
	if f.LogLevel != "" {
		c.Log.Level = f.LogLevel
	}
	if f.LogFormat != "" {
		c.Log.Format = f.LogFormat
	}
	if f.SignKey != "" {
		c.STIR.SignKey = f.SignKey
	}
	if f.SignX5U != "" {
		c.STIR.SignX5U = f.SignX5U
	}
	if visited["allow-http"] {
		c.STIR.AllowHTTP = f.AllowHTTP
	}
	if visited["allow-private"] {
		c.STIR.AllowPrivate = f.AllowPriv
	}
	if visited["pprof"] {
		c.Admin.Pprof = f.Pprof
	}
	return nil
}
