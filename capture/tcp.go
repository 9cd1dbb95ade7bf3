package capture

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	"github.com/gopacket/gopacket/layers"
)

// Bounds on TCP reassembly, so that a capture of bulk traffic or a hostile
// file cannot make the reader hold unbounded memory.
const (
	// maxFlows is the number of TCP flows followed at once; the least
	// recently used one is finished early when another starts.
	maxFlows = 4096
	// maxPending bounds the out-of-order bytes held per flow; beyond it the
	// missing segments are given up as lost.
	maxPending = 1 << 20
	// maxSegments bounds the number of out-of-order segments held per flow.
	maxSegments = 4096
	// maxLine bounds a line without its end while looking for a start line.
	maxLine = 8 << 10
)

// flowKey is one direction of a TCP connection.
type flowKey struct{ src, dst netip.AddrPort }

// segment is data that arrived ahead of the bytes before it.
type segment struct {
	seq  uint32
	data []byte
}

// tcpFlow is the reassembly state of one direction of a connection: the
// next sequence number expected, segments held until the gap before them
// fills, and the contiguous bytes not yet split into SIP messages.
type tcpFlow struct {
	key          flowKey
	started      bool
	next         uint32
	pending      []segment
	pendingBytes int
	buf          []byte
	lastFrame    int
	// scanned is how far the search for the end of the header at the front
	// of buf got; need is the size of a message whose body is incomplete.
	scanned, need int
	// closing is set by a FIN or RST: the flow ends once no gap is left.
	closing bool
}

// tcpTable follows the TCP flows of a capture.
type tcpTable struct {
	p     *pcapReader
	flows map[flowKey]*tcpFlow
}

func newTCPTable(p *pcapReader) *tcpTable {
	return &tcpTable{p: p, flows: map[flowKey]*tcpFlow{}}
}

// segment adds one captured TCP segment.
func (t *tcpTable) segment(src, dst netip.AddrPort, tcp *layers.TCP) error {
	k := flowKey{src, dst}
	f := t.flows[k]
	payload := tcp.Payload
	if f != nil && tcp.SYN && f.started {
		// The four-tuple is reused by a new connection: finish the old one.
		if err := t.finish(f); err != nil {
			return err
		}
		f = nil
	}
	if f == nil {
		if len(payload) == 0 && !tcp.SYN {
			return nil
		}
		if len(t.flows) >= maxFlows {
			if err := t.evict(); err != nil {
				return err
			}
		}
		f = &tcpFlow{key: k}
		t.flows[k] = f
	}
	f.lastFrame = t.p.frame
	seq := tcp.Seq
	if tcp.SYN {
		f.started, f.next = true, seq+1
		seq++
	}
	if !f.started {
		// The capture began in the middle of the connection.
		f.started, f.next = true, seq
	}
	if len(payload) > 0 {
		if err := t.add(f, seq, payload); err != nil {
			return err
		}
	}
	if tcp.FIN || tcp.RST {
		// Segments retransmitted after the FIN may still fill a gap: wait
		// for them, or for the end of the capture.
		f.closing = true
	}
	if f.closing && len(f.pending) == 0 {
		return t.finish(f)
	}
	return nil
}

// add places data at seq in the flow and splits off complete messages.
// Segments ahead of a gap are held in sequence order.
func (t *tcpTable) add(f *tcpFlow, seq uint32, data []byte) error {
	if d := int32(seq - f.next); d > 0 {
		if f.pendingBytes+len(data) > maxPending || len(f.pending) >= maxSegments {
			// The gap will not fill in time: give it up.
			if err := t.gap(f); err != nil {
				return err
			}
			return t.add(f, seq, data)
		}
		i := sort.Search(len(f.pending), func(i int) bool { return int32(f.pending[i].seq-seq) > 0 })
		f.pending = append(f.pending, segment{})
		copy(f.pending[i+1:], f.pending[i:])
		f.pending[i] = segment{seq: seq, data: append([]byte(nil), data...)}
		f.pendingBytes += len(data)
		return nil
	}
	f.append(seq, data)
	f.fill()
	return t.split(f)
}

// append adds in-order data, dropping what was already received
// (retransmissions and overlapping segments).
func (f *tcpFlow) append(seq uint32, data []byte) {
	skip := int(f.next - seq)
	if skip >= len(data) {
		return
	}
	f.buf = append(f.buf, data[skip:]...)
	f.next = seq + uint32(len(data))
}

