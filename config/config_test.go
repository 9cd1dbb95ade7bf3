package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Listener{{"udp", "127.0.0.1:5060"}, {"tcp", "127.0.0.1:5060"}}
	got := c.Listeners()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("listeners %v, want %v", got, want)
	}
	if c.SIP.Mode != Redirect || c.Admin.Listen != "127.0.0.1:9060" {
		t.Errorf("mode %q admin %q", c.SIP.Mode, c.Admin.Listen)
	}
	if c.Rules.Inbound != "examples/carrierx-stir/rules.json" || c.Rules.OutboundFile() != c.Rules.Inbound {
		t.Errorf("rules %q / %q", c.Rules.Inbound, c.Rules.OutboundFile())
	}
	// The embedded default names the example that exists in the repository.
	if _, err := os.Stat(filepath.Join("..", c.Rules.Inbound)); err != nil {
		t.Errorf("default rule file: %v", err)
	}
	if c.STIR.AllowHTTP || c.STIR.AllowPrivate || c.STIR.FetchTimeout != 2*time.Second || c.STIR.MaxCertSize != 16384 {
		t.Errorf("unsafe STIR defaults: %+v", c.STIR)
	}
}

func TestLoadFileResolvesPathsAndKeepsDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xformd.yaml")
	os.WriteFile(path, []byte(`
sip:
  mode: proxy
  next_hop: sip:10.0.0.20:5060
  listen: [udp:0.0.0.0:5060]
  advertise: 192.0.2.1
rules:
  inbound: rules/in.json
  outbound: /etc/xformd/out.json
stir:
  static_certs:
    https://cert.example.org/a.pem: certs/a.pem
cdr:
  path: cdr.jsonl
`), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Rules.Inbound != filepath.Join(dir, "rules/in.json") || c.Rules.Outbound != "/etc/xformd/out.json" {
		t.Errorf("rules %q %q", c.Rules.Inbound, c.Rules.Outbound)
	}
	if c.STIR.StaticCerts["https://cert.example.org/a.pem"] != filepath.Join(dir, "certs/a.pem") || c.CDR.Path != filepath.Join(dir, "cdr.jsonl") {
		t.Errorf("paths not resolved against the file: %v %q", c.STIR.StaticCerts, c.CDR.Path)
	}
	if len(c.SIP.Listen) != 1 || c.Limits.MaxCalls != 5000 || c.Admin.Listen != "127.0.0.1:9060" {
		t.Errorf("listen %v max_calls %d admin %q", c.SIP.Listen, c.Limits.MaxCalls, c.Admin.Listen)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"sip:\n  mode: bridge\n", `sip.mode: "bridge" is not redirect or proxy`},
		{"sip:\n  listen: [sctp:1.2.3.4:5060]\n", `transport "sctp" is not udp, tcp or tls`},
		{"sip:\n  listen: [udp:example.com:5060]\n", "host must be an IP address"},
		{"sip:\n  listen: [tls:127.0.0.1:5061]\n", "sip.tls_cert and sip.tls_key are required"},
		{"sip:\n  next_hop: 10.0.0.1\n", "is not a sip: URI"},
		{"admin:\n  listen: 0.0.0.0:9060\n", "admin.token (or --admin-token) is required"},
		{"limits:\n  max_calls: 0\n", "limits.max_calls: must be positive"},
		{"directions:\n  outbound_sources: [10.0.0.0/33]\n", "directions.outbound_sources"},
		{"directions:\n  outbound_listeners: [udp:127.0.0.1:5070]\n", "is not one of sip.listen"},
		{"stir:\n  sign_key: k.pem\n", "go together"},
		{"log:\n  level: loud\n", "log.level"},
		{"sip:\n  mode: proxy\n  listen: [udp:0.0.0.0:5060]\n", "sip.advertise: proxy mode"},
	} {
		c, err := Parse([]byte(tc.yaml), "test.yaml", "")
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := Parse([]byte("sip:\n  moed: proxy\n"), "test.yaml", ""); err == nil || !strings.Contains(err.Error(), "moed") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := Parse([]byte("sip: [\n"), "test.yaml", ""); err == nil {
		t.Errorf("bad YAML accepted")
	}
}

func TestFlagsOverride(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f Flags
	f.Register(fs)
	err := fs.Parse([]string{
		"--listen", "udp:127.0.0.1:5070", "--listen", "tcp:127.0.0.1:5071",
		"--mode", "proxy", "--next-hop", "sip:10.1.1.1:5060", "--admin", "127.0.0.1:9999",
		"--rules", "a.json", "--rules", "outbound=b.json", "--trust", ".",
		"--x5u", "https://c.example/x.pem=x.pem", "--allow-private", "--log-level", "debug",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SIP.Listen) != 2 || c.SIP.Listen[0] != "udp:127.0.0.1:5070" || c.SIP.Mode != Proxy || c.SIP.NextHop != "sip:10.1.1.1:5060" {
		t.Errorf("sip %+v", c.SIP)
	}
	if c.Admin.Listen != "127.0.0.1:9999" || c.Rules.Inbound != "a.json" || c.Rules.OutboundFile() != "b.json" || c.STIR.TrustDir != "." {
		t.Errorf("admin %q rules %q %q trust %q", c.Admin.Listen, c.Rules.Inbound, c.Rules.OutboundFile(), c.STIR.TrustDir)
	}
	if c.STIR.StaticCerts["https://c.example/x.pem"] != "x.pem" || !c.STIR.AllowPrivate || c.STIR.AllowHTTP || c.Log.Level != "debug" {
		t.Errorf("stir %+v log %+v", c.STIR, c.Log)
	}

	bad := Flags{}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	bad.Register(fs)
	fs.Parse([]string{"--x5u", "nopath"})
	if _, err := bad.Build(); err == nil || !strings.Contains(err.Error(), "URL=PATH") {
		t.Errorf("--x5u without =: %v", err)
	}
	bad = Flags{}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	bad.Register(fs)
	fs.Parse([]string{"--mode", "bridge"})
	if _, err := bad.Build(); err == nil {
		t.Errorf("--mode bridge accepted")
	}
}

func TestDirectionsPrefixes(t *testing.T) {
	c, _ := Default()
	c.Directions.OutboundSources = []string{"10.0.0.0/8", "192.0.2.7"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := c.Directions.Prefixes()
	if len(p) != 2 || p[1].Bits() != 32 {
		t.Errorf("prefixes %v", p)
	}
}

func TestParseListener(t *testing.T) {
	for in, want := range map[string]string{
		"udp:127.0.0.1:5060": "udp:127.0.0.1:5060",
		"TCP:[::1]:5061":     "tcp:[::1]:5061",
		"tls:0.0.0.0:5061":   "tls:0.0.0.0:5061",
		"udp::5060":          "udp::5060",
	} {
		l, err := ParseListener(in)
		if err != nil || l.String() != want {
			t.Errorf("%s: %v %v, want %s", in, l, err, want)
		}
	}
	for _, bad := range []string{"udp", "udp:127.0.0.1", "udp:127.0.0.1:99999", "ws:127.0.0.1:80", "udp:host.example:5060", "udp:127.0.0.1:-1"} {
		if _, err := ParseListener(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
