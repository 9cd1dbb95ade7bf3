// Package capturetest builds pcap and pcapng files of SIP traffic for
// tests and examples: UDP datagrams (fragmented when asked), TCP segments
// in any order, over IPv4 or IPv6 and Ethernet, written with gopacket's
// pure-Go writers.
package capturetest

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Packet is one captured frame: its time and its bytes from the Ethernet
// header on.
type Packet struct {
	// Time is the capture timestamp.
	Time time.Time
	// Data is the frame, Ethernet header first.
	Data []byte
}

var (
	srcMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	dstMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// network returns the Ethernet and IP layers for src → dst, IPv4 or IPv6 by
// the addresses' family.
func network(src, dst netip.Addr, proto layers.IPProtocol, id uint16) (*layers.Ethernet, gopacket.NetworkLayer, gopacket.SerializableLayer) {
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC}
	if src.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: id, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		return eth, ip, ip
	}
	eth.EthernetType = layers.EthernetTypeIPv6
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	return eth, ip, ip
}

// UDP returns one frame carrying payload from src to dst over UDP.
func UDP(t time.Time, src, dst netip.AddrPort, payload []byte) Packet {
	eth, nl, ip := network(src.Addr(), dst.Addr(), layers.IPProtocolUDP, 1)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	_ = udp.SetNetworkLayerForChecksum(nl)
	return Packet{Time: t, Data: serialize(eth, ip, udp, gopacket.Payload(payload))}
}

// UDPFragments returns payload sent over UDP as IP fragments of at most
// mtu bytes of IP payload each (mtu is rounded down to a multiple of 8), in
// the order given by order (indexes into the fragments; nil keeps them in
// order). IPv4 uses the header's fragment fields, IPv6 a Fragment header.
func UDPFragments(t time.Time, src, dst netip.AddrPort, payload []byte, mtu int, id uint16, order []int) []Packet {
	// Build the whole UDP datagram first, checksum included.
	_, nl, _ := network(src.Addr(), dst.Addr(), layers.IPProtocolUDP, id)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	_ = udp.SetNetworkLayerForChecksum(nl)
	datagram := serialize(udp, gopacket.Payload(payload))
	mtu &^= 7
	if mtu < 8 {
		mtu = 8
	}
	var frags []Packet
	for off := 0; off < len(datagram); off += mtu {
		end := min(off+mtu, len(datagram))
		more := end < len(datagram)
		chunk := datagram[off:end]
		eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC}
		var data []byte
		if src.Addr().Is4() {
			eth.EthernetType = layers.EthernetTypeIPv4
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: id, Protocol: layers.IPProtocolUDP,
				SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(), FragOffset: uint16(off / 8)}
			if more {
				ip.Flags = layers.IPv4MoreFragments
			}
			data = serialize(eth, ip, gopacket.Payload(chunk))
		} else {
			eth.EthernetType = layers.EthernetTypeIPv6
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment,
				SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
			fh := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: uint32(id)}
			data = serialize(eth, ip, fh, gopacket.Payload(chunk))
		}
		frags = append(frags, Packet{Time: t, Data: data})
	}
	if order == nil {
		return frags
	}
	out := make([]Packet, 0, len(order))
	for _, i := range order {
		out = append(out, frags[i])
	}
	return out
}

// TCPConn describes one direction of a TCP connection for building
// segments.
type TCPConn struct {
	// Src and Dst are the sender and the receiver.
	Src, Dst netip.AddrPort
	// ISN is the initial sequence number; the first data byte is ISN+1.
	ISN uint32
}

// SYN returns the connection's SYN segment.
func (c TCPConn) SYN(t time.Time) Packet { return c.segment(t, c.ISN, nil, true, false) }

// Data returns a segment carrying data at byte offset off of the stream
// (0 is the first byte after the SYN).
func (c TCPConn) Data(t time.Time, off int, data []byte) Packet {
	return c.segment(t, c.ISN+1+uint32(off), data, false, false)
}

// FIN returns a FIN segment after n bytes of stream.
func (c TCPConn) FIN(t time.Time, n int) Packet {
	return c.segment(t, c.ISN+1+uint32(n), nil, false, true)
}

// Stream cuts data into segments of at most mss bytes, in order.
func (c TCPConn) Stream(t time.Time, data []byte, mss int) []Packet {
	var out []Packet
	for off := 0; off < len(data); off += mss {
		out = append(out, c.Data(t, off, data[off:min(off+mss, len(data))]))
	}
	return out
}

func (c TCPConn) segment(t time.Time, seq uint32, data []byte, syn, fin bool) Packet {
	eth, nl, ip := network(c.Src.Addr(), c.Dst.Addr(), layers.IPProtocolTCP, 1)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(c.Src.Port()), DstPort: layers.TCPPort(c.Dst.Port()),
		Seq: seq, SYN: syn, FIN: fin, ACK: !syn, PSH: len(data) > 0, Window: 65535}
	_ = tcp.SetNetworkLayerForChecksum(nl)
	return Packet{Time: t, Data: serialize(eth, ip, tcp, gopacket.Payload(data))}
}

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(fmt.Sprintf("capturetest: cannot build packet: %v", err))
	}
	return append([]byte(nil), buf.Bytes()...)
}

// WritePcap writes packets as a classic pcap file (Ethernet link type,
// microsecond timestamps).
func WritePcap(w io.Writer, packets []Packet) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	for _, p := range packets {
		ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Data), Length: len(p.Data)}
		if err := pw.WritePacket(ci, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// WritePcapNG writes packets as a pcapng file with one Ethernet interface.
func WritePcapNG(w io.Writer, packets []Packet) error {
	nw, err := pcapgo.NewNgWriter(w, layers.LinkTypeEthernet)
	if err != nil {
		return err
	}
	for _, p := range packets {
		ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Data), Length: len(p.Data)}
		if err := nw.WritePacket(ci, p.Data); err != nil {
			return err
		}
	}
	return nw.Flush()
}