// fill moves the held segments that are now in order into the buffer.
func (f *tcpFlow) fill() {
	for len(f.pending) > 0 && int32(f.pending[0].seq-f.next) <= 0 {
		s := f.pending[0]
		f.pending = f.pending[1:]
		f.pendingBytes -= len(s.data)
		f.append(s.seq, s.data)
	}
}

// gap gives up the bytes missing before the earliest held segment: a
// message cut by the gap is reported broken, and reading resumes at the
// next start line after it.
func (t *tcpTable) gap(f *tcpFlow) error {
	if len(f.pending) == 0 {
		return nil
	}
	if err := t.split(f); err != nil {
		return err
	}
	if len(bytes.TrimLeft(f.buf, "\r\n")) > 0 && startsMessage(f.buf) {
		if err := t.broken(f, fmt.Sprintf("TCP segments missing from the capture cut this message (%d bytes seen)", len(f.buf))); err != nil {
			return err
		}
	}
	f.reset()
	f.next = f.pending[0].seq
	f.fill()
	return t.split(f)
}

// startsMessage reports whether buf, after keepalive line ends, begins with
// a SIP start line (complete or not yet complete).
func startsMessage(buf []byte) bool {
	b := bytes.TrimLeft(buf, "\r\n")
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return false
	}
	return startLine(b[:nl])
}

// broken reports the start of the flow's buffer as a message that cannot be
// parsed.
func (t *tcpTable) broken(f *tcpFlow, why string) error {
	raw := bytes.TrimLeft(f.buf, "\r\n")
	if len(raw) > MaxMessageSize {
		raw = raw[:MaxMessageSize]
	}
	m := t.p.message(f, append([]byte(nil), raw...))
	m.Err = fmt.Errorf("%s", why)
	return t.p.e.emit(m)
}

// finish ends a flow: a gap is given up, and bytes left over are a message
// the capture cut short.
func (t *tcpTable) finish(f *tcpFlow) error {
	delete(t.flows, f.key)
	for len(f.pending) > 0 {
		if err := t.gap(f); err != nil {
			return err
		}
	}
	if len(bytes.TrimLeft(f.buf, "\r\n")) > 0 && startsMessage(f.buf) {
		return t.broken(f, fmt.Sprintf("TCP stream ended inside a SIP message (%d bytes): the capture was cut off or segments are missing", len(f.buf)))
	}
	return nil
}

// evict finishes the eighth of the flows used least recently, so that a
// capture of many connections (a SYN flood) costs amortised O(log n) per
// new flow rather than a scan of the table each time.
func (t *tcpTable) evict() error {
	flows := t.sorted()
	for _, f := range flows[:max(1, len(flows)/8)] {
		if err := t.finish(f); err != nil {
			return err
		}
	}
	return nil
}

// sorted returns the flows, least recently used first.
func (t *tcpTable) sorted() []*tcpFlow {
	flows := make([]*tcpFlow, 0, len(t.flows))
	for _, f := range t.flows {
		flows = append(flows, f)
	}
	sort.Slice(flows, func(i, j int) bool {
		if flows[i].lastFrame != flows[j].lastFrame {
			return flows[i].lastFrame < flows[j].lastFrame
		}
		a, b := flows[i].key, flows[j].key
		if c := a.src.Compare(b.src); c != 0 {
			return c < 0
		}
		return a.dst.Compare(b.dst) < 0
	})
	return flows
}

// flush finishes every flow at the end of the capture, in a stable order.
func (t *tcpTable) flush() error {
	for _, f := range t.sorted() {
		if err := t.finish(f); err != nil {
			return err
		}
	}
	return nil
}

