package capture_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/capture/capturetest"
)

// readPackets writes packets as a pcap and reads it back, failing the test
// if reading takes longer than a hostile input may make it.
func readPackets(t *testing.T, pkts []capturetest.Packet) []*capture.Message {
	t.Helper()
	var buf bytes.Buffer
	if err := capturetest.WritePcap(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	msgs, _, err := capture.ReadAll("t.pcap", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("reading %d packets took %v", len(pkts), d)
	}
	return msgs
}

// wantOneInvite fails unless msgs is exactly one parsed INVITE.
func wantOneInvite(t *testing.T, msgs []*capture.Message) {
	t.Helper()
	if len(msgs) != 1 || !msgs[0].IsInvite() {
		t.Fatalf("want one INVITE, got %d messages", len(msgs))
	}
}

// TestTCPByteAtATime feeds a large message one byte per segment, in order
// and in reverse: reassembly and framing must stay linear. Reversed, more
// segments are held than allowed: the gaps are given up and the message is
// reported broken, never hung on.
func TestTCPByteAtATime(t *testing.T) {
	msg := []byte(invite("slow", 30000))
	conn := capturetest.TCPConn{Src: c4, Dst: b4, ISN: 1}
	segs := conn.Stream(t0, msg, 1)
	rev := make([]capturetest.Packet, len(segs))
	for i := range segs {
		rev[i] = segs[len(segs)-1-i]
	}
	t.Run("in order", func(t *testing.T) {
		wantOneInvite(t, readPackets(t, append([]capturetest.Packet{conn.SYN(t0)}, segs...)))
	})
	t.Run("reversed", func(t *testing.T) {
		readPackets(t, append([]capturetest.Packet{conn.SYN(t0)}, rev...))
	})
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
	wantOneInvite(t, readPackets(t, pkts))
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
	wantOneInvite(t, readPackets(t, pkts))
}
