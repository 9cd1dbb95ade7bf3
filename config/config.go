// Package config is the configuration of `xformd serve`: a YAML file with
// an embedded default, overridden by command-line flags, validated as a
// whole before anything starts.
//
// Relative paths in a configuration file are resolved against the
// directory of that file, so a config and its rule files can move together;
// paths in the embedded default and in flags are resolved against the
// working directory.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// MaxUDPSize is the largest UDP payload (IPv4, 65535 minus headers).
const MaxUDPSize = 65507

// Mode is how the daemon answers INVITEs.
type Mode string

// The modes.
const (
	// Redirect answers every INVITE itself: 302 to the upstream SBC,
	// which places the call with the headers the rules set.
	Redirect Mode = "redirect"
	// Proxy forwards the rewritten INVITE statefully.
	Proxy Mode = "proxy"
)

// Config is the whole daemon configuration.
type Config struct {
	SIP        SIP        `yaml:"sip"`
	Rules      Rules      `yaml:"rules"`
	Directions Directions `yaml:"directions"`
	STIR       STIR       `yaml:"stir"`
	CDR        CDR        `yaml:"cdr"`
	Log        Log        `yaml:"log"`
	Admin      Admin      `yaml:"admin"`
	Limits     Limits     `yaml:"limits"`

	// Source is where the configuration came from: a file path, or
	// "(built-in default)".
	Source string `yaml:"-"`
}

// SIP configures the SIP side.
type SIP struct {
	// Listen holds transport:host:port entries (udp, tcp, tls).
	Listen []string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files for tls listeners.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Advertise is the host written in Via and Record-Route.
	Advertise string `yaml:"advertise"`
	Mode      Mode   `yaml:"mode"`
	// NextHop is the default destination in proxy mode (a SIP URI).
	NextHop string `yaml:"next_hop"`
	// UDPTCPThreshold: proxied requests larger than this go over TCP.
	UDPTCPThreshold int `yaml:"udp_tcp_threshold"`
	// UDPReaders is the number of sockets (SO_REUSEPORT, one reader
	// each) per UDP listener; 0 means one per CPU.
	UDPReaders int `yaml:"udp_readers"`
	// UDPReadBuffer is the kernel receive buffer of each UDP socket, in
	// bytes; 0 keeps the system default.
	UDPReadBuffer int `yaml:"udp_read_buffer"`
	// ProxyTimeout bounds the wait for a final response when proxying.
	ProxyTimeout time.Duration `yaml:"proxy_timeout"`
}

// Rules names the rule files.
type Rules struct {
	Inbound  string `yaml:"inbound"`
	Outbound string `yaml:"outbound"`
	// Watch reloads the files when they change, after Debounce.
	Watch        bool          `yaml:"watch"`
	Debounce     time.Duration `yaml:"debounce"`
	RegexTimeout time.Duration `yaml:"regex_timeout"`
}

// OutboundFile returns the rule file for outbound calls: Outbound, or the
// inbound file when no separate one is named.
func (r Rules) OutboundFile() string {
	if r.Outbound != "" {
		return r.Outbound
	}
	return r.Inbound
}

// Directions says which calls are outbound.
type Directions struct {
	// OutboundListeners are listen entries (as in SIP.Listen) whose calls
	// are outbound.
	OutboundListeners []string `yaml:"outbound_listeners"`
	// OutboundSources are networks (CIDR or single addresses) whose calls
	// are outbound.
	OutboundSources []string `yaml:"outbound_sources"`

	prefixes []netip.Prefix
}

// Prefixes returns OutboundSources parsed; valid after Validate.
func (d *Directions) Prefixes() []netip.Prefix { return d.prefixes }

// STIR configures verification and signing.
type STIR struct {
	TrustDir     string            `yaml:"trust_dir"`
	StaticCerts  map[string]string `yaml:"static_certs"`
	Fetch        bool              `yaml:"fetch"`
	AllowHTTP    bool              `yaml:"allow_http"`
	AllowPrivate bool              `yaml:"allow_private"`
	FetchTimeout time.Duration     `yaml:"fetch_timeout"`
	MaxCertSize  int64             `yaml:"max_cert_size"`
	Window       time.Duration     `yaml:"window"`
	CacheEntries int               `yaml:"cache_entries"`
	FailureTTL   time.Duration     `yaml:"failure_ttl"`
	SignKey      string            `yaml:"sign_key"`
	SignX5U      string            `yaml:"sign_x5u"`
}