// split takes every complete SIP message off the front of the flow's
// buffer (RFC 3261 section 18.3: framed by Content-Length on streams). It
// remembers how far it searched for the end of a header and how many bytes
// a message whose body is still arriving needs, so that a message delivered
// one byte per segment costs linear, not quadratic, time.
func (t *tcpTable) split(f *tcpFlow) error {
	for {
		if f.need > 0 {
			if len(f.buf) < f.need {
				return nil // the body is still arriving
			}
		} else {
			i := 0
			for i < len(f.buf) && (f.buf[i] == '\r' || f.buf[i] == '\n') {
				i++ // CRLF keepalives between messages
			}
			if i > 0 {
				f.consume(i)
			}
		}
		b := f.buf
		if len(b) == 0 {
			return nil
		}
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			if len(b) > maxLine {
				f.consume(len(b)) // not SIP: no line end in sight
			}
			return nil
		}
		if !startLine(b[:nl]) {
			f.resync()
			continue
		}
		end, sepLen := headerEnd(b, f.scanned)
		if end < 0 {
			if len(b) > MaxMessageSize {
				if err := t.brokenAt(f, b[:MaxMessageSize], fmt.Sprintf("SIP header section longer than %d bytes", MaxMessageSize)); err != nil {
					return err
				}
				f.consume(nl + 1)
				continue
			}
			f.scanned = max(0, len(b)-3)
			return nil
		}
		cl, note, err := streamContentLength(b[:end])
		bodyFrom := end + sepLen
		if err != nil || cl > MaxMessageSize {
			why := fmt.Sprintf("cannot frame SIP message on TCP stream: %v", err)
			if err == nil {
				why = fmt.Sprintf("Content-Length %d is larger than a SIP message may be (%d)", cl, MaxMessageSize)
			}
			if err := t.brokenAt(f, b[:bodyFrom], why); err != nil {
				return err
			}
			f.consume(bodyFrom)
			continue
		}
		if len(b) < bodyFrom+cl {
			f.need = bodyFrom + cl
			return nil
		}
		raw := append([]byte(nil), b[:bodyFrom+cl]...)
		f.consume(bodyFrom + cl)
		m := t.p.message(f, raw)
		m.Note = note
		if err := t.p.e.emit(m); err != nil {
			return err
		}
	}
}

// consume drops n bytes from the front of the buffer and forgets what was
// known about them.
func (f *tcpFlow) consume(n int) {
	f.buf = f.buf[n:]
	f.scanned, f.need = 0, 0
}

// reset empties the buffer.
func (f *tcpFlow) reset() {
	f.buf = f.buf[:0]
	f.scanned, f.need = 0, 0
}

// brokenAt reports raw from the flow as a message that cannot be parsed.
func (t *tcpTable) brokenAt(f *tcpFlow, raw []byte, why string) error {
	m := t.p.message(f, append([]byte(nil), raw...))
	m.Err = fmt.Errorf("%s", why)
	return t.p.e.emit(m)
}

// resync drops bytes up to the next line that is a SIP start line: the
// capture began mid-message, or segments were lost, or the flow is not SIP.
func (f *tcpFlow) resync() {
	b := f.buf
	defer func() { f.scanned, f.need = 0, 0 }()
	for p := bytes.IndexByte(b, '\n'); p >= 0 && p+1 < len(b); {
		rest := b[p+1:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			// The last line is not complete yet: keep it to judge later.
			f.buf = rest
			return
		}
		if startLine(rest[:nl]) {
			f.buf = rest
			return
		}
		p += 1 + nl
	}
	f.buf = f.buf[:0]
}

// headerEnd finds the blank line ending a header section, searching from
// offset from; CRLF is the standard, bare LF is accepted.
func headerEnd(b []byte, from int) (end, sepLen int) {
	crlf := index(b, from, "\r\n\r\n")
	lf := index(b, from, "\n\n")
	switch {
	case crlf >= 0 && (lf < 0 || crlf+1 <= lf):
		return crlf, 4
	case lf >= 0:
		return lf, 2
	}
	return -1, 0
}

// index is bytes.Index from offset from, -1 when absent.
func index(b []byte, from int, sep string) int {
	if from > len(b) {
		return -1
	}
	i := bytes.Index(b[from:], []byte(sep))
	if i < 0 {
		return -1
	}
	return from + i
}

// streamContentLength reads the Content-Length of a header section. A
// missing one is taken as 0, as most stacks do for requests without a body,
// with a note.
func streamContentLength(h []byte) (int, string, error) {
	for _, line := range bytes.Split(h, []byte{'\n'}) {
		name, value, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte{':'})
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			continue
		}
		n := string(bytes.TrimSpace(name))
		if equalFold(n, "content-length") || equalFold(n, "l") {
			v := string(bytes.TrimSpace(value))
			cl, err := strconv.Atoi(v)
			if err != nil || cl < 0 {
				return 0, "", fmt.Errorf("Content-Length %q is not a number", v)
			}
			return cl, "", nil
		}
	}
	return 0, "no Content-Length on a TCP stream (RFC 3261 section 18.3 requires one); assumed 0", nil
}

// message makes a Message from a TCP flow at the current packet.
func (p *pcapReader) message(f *tcpFlow, raw []byte) *Message {
	return &Message{Frame: p.frame, Time: p.ctime, Src: f.key.src, Dst: f.key.dst, Transport: "tcp", Raw: raw}
}
