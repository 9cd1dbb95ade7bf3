package capture_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/capture/capturetest"
)

func invite(callID string, extra int) string {
	body := "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	pad := ""
	if extra > 0 {
		pad = "X-Padding: " + strings.Repeat("p", extra) + "\r\n"
	}
	return "INVITE sip:+12155551212@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-" + callID + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: \"Alice\" <sip:+12155550100@example.org>;tag=1928301774\r\n" +
		"To: <sip:+12155551212@example.com>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" + pad +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

const optionsMsg = "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKo\r\n" +
	"From: <sip:a@example.org>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: opt\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

var (
	t0   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a4   = netip.MustParseAddrPort("192.0.2.10:5060")
	b4   = netip.MustParseAddrPort("198.51.100.20:5060")
	a6   = netip.MustParseAddrPort("[2001:db8::10]:5060")
	b6   = netip.MustParseAddrPort("[2001:db8::20]:5060")
	c4   = netip.MustParseAddrPort("192.0.2.30:40000")
	dns  = netip.MustParseAddrPort("192.0.2.53:53")
	conn = capturetest.TCPConn{Src: c4, Dst: b4, ISN: 4294967000} // wraps around
)

type expect struct {
	callID    string // "" for a non-INVITE
	transport string
	err       string
	note      string
	src       netip.AddrPort
}

func cat(ps ...[]capturetest.Packet) []capturetest.Packet {
	var out []capturetest.Packet
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

func one(p capturetest.Packet) []capturetest.Packet { return []capturetest.Packet{p} }

func TestPcap(t *testing.T) {
	big := invite("frag4", 3000)
	big6 := invite("frag6", 2500)
	two := invite("tcp1", 0) + "\r\n\r\n" + invite("tcp2", 10)
	segs := conn.Stream(t0, []byte(two), 100)
	reordered := append([]capturetest.Packet{}, segs...)
	reordered[2], reordered[5] = reordered[5], reordered[2]
	withRetrans := append(append([]capturetest.Packet{}, segs[:4]...), segs[2], segs[3])
	withRetrans = append(withRetrans, segs[4:]...)
	midStream := invite("tcp1", 0)
	late := invite("late", 0)
	tests := []struct {
		name    string
		packets []capturetest.Packet
		want    []expect
	}{
		{"UDP IPv4", one(capturetest.UDP(t0, a4, b4, []byte(invite("u4", 0)))), []expect{{callID: "u4", transport: "udp", src: a4}}},
		{"UDP IPv6", one(capturetest.UDP(t0, a6, b6, []byte(invite("u6", 0)))), []expect{{callID: "u6", transport: "udp", src: a6}}},
		{"non-SIP and keepalive ignored, OPTIONS skipped", cat(
			one(capturetest.UDP(t0, dns, a4, []byte("\x12\x34binary dns"))),
			one(capturetest.UDP(t0, a4, b4, []byte("\r\n\r\n"))),
			one(capturetest.UDP(t0, a4, b4, []byte(optionsMsg))),
			one(capturetest.UDP(t0, a4, b4, []byte(invite("after", 0))))),
			[]expect{{transport: "udp", note: "skipped: OPTIONS"}, {callID: "after", transport: "udp"}}},
		{"IPv4 fragments out of order", capturetest.UDPFragments(t0, a4, b4, []byte(big), 1480, 77, []int{2, 0, 1}), []expect{{callID: "frag4", transport: "udp"}}},
		{"IPv6 fragments", capturetest.UDPFragments(t0, a6, b6, []byte(big6), 1232, 78, nil), []expect{{callID: "frag6", transport: "udp", src: a6}}},
		{"TCP two messages in small segments", cat(one(conn.SYN(t0)), segs, one(conn.FIN(t0, len(two)))),
			[]expect{{callID: "tcp1", transport: "tcp", src: c4}, {callID: "tcp2", transport: "tcp"}}},
		{"TCP reordered", cat(one(conn.SYN(t0)), reordered), []expect{{callID: "tcp1", transport: "tcp"}, {callID: "tcp2", transport: "tcp"}}},
		{"TCP retransmission", cat(one(conn.SYN(t0)), withRetrans), []expect{{callID: "tcp1", transport: "tcp"}, {callID: "tcp2", transport: "tcp"}}},
		{"TCP capture starts mid-message", cat(
			conn.Stream(t0, []byte(midStream[40:]), 1000)[:1],
			one(conn.Data(t0, len(midStream)-40, []byte(late)))),
			[]expect{{callID: "late", transport: "tcp"}}},
		{"TCP stream cut short", cat(one(conn.SYN(t0)), conn.Stream(t0, []byte(two), 100)[:3], one(conn.FIN(t0, 300))),
			[]expect{{err: "ended inside a SIP message"}}},
		{"TCP lost segment", cat(one(conn.SYN(t0)), segs[:2], segs[3:]),
			[]expect{{err: "TCP segments missing"}, {callID: "tcp2", transport: "tcp"}}},
	}
	for _, tt := range tests {
		for _, ng := range []bool{false, true} {
			name := tt.name + "/pcap"
			if ng {
				name = tt.name + "/pcapng"
			}
			t.Run(name, func(t *testing.T) {
				var buf bytes.Buffer
				write := capturetest.WritePcap
				if ng {
					write = capturetest.WritePcapNG
				}
				if err := write(&buf, tt.packets); err != nil {
					t.Fatal(err)
				}
				msgs, st, err := capture.ReadAll("cap.pcap", &buf)
				if err != nil {
					t.Fatalf("ReadAll: %v", err)
				}
				if st.Packets != len(tt.packets) {
					t.Errorf("packets = %d, want %d", st.Packets, len(tt.packets))
				}
				if len(msgs) != len(tt.want) {
					for _, m := range msgs {
						t.Logf("got %s frame %d: invite=%v note=%q err=%v", m.Source, m.Frame, m.IsInvite(), m.Note, m.Err)
					}
					t.Fatalf("got %d messages, want %d", len(msgs), len(tt.want))
				}
				for i, w := range tt.want {
					m := msgs[i]
					if w.err != "" {
						if m.Err == nil || !strings.Contains(m.Err.Error(), w.err) {
							t.Errorf("%s: err %v, want %q", m.Source, m.Err, w.err)
						}
						continue
					}
					if m.Err != nil {
						t.Errorf("%s: unexpected error %v", m.Source, m.Err)
						continue
					}
					if w.callID != "" {
						if !m.IsInvite() {
							t.Errorf("%s: not an INVITE (note %q)", m.Source, m.Note)
							continue
						}
						if got := m.Request.CallID().Value(); got != w.callID {
							t.Errorf("%s: Call-ID %q, want %q", m.Source, got, w.callID)
						}
						if got := m.Request.Source(); w.src.IsValid() && got != w.src.String() {
							t.Errorf("%s: request source %q, want %v", m.Source, got, w.src)
						}
					}
					if !strings.Contains(m.Note, w.note) || (w.note == "" && m.Note != "") {
						t.Errorf("%s: note %q, want %q", m.Source, m.Note, w.note)
					}
					if m.Transport != w.transport {
						t.Errorf("%s: transport %q, want %q", m.Source, m.Transport, w.transport)
					}
					if !m.Time.Equal(t0) {
						t.Errorf("%s: time %v, want %v", m.Source, m.Time, t0)
					}
					if m.Frame < 1 || m.Frame > len(tt.packets) {
						t.Errorf("%s: frame %d out of range", m.Source, m.Frame)
					}
				}
			})
		}
	}
}

func TestPcapDamaged(t *testing.T) {
	var buf bytes.Buffer
	pkts := []capturetest.Packet{capturetest.UDP(t0, a4, b4, []byte(invite("ok", 0))), capturetest.UDP(t0, a4, b4, []byte(invite("cut", 0)))}
	if err := capturetest.WritePcap(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()[:buf.Len()-50]
	msgs, _, err := capture.ReadAll("cut.pcap", bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if len(msgs) != 2 || !msgs[0].IsInvite() || msgs[1].Err == nil || !strings.Contains(msgs[1].Err.Error(), "damaged after packet 1") {
		for _, m := range msgs {
			t.Logf("%s: %v %v", m.Source, m.IsInvite(), m.Err)
		}
		t.Fatalf("want the first INVITE and a damage report")
	}
	// A pcap header alone and a broken header.
	if _, _, err := capture.ReadAll("hdr.pcap", bytes.NewReader(buf.Bytes()[:24])); err != nil {
		t.Errorf("header-only pcap: %v", err)
	}
	if _, _, err := capture.ReadAll("bad.pcap", bytes.NewReader(buf.Bytes()[:10])); err == nil {
		t.Errorf("truncated pcap header: want an error")
	}
}