// CDR configures call detail records.
type CDR struct {
	// Path is a file, "-" for standard output, or "" for none.
	Path string `yaml:"path"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// Admin configures the admin HTTP server.
type Admin struct {
	// Listen is host:port; empty disables the admin server.
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
	// Pprof mounts net/http/pprof under /debug/pprof/ on the admin API,
	// behind the same loopback default and bearer token.
	Pprof bool `yaml:"pprof"`
}

// Limits bound the work in progress.
type Limits struct {
	MaxCalls        int           `yaml:"max_calls"`
	RetryAfter      time.Duration `yaml:"retry_after"`
	CallTimeout     time.Duration `yaml:"call_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Listener is a parsed listen entry.
type Listener struct {
	// Network is udp, tcp or tls.
	Network string
	// Addr is host:port.
	Addr string
}

// String returns the entry as written: network:host:port.
func (l Listener) String() string { return l.Network + ":" + l.Addr }

// ParseListener reads a transport:host:port listen entry.
func ParseListener(s string) (Listener, error) {
	netw, addr, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Listener{}, fmt.Errorf("listen %q: want transport:host:port, e.g. udp:127.0.0.1:5060", s)
	}
	netw = strings.ToLower(netw)
	switch netw {
	case "udp", "tcp", "tls":
	default:
		return Listener{}, fmt.Errorf("listen %q: transport %q is not udp, tcp or tls", s, netw)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Listener{}, fmt.Errorf("listen %q: %v", s, err)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return Listener{}, fmt.Errorf("listen %q: host must be an IP address", s)
		}
	}
	if _, err := parsePort(port); err != nil {
		return Listener{}, fmt.Errorf("listen %q: %v", s, err)
	}
	return Listener{Network: netw, Addr: net.JoinHostPort(host, port)}, nil
}

func parsePort(p string) (int, error) {
	n := 0
	if p == "" || len(p) > 5 {
		return 0, fmt.Errorf("invalid port %q", p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, fmt.Errorf("invalid port %q", p)
		}
		n = n*10 + int(p[i]-'0')
	}
	if n > 65535 {
		return 0, fmt.Errorf("invalid port %q", p)
	}
	return n, nil
}

// Listeners returns the parsed SIP listeners; valid after Validate.
func (c *Config) Listeners() []Listener {
	out := make([]Listener, 0, len(c.SIP.Listen))
	for _, s := range c.SIP.Listen {
		if l, err := ParseListener(s); err == nil {
			out = append(out, l)
		}
	}
	return out
}

// Default returns the embedded default configuration, with relative paths
// resolved against the working directory.
func Default() (*Config, error) {
	return Parse(defaultYAML, "(built-in default)", "")
}

// Load reads a configuration file. Keys it leaves out keep their default
// values; relative paths are resolved against the file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, filepath.Dir(path))
}

// Parse reads configuration YAML over the embedded default. Unknown keys
// are errors (a misspelt key must not be silently ignored). baseDir is the
// directory relative paths are resolved against ("" for the working
// directory). The result is not yet validated: apply flag overrides, then
// call Validate.
func Parse(data []byte, source, baseDir string) (*Config, error) {
	c := &Config{}
	if err := decodeStrict(defaultYAML, c); err != nil {
		return nil, fmt.Errorf("config: built-in default: %w", err)
	}
	if source != "(built-in default)" {
		// yaml.v3 replaces lists (listen, ...) wholesale and merges maps.
		if err := decodeStrict(data, c); err != nil {
			return nil, fmt.Errorf("config %s: %w", source, err)
		}
	}
	c.Source = source
	c.resolvePaths(baseDir)
	return c, nil
}

func decodeStrict(data []byte, into any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	return nil
}

// resolvePaths makes the file paths of c relative to baseDir absolute (or
// cleaned, when baseDir is ""), leaving absolute paths and "-" alone.
func (c *Config) resolvePaths(baseDir string) {
	r := func(p *string) { *p = ResolvePath(baseDir, *p) }
	r(&c.SIP.TLSCert)
	r(&c.SIP.TLSKey)
	r(&c.Rules.Inbound)
	r(&c.Rules.Outbound)
	r(&c.STIR.TrustDir)
	r(&c.STIR.SignKey)
	if c.CDR.Path != "-" {
		r(&c.CDR.Path)
	}
	for k, v := range c.STIR.StaticCerts {
		c.STIR.StaticCerts[k] = ResolvePath(baseDir, v)
	}
}

// ResolvePath joins a relative path p to baseDir; "" stays "".
func ResolvePath(baseDir, p string) string {
	if p == "" || filepath.IsAbs(p) || baseDir == "" {
		return p
	}
	return filepath.Join(baseDir, p)
}

