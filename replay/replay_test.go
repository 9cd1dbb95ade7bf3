package replay

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/rules"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name          string
		before, after []string
		want          string
	}{
		{"same", []string{"a", "b"}, []string{"a", "b"}, " a| b"},
		{"added at end", []string{"a"}, []string{"a", "b"}, " a|+b"},
		{"removed", []string{"a", "b", "c"}, []string{"a", "c"}, " a|-b| c"},
		{"changed in place", []string{"a", "b", "c"}, []string{"a", "B", "c"}, " a|-b|+B| c"},
		{"everything", []string{"a"}, []string{"b"}, "-a|+b"},
		{"empty", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []string
			for _, l := range Diff(tt.before, tt.after) {
				parts = append(parts, string(l.Op)+l.Text)
			}
			if got := strings.Join(parts, "|"); got != tt.want {
				t.Errorf("Diff = %q, want %q", got, tt.want)
			}
			if Changed(Diff(tt.before, tt.after)) != (tt.name != "same" && tt.name != "empty") {
				t.Errorf("Changed wrong")
			}
		})
	}
}

const invite = "INVITE sip:12155550000@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n" +
	"From: \"Alice\" <sip:12155551212@example.com>;tag=1\r\nTo: <sip:12155550000@example.net>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"

func message(t *testing.T, extra string) *capture.Message {
	t.Helper()
	msgs, _, err := capture.ReadAll("t.sip", strings.NewReader(strings.Replace(invite, "%s", extra, 1)))
	if err != nil || len(msgs) != 1 || !msgs[0].IsInvite() {
		t.Fatalf("bad test INVITE: %v %v", err, msgs)
	}
	return msgs[0]
}

func TestClock(t *testing.T) {
	fixed := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	packet := fixed.Add(time.Hour)
	dated := message(t, "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n")
	withPacket := message(t, "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n")
	withPacket.Time = packet
	badDate := message(t, "Date: yesterday\r\n")
	tests := []struct {
		name string
		now  time.Time
		m    *capture.Message
		want time.Time
		src  string
	}{
		{"--now wins", fixed, withPacket, fixed, "--now"},
		{"packet time", time.Time{}, withPacket, packet, "packet time"},
		{"Date header", time.Time{}, dated, time.Date(2010, 11, 13, 23, 29, 0, 0, time.UTC), "Date header"},
		{"unparsable Date", time.Time{}, badDate, time.Time{}, "current time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Env{cfg: Config{Now: tt.now}}
			got, src := e.Clock(tt.m)
			if src != tt.src || (!tt.want.IsZero() && !got.Equal(tt.want)) {
				t.Errorf("Clock = %v (%s), want %v (%s)", got, src, tt.want, tt.src)
			}
		})
	}
}

// TestRunAndReport replays an INVITE through a small rule file without
// STIR and checks the outcome, the JSON record and the text report.
func TestRunAndReport(t *testing.T) {
	env, err := NewEnv(Config{Direction: rules.Inbound, Now: time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	f, err := rules.Parse("r.yaml", []byte("- action: set_variable\n  operands: [who, '{{from_user}}']\n  name: remember\n"+
		"- action: set_header\n  operands: [X-Who, '{{who}}']\n- action: remove_header\n  operands: [X-Gone]\n"+
		"- action: reject\n  direction: outbound\n  operands: [busy]\n- action: redirect\n  operands: ['sip:vm@example.net']\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := compile(env, f)
	if err != nil {
		t.Fatal(err)
	}
	o, err := env.Run(p, message(t, "X-Gone: 1\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	rec := o.Record()
	if rec.Disposition != (Disposition{Kind: "redirect", Status: 302, Reason: "Moved Temporarily", Target: "sip:vm@example.net"}) {
		t.Errorf("disposition %+v", rec.Disposition)
	}
	if rec.Variables["who"] != "12155551212" || rec.CallID != "c1" || rec.Source != "t.sip#1" || rec.NowSource != "--now" {
		t.Errorf("record %+v", rec)
	}
	wantSteps := []string{"applied", "applied", "applied", "skipped (direction)", "redirected"}
	for i, s := range rec.Trace {
		if s.Rule != i+1 || s.Status != wantSteps[i] {
			t.Errorf("step %d: %+v, want status %s", i, s, wantSteps[i])
		}
	}
	if strings.Join(rec.Diff, "|") != "- X-Gone: 1|+ X-Who: 12155551212" {
		t.Errorf("diff %q", rec.Diff)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, o); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("not one JSON line: %v %q", err, buf.String())
	}
	buf.Reset()
	if err := WriteText(&buf, o, Style{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== t.sip#1 INVITE sip:12155550000@example.net SIP/2.0", "r.yaml:1:3   #1  set_variable", "# remember",
		`who = "12155551212"`, "disposition: redirect 302 Moved Temporarily -> sip:vm@example.net", "- X-Gone: 1", "+ X-Who: 12155551212"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	_ = WriteText(&buf, o, Style{Color: true})
	if !strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("no colour with Style.Color")
	}
}

func TestNewEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing trust dir", Config{TrustDir: "/nonexistent/trust"}, "trust directory"},
		{"trust is a file", Config{TrustDir: "replay.go"}, "is not a directory"},
		{"missing x5u file", Config{X5U: map[string]string{"https://x/a.pem": "/nonexistent.pem"}}, "certificate file for https://x/a.pem"},
		{"key without x5u", Config{SignKey: "k.pem"}, "signing needs both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEnv(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	f, err := rules.Parse("r.yaml", []byte("- action: stir_validate\n  direction: outbound\n- action: stir_sign\n  direction: outbound\n  operands: [A]\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"nothing configured, inbound", Config{Direction: rules.Inbound}, []string{"stir_validate but no --trust", "stir_sign but no --sign-key", "no rule runs on inbound calls"}},
		{"all configured", Config{Direction: rules.Outbound, TrustDir: "t", SignKey: "k"}, nil},
		{"fetch allowed, any direction", Config{Direction: rules.Any, AllowFetch: true, SignKey: "k"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Warnings(f, tt.cfg)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q lacks %q", got[i], w)
				}
			}
		})
	}
}
