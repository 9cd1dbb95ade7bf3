package capture

import (
	"strings"
	"testing"
)

const inviteCRLF = "INVITE sip:+12155551212@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: \"Alice\" <sip:+12155550100@example.org>;tag=1928301774\r\n" +
	"To: <sip:+12155551212@example.com>\r\n" +
	"Call-ID: a84b4c76e66710@pc33.example.org\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.10>\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 29\r\n" +
	"\r\n" +
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"

const options = "OPTIONS sip:example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKopt\r\n" +
	"From: <sip:a@example.org>;tag=1\r\nTo: <sip:example.com>\r\n" +
	"Call-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

const response = "SIP/2.0 200 OK\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKopt\r\n" +
	"From: <sip:a@example.org>;tag=1\r\nTo: <sip:example.com>;tag=2\r\n" +
	"Call-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

func lf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// want describes one message expected from a capture.
type want struct {
	invite bool
	note   string // substring of Note; "" means no note
	err    string // substring of Err; "" means no error
	body   string // expected body of an INVITE, when checked
	callID string
}

func TestText(t *testing.T) {
	inviteNoBody := strings.Replace(strings.Replace(inviteCRLF, "Content-Length: 29", "Content-Length: 0", 1), "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "", 1)
	second := strings.Replace(inviteCRLF, "a84b4c76e66710", "second", 1)
	tests := []struct {
		name  string
		input string
		want  []want
	}{
		{"one INVITE, CRLF", inviteCRLF, []want{{invite: true, body: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", callID: "a84b4c76e66710@pc33.example.org"}}},
		{"one INVITE, LF, Content-Length counted with CRLF", lf(inviteCRLF), []want{{invite: true, body: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}}},
		{"LF, Content-Length counted with LF", strings.Replace(lf(inviteCRLF), "Content-Length: 29", "Content-Length: 27", 1) + lf(second),
			[]want{{invite: true, note: "Content-Length 27 did not match the 29-byte body", body: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}, {invite: true, callID: "second@pc33.example.org"}}},
		{"two INVITEs back to back", inviteCRLF + second, []want{{invite: true}, {invite: true, callID: "second@pc33.example.org"}}},
		{"blank lines and BOM around", "\xef\xbb\xbf\r\n\r\n" + inviteCRLF + "\r\n\n\n", []want{{invite: true}}},
		{"non-INVITE request and response skipped", options + inviteCRLF + response, []want{{note: "skipped: OPTIONS is not an INVITE"}, {invite: true}, {note: "skipped: response 200 OK"}}},
		{"no trailing blank line, no body", strings.TrimSuffix(lf(inviteNoBody), "\n\n"), []want{{invite: true, body: ""}}},
		{"no Content-Length: body runs to next message", strings.Replace(lf(inviteCRLF), "Content-Length: 29\n", "", 1) + "\n\n" + lf(options),
			[]want{{invite: true, body: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}, {note: "OPTIONS"}}},
		{"Content-Length too large: corrected", strings.Replace(inviteCRLF, "Content-Length: 29", "Content-Length: 400", 1),
			[]want{{invite: true, note: "Content-Length 400 did not match the 29-byte body"}}},
		{"Content-Length not a number", strings.Replace(inviteCRLF, "Content-Length: 29", "Content-Length: lots", 1),
			[]want{{invite: true, note: `Content-Length "lots" is not a number`}}},
		{"compact Content-Length", strings.Replace(inviteCRLF, "Content-Length: 29", "l: 29", 1) + options, []want{{invite: true}, {note: "OPTIONS"}}},
		{"garbage before a message", "hello there\nthis is not SIP\n" + inviteCRLF, []want{{err: `line 1: "hello there" is not the start of a SIP message`}, {invite: true}}},
		{"INVITE missing From", strings.Replace(inviteCRLF, "From: \"Alice\" <sip:+12155550100@example.org>;tag=1928301774\r\n", "", 1), []want{{err: "INVITE has no From header"}}},
		{"next start line without blank line", strings.TrimSuffix(inviteNoBody, "\r\n") + options, []want{{invite: true}, {note: "OPTIONS"}}},
		{"bad header line", "INVITE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP x\r\n\r\n", []want{{err: "cannot parse SIP message"}}},
		{"empty", "", nil},
		{"only whitespace", "\n\r\n  \t\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, st, err := ReadAll("in.sip", strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if st.Format != Text {
				t.Errorf("format = %v, want text", st.Format)
			}
			checkMessages(t, msgs, tt.want)
		})
	}
}

func checkMessages(t *testing.T, msgs []*Message, wants []want) {
	t.Helper()
	if len(msgs) != len(wants) {
		for _, m := range msgs {
			t.Logf("got %s: invite=%v note=%q err=%v raw=%q", m.Source, m.IsInvite(), m.Note, m.Err, m.Raw)
		}
		t.Fatalf("got %d messages, want %d", len(msgs), len(wants))
	}
	for i, w := range wants {
		m := msgs[i]
		if m.Index != i+1 || !strings.HasSuffix(m.Source, "#"+itoa(i+1)) {
			t.Errorf("message %d: index %d source %q", i+1, m.Index, m.Source)
		}
		if m.IsInvite() != w.invite {
			t.Errorf("%s: IsInvite = %v, want %v (err %v, note %q)", m.Source, m.IsInvite(), w.invite, m.Err, m.Note)
		}
		if w.err == "" && m.Err != nil {
			t.Errorf("%s: unexpected error %v", m.Source, m.Err)
		}
		if w.err != "" && (m.Err == nil || !strings.Contains(m.Err.Error(), w.err)) {
			t.Errorf("%s: error %v, want it to contain %q", m.Source, m.Err, w.err)
		}
		if (w.note == "") != (m.Note == "") || !strings.Contains(m.Note, w.note) {
			t.Errorf("%s: note %q, want %q", m.Source, m.Note, w.note)
		}
		if w.invite && w.body != "" && string(m.Request.Body()) != w.body {
			t.Errorf("%s: body %q, want %q", m.Source, m.Request.Body(), w.body)
		}
		if w.invite && w.callID != "" && m.Request.CallID().Value() != w.callID {
			t.Errorf("%s: Call-ID %q, want %q", m.Source, m.Request.CallID().Value(), w.callID)
		}
		if w.invite && !strings.Contains(string(m.Raw), "\r\n\r\n") {
			t.Errorf("%s: raw message not normalised to CRLF: %q", m.Source, m.Raw)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestStartLine(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"INVITE sip:a@b SIP/2.0", true},
		{"INVITE sip:a@b SIP/2.0\r", true},
		{"SIP/2.0 200 OK", true},
		{"SIP/2.0 180", true},
		{"SIP/2.0 20 OK", false},
		{"INVITE SIP/2.0", false},
		{"IN VITE sip:a SIP/2.0x", false},
		{"Via: SIP/2.0/UDP host", false},
		{"", false},
		{"NEWMETHOD sip:x SIP/2.0", true},
	}
	for _, tt := range tests {
		if got := startLine([]byte(tt.line)); got != tt.want {
			t.Errorf("startLine(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		head string
		want Format
	}{
		{"\xd4\xc3\xb2\xa1", Pcap},
		{"\xa1\xb2\xc3\xd4", Pcap},
		{"\x4d\x3c\xb2\xa1", Pcap},
		{"\x0a\x0d\x0d\x0a", PcapNG},
		{"INVI", Text},
		{"", Text},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.head)); got != tt.want {
			t.Errorf("Detect(%q) = %v, want %v", tt.head, got, tt.want)
		}
	}
}
