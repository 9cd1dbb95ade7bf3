package capture_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/capture/capturetest"
)

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
