package capture_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/xformd/xformd/capture"
	"github.com/xformd/xformd/capture/capturetest"
)

// TestLinkTypes checks captures taken on other link layers than Ethernet:
// raw IP, Linux cooked (SLL), and BSD loopback (Null).
func TestLinkTypes(t *testing.T) {
	eth := capturetest.UDP(t0, a4, b4, []byte(invite("link", 0))).Data
	ip := eth[14:] // the Ethernet header is 14 bytes
	sll := make([]byte, 16)
	binary.BigEndian.PutUint16(sll[0:], 0)      // packet sent to us
	binary.BigEndian.PutUint16(sll[2:], 1)      // ARPHRD_ETHER
	binary.BigEndian.PutUint16(sll[4:], 6)      // address length
	binary.BigEndian.PutUint16(sll[14:], 0x800) // IPv4
	null := make([]byte, 4)
	binary.LittleEndian.PutUint32(null, 2) // AF_INET
	tests := []struct {
		name string
		link layers.LinkType
		data []byte
	}{
		{"raw IP", layers.LinkTypeRaw, ip},
		{"Linux SLL", layers.LinkTypeLinuxSLL, append(sll, ip...)},
		{"loopback", layers.LinkTypeNull, append(null, ip...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := pcapgo.NewWriter(&buf)
			if err := w.WriteFileHeader(65535, tt.link); err != nil {
				t.Fatal(err)
			}
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(tt.data), Length: len(tt.data)}, tt.data); err != nil {
				t.Fatal(err)
			}
			msgs, _, err := capture.ReadAll("l.pcap", &buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || !msgs[0].IsInvite() || msgs[0].Src != a4 {
				t.Fatalf("want the INVITE from %v, got %d messages %+v", a4, len(msgs), msgs)
			}
		})
	}
}

// TestSnapLength checks that a datagram the capture cut short is reported,
// not parsed as a shorter message.
func TestSnapLength(t *testing.T) {
	data := capturetest.UDP(t0, a4, b4, []byte(invite("cut", 0))).Data
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(200, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: 200, Length: len(data)}, data[:200]); err != nil {
		t.Fatal(err)
	}
	msgs, st, err := capture.ReadAll("snap.pcap", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if st.Truncated != 1 || len(msgs) != 1 || msgs[0].Err == nil || !strings.Contains(msgs[0].Err.Error(), "snap length") {
		t.Fatalf("want one message reported cut short, got %d (truncated %d): %+v", len(msgs), st.Truncated, msgs)
	}
}

// TestPcapNGInterfaces: a pcapng capture from two interfaces with different
// link types (Ethernet and raw IP), as dumpcap writes when capturing on
// several at once.
func TestPcapNGInterfaces(t *testing.T) {
	eth := capturetest.UDP(t0, a4, b4, []byte(invite("eth", 0))).Data
	raw := capturetest.UDP(t0, a6, b6, []byte(invite("raw", 0))).Data[14:]
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		iface int
		data  []byte
	}{{0, eth}, {id, raw}} {
		ci := gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(p.data), Length: len(p.data), InterfaceIndex: p.iface}
		if err := w.WritePacket(ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := capture.ReadAll("two.pcapng", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !msgs[0].IsInvite() || !msgs[1].IsInvite() || msgs[1].Src != a6 {
		t.Fatalf("want both INVITEs, got %d: %+v", len(msgs), msgs)
	}
}
