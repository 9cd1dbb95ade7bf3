package capture

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetSource is what pcapgo's two readers have in common.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// pcapReader reads packets and turns the SIP in them into messages.
type pcapReader struct {
	e     *emitter
	src   packetSource
	link  func(ci gopacket.CaptureInfo) layers.LinkType
	def4  *ip4defrag.IPv4Defragmenter
	def6  *ip6defrag.IPv6Defragmenter
	tcp   *tcpTable
	frame int
	ctime time.Time
	// cut is set while handling a packet the capture truncated.
	cut bool
	// lastSweep is when fragments were last discarded.
	lastSweep time.Time
	stats     *Stats
	pcapng    bool
}

// readPcap reads a pcap or pcapng stream with gopacket's pure-Go readers.
func readPcap(name string, format Format, r io.Reader, fn func(*Message) error) (Stats, error) {
	var st Stats
	p := &pcapReader{
		e:     &emitter{name: name, fn: fn, stats: &st},
		def4:  ip4defrag.NewIPv4Defragmenter(),
		def6:  ip6defrag.NewIPv6Defragmenter(),
		stats: &st,
	}
	p.tcp = newTCPTable(p)
	switch format {
	case PcapNG:
		// Captures on several interfaces at once (dumpcap -i any -i tun0)
		// mix link types; read them all, each with its own. Sections of an
		// unknown version are skipped, as the pcapng standard recommends.
		ng, err := pcapgo.NewNgReader(r, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return st, fmt.Errorf("%s: not a readable pcapng file: %w", name, err)
		}
		p.src, p.pcapng = ng, true
		p.link = func(ci gopacket.CaptureInfo) layers.LinkType {
			if iface, err := ng.Interface(ci.InterfaceIndex); err == nil {
				return iface.LinkType
			}
			return ng.LinkType()
		}
	default:
		pr, err := pcapgo.NewReader(r)
		if err != nil {
			return st, fmt.Errorf("%s: not a readable pcap file: %w", name, err)
		}
		p.src = pr
		lt := pr.LinkType()
		p.link = func(gopacket.CaptureInfo) layers.LinkType { return lt }
	}
	for {
		data, ci, err := p.readPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A truncated or corrupt file: report what was read, then the
			// damage as a broken message so the run's exit status says so.
			if ferr := p.tcp.flush(); ferr != nil {
				return st, ferr
			}
			m := &Message{Frame: p.frame + 1, Err: fmt.Errorf("capture is damaged after packet %d: %v", p.frame, err)}
			if eerr := p.e.emit(m); eerr != nil {
				return st, eerr
			}
			return st, nil
		}
		p.frame++
		st.Packets++
		p.ctime = ci.Timestamp
		p.cut = ci.CaptureLength < ci.Length
		if p.cut {
			st.Truncated++
		}
		if err := p.packet(data, ci); err != nil {
			return st, err
		}
		p.sweep()
	}
	return st, p.tcp.flush()
}

// sweepEvery is how many packets pass between discards of fragments that
// never completed; fragments of one datagram are a few packets apart, so a
// datagram left incomplete that long never will be.
const sweepEvery = 4096

// sweep bounds the memory of incomplete IP fragments in long captures: every
// sweepEvery packets it drops IPv4 fragment lists more than 30 s older (in
// capture time) than the current packet, as receivers time reassembly out,
// and IPv6 ones that were already there at the previous sweep.
func (p *pcapReader) sweep() {
	if p.frame%sweepEvery != 0 {
		return
	}
	p.def4.DiscardOlderThan(p.ctime.Add(-30 * time.Second))
	if !p.lastSweep.IsZero() {
		p.def6.DiscardOlderThan(p.lastSweep)
	}
	p.lastSweep = time.Now()
}

// readPacket reads one packet, turning a panic in the reader into an
// error: the file is untrusted input.
func (p *pcapReader) readPacket() (data []byte, ci gopacket.CaptureInfo, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("pcap reader failed: %v", v)
		}
	}()
	return p.src.ReadPacketData()
}

// packet decodes one captured packet down to its UDP or TCP payload.
func (p *pcapReader) packet(data []byte, ci gopacket.CaptureInfo) (err error) {
	defer func() {
		if v := recover(); v != nil {
			// gopacket's decoders are defensive, but a hostile packet must
			// cost one ignored packet, not the run.
			p.stats.Ignored++
			err = nil
		}
	}()
	pkt := gopacket.NewPacket(data, p.link(ci), gopacket.DecodeOptions{NoCopy: true})
	var (
		src, dst netip.Addr
		proto    layers.IPProtocol
		payload  []byte
	)
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		whole, err := p.def4.DefragIPv4WithTimestamp(ip, ci.Timestamp)
		if err != nil || whole == nil {
			// A fragment kept for later, or a hostile one dropped.
			return nil
		}
		src, _ = netip.AddrFromSlice(whole.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(whole.DstIP.To4())
		proto, payload = whole.Protocol, whole.Payload
	case *layers.IPv6:
		proto, payload = ip.NextHeader, ip.Payload
		whole := ip
		if fg, ok := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment); ok {
			whole = p.def6.DefragIPv6(ip, fg)
			if whole == nil {
				return nil
			}
			proto, payload = whole.NextHeader, whole.Payload
		} else if tl := pkt.TransportLayer(); tl != nil {
			// Extension headers (hop-by-hop, destination options) sit
			// between the IPv6 header and UDP/TCP; gopacket has skipped
			// them.
			switch t := tl.(type) {
			case *layers.UDP:
				proto, payload = layers.IPProtocolUDP, append(append([]byte(nil), t.Contents...), t.Payload...)
			case *layers.TCP:
				proto, payload = layers.IPProtocolTCP, append(append([]byte(nil), t.Contents...), t.Payload...)
			}
		}
		src, _ = netip.AddrFromSlice(whole.SrcIP.To16())
		dst, _ = netip.AddrFromSlice(whole.DstIP.To16())
		src, dst = src.Unmap(), dst.Unmap()
	default:
		p.stats.Ignored++
		return nil
	}
	switch proto {
	case layers.IPProtocolUDP:
		var udp layers.UDP
		if err := udp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			p.stats.Ignored++
			return nil
		}
		return p.udp(netip.AddrPortFrom(src, uint16(udp.SrcPort)), netip.AddrPortFrom(dst, uint16(udp.DstPort)), udp.Payload)
	case layers.IPProtocolTCP:
		var tcp layers.TCP
		if err := tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			p.stats.Ignored++
			return nil
		}
		return p.tcp.segment(netip.AddrPortFrom(src, uint16(tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(tcp.DstPort)), &tcp)
	}
	p.stats.Ignored++
	return nil
}

// udp handles one datagram: one SIP message, or a keepalive, or not SIP.
func (p *pcapReader) udp(src, dst netip.AddrPort, payload []byte) error {
	body := bytes.TrimLeft(payload, "\r\n")
	if len(body) == 0 {
		return nil // CRLF keepalive
	}
	line, _, _ := lineAt(body, 0)
	if !startLine(line) {
		p.stats.Ignored++
		return nil
	}
	m := &Message{Frame: p.frame, Time: p.ctime, Src: src, Dst: dst, Transport: "udp", Raw: append([]byte(nil), body...)}
	if p.cut {
		m.Err = fmt.Errorf("packet %d was cut short by the capture's snap length; capture whole packets (tcpdump -s 0)", p.frame)
	}
	return p.e.emit(m)
}