// Validate checks the whole configuration and reports every problem at
// once.
func (c *Config) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if len(c.SIP.Listen) == 0 {
		add("sip.listen: at least one listener is needed")
	}
	seen := map[string]bool{}
	hasTLS := false
	for _, s := range c.SIP.Listen {
		l, err := ParseListener(s)
		if err != nil {
			add("sip.listen: %v", err)
			continue
		}
		if seen[l.String()] {
			add("sip.listen: %s is listed twice", l)
		}
		seen[l.String()] = true
		hasTLS = hasTLS || l.Network == "tls"
	}
	if c.SIP.Mode == Proxy && c.SIP.Advertise == "" {
		for _, l := range c.Listeners() {
			if h, _, _ := net.SplitHostPort(l.Addr); h == "" || h == "0.0.0.0" || h == "::" {
				add("sip.advertise: proxy mode listening on %s needs the address to write in Via and Record-Route", l)
				break
			}
		}
	}
	if hasTLS && (c.SIP.TLSCert == "" || c.SIP.TLSKey == "") {
		add("sip.tls_cert and sip.tls_key are required for a tls listener")
	}
	switch c.SIP.Mode {
	case Redirect, Proxy:
	default:
		add("sip.mode: %q is not redirect or proxy", c.SIP.Mode)
	}
	if c.SIP.NextHop != "" && !strings.HasPrefix(strings.ToLower(c.SIP.NextHop), "sip:") && !strings.HasPrefix(strings.ToLower(c.SIP.NextHop), "sips:") {
		add("sip.next_hop: %q is not a sip: URI (e.g. sip:10.0.0.20:5060;transport=udp)", c.SIP.NextHop)
	}
	if c.SIP.UDPTCPThreshold < 0 {
		add("sip.udp_tcp_threshold: must not be negative")
	}
	if c.SIP.UDPReaders < 0 || c.SIP.UDPReaders > 64 {
		add("sip.udp_readers: %d is outside 0..64", c.SIP.UDPReaders)
	}
	if c.SIP.UDPReadBuffer < 0 {
		add("sip.udp_read_buffer: must not be negative")
	}
	if c.SIP.ProxyTimeout <= 0 {
		add("sip.proxy_timeout: must be positive")
	}

	if c.Rules.Inbound == "" {
		add("rules.inbound: a rule file is needed")
	}
	if c.Rules.Debounce < 0 {
		add("rules.debounce: must not be negative")
	}
	if c.Rules.RegexTimeout < 0 {
		add("rules.regex_timeout: must not be negative")
	}

	for _, s := range c.Directions.OutboundListeners {
		l, err := ParseListener(s)
		if err != nil {
			add("directions.outbound_listeners: %v", err)
			continue
		}
		if !seen[l.String()] {
			add("directions.outbound_listeners: %s is not one of sip.listen", l)
		}
	}
	c.Directions.prefixes = c.Directions.prefixes[:0]
	for _, s := range c.Directions.OutboundSources {
		p, err := parsePrefix(s)
		if err != nil {
			add("directions.outbound_sources: %v", err)
			continue
		}
		c.Directions.prefixes = append(c.Directions.prefixes, p)
	}

	if c.STIR.FetchTimeout <= 0 {
		add("stir.fetch_timeout: must be positive")
	}
	if c.STIR.MaxCertSize <= 0 {
		add("stir.max_cert_size: must be positive")
	}
	if c.STIR.Window <= 0 {
		add("stir.window: must be positive")
	}
	if c.STIR.CacheEntries < 0 {
		add("stir.cache_entries: must not be negative")
	}
	if (c.STIR.SignKey == "") != (c.STIR.SignX5U == "") {
		add("stir.sign_key and stir.sign_x5u go together: set both or neither")
	}
	if c.STIR.TrustDir != "" {
		if st, err := os.Stat(c.STIR.TrustDir); err != nil || !st.IsDir() {
			add("stir.trust_dir: %s is not a directory", c.STIR.TrustDir)
		}
	}

	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format: %q is not text or json", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}

	if c.Admin.Listen != "" {
		host, _, err := net.SplitHostPort(c.Admin.Listen)
		if err != nil {
			add("admin.listen: %v", err)
		} else if !isLoopback(host) && c.Admin.Token == "" {
			add("admin.listen: %s is not a loopback address, so admin.token (or --admin-token) is required", c.Admin.Listen)
		}
	}

	if c.Limits.MaxCalls <= 0 {
		add("limits.max_calls: must be positive")
	}
	if c.Limits.RetryAfter < time.Second {
		add("limits.retry_after: must be at least 1s")
	}
	if c.Limits.CallTimeout <= 0 {
		add("limits.call_timeout: must be positive")
	}
	if c.Limits.ShutdownTimeout <= 0 {
		add("limits.shutdown_timeout: must be positive")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration (%s):\n  %s", c.Source, strings.Join(errs, "\n  "))
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: %v", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR network", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// Marshal returns c as YAML, for `xformd serve --print-config`.
func (c *Config) Marshal() ([]byte, error) { return yaml.Marshal(c) }
