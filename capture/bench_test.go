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

// TestTCPByteAtATime feeds a large message one byte per segment, in order
// and in reverse: reassembly and framing must stay linear.
func TestTCPByteAtATime(t *testing.T) {
	msg := []byte(invite("slow", 30000))
	conn := capturetest.TCPConn{Src: c4, Dst: b4, ISN: 1}
	segs := conn.Stream(t0, msg, 1)
	rev := make([]capturetest.Packet, len(segs))
	for i := range segs {
		rev[i] = segs[len(segs)-1-i]
	}
	for name, pkts := range map[string][]capturetest.Packet{"in order": segs, "reversed": rev} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := capturetest.WritePcap(&buf, append([]capturetest.Packet{conn.SYN(t0)}, pkts...)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			msgs, _, err := capture.ReadAll("slow.pcap", &buf)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
			// Reversed, more segments are held than allowed: the gaps are
			// given up and the message is reported broken or recovered,
			// never hung on.
			if name == "in order" && (len(msgs) != 1 || !msgs[0].IsInvite()) {
				t.Fatalf("want one INVITE, got %d", len(msgs))
			}
		})
	}
}

func BenchmarkText(b *testing.B) {
	data := []byte(strings.Repeat(invite("bench", 0)+optionsMsg, 100))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := capture.Each("b.sip", bytes.NewReader(data), func(*capture.Message) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPcap(b *testing.B) {
	conn := capturetest.TCPConn{Src: c4, Dst: b4, ISN: 1}
	var pkts []capturetest.Packet
	for i := 0; i < 50; i++ {
		pkts = append(pkts, capturetest.UDP(t0, a4, b4, []byte(invite("u", 0))))
	}
	stream := []byte(strings.Repeat(invite("t", 0), 50))
	pkts = append(pkts, conn.SYN(t0))
	pkts = append(pkts, conn.Stream(t0, stream, 1400)...)
	var buf bytes.Buffer
	if err := capturetest.WritePcap(&buf, pkts); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := capture.Each("b.pcap", bytes.NewReader(data), func(*capture.Message) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTCPFinBeforeRetransmission: the FIN is captured before the
// retransmission of a lost segment; the message is still whole.
func TestTCPFinBeforeRetransmission(t *testing.T) {
	msg := []byte(invite("fin", 0))
	conn := capturetest.TCPConn{Src: c4, Dst: b4, ISN: 500}
	segs := conn.Stream(t0, msg, 100)
	pkts := append([]capturetest.Packet{conn.SYN(t0)}, segs[:2]...)
	pkts = append(pkts, segs[3:]...)
	pkts = append(pkts, conn.FIN(t0, len(msg)), segs[2])
	var buf bytes.Buffer
	if err := capturetest.WritePcap(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := capture.ReadAll("fin.pcap", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !msgs[0].IsInvite() {
		t.Fatalf("want the INVITE, got %d messages", len(msgs))
	}
}

// TestManyFlows: a capture of many connections (here 20000 SYNs) is read
// in bounded time and memory, and SIP among them is still found.
func TestManyFlows(t *testing.T) {
	var pkts []capturetest.Packet
	for i := 0; i < 20000; i++ {
		c := capturetest.TCPConn{Src: netip.AddrPortFrom(c4.Addr(), uint16(1024+i%60000)), Dst: netip.AddrPortFrom(b4.Addr(), uint16(80+i/60000)), ISN: uint32(i)}
		pkts = append(pkts, c.SYN(t0))
	}
	conn := capturetest.TCPConn{Src: c4, Dst: b4, ISN: 9}
	pkts = append(pkts, conn.SYN(t0))
	pkts = append(pkts, conn.Stream(t0, []byte(invite("among", 0)), 500)...)
	var buf bytes.Buffer
	if err := capturetest.WritePcap(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	msgs, _, err := capture.ReadAll("flood.pcap", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	if len(msgs) != 1 || !msgs[0].IsInvite() {
		t.Fatalf("want the INVITE, got %d messages", len(msgs))
	}
}
