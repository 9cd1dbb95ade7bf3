// Package capture reads captured SIP messages for dry runs and tests: raw
// SIP text (one message or several one after another, framed by
// Content-Length, with CRLF or bare LF line ends) and pcap/pcapng files
// (SIP over UDP and TCP, IPv4 and IPv6, fragmented datagrams reassembled,
// TCP streams reassembled and split into messages).
//
// Every SIP message found is reported, in capture order, as a Message: an
// INVITE carries its parsed *sip.Request; any other message carries a Note
// saying why it was skipped; a message that cannot be parsed carries Err.
// Bad input never ends the run early: a broken message is reported and the
// reader goes on with the next one.
package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// MaxTextSize bounds a text capture; larger inputs are refused rather than
// read into memory. Pcap input is streamed and has no such bound.
const MaxTextSize = 64 << 20

// MaxMessageSize bounds one SIP message, as sipgo's parser does.
const MaxMessageSize = 65535

// Format is the kind of capture file.
type Format uint8

// The capture formats, told apart by their first bytes.
const (
	Text Format = iota
	Pcap
	PcapNG
)

// String names the format.
func (f Format) String() string {
	switch f {
	case Pcap:
		return "pcap"
	case PcapNG:
		return "pcapng"
	}
	return "text"
}

// Message is one SIP message found in a capture.
type Message struct {
	// Source names the message for people: the capture's name and the
	// message's 1-based place among the SIP messages in it, "file#3".
	Source string
	// Index is the message's 1-based place in the capture.
	Index int
	// Frame is the 1-based number of the packet that completed the message
	// in a pcap (the number Wireshark shows); 0 for text captures.
	Frame int
	// Time is when the packet was captured; zero for text captures.
	Time time.Time
	// Src and Dst are the packet's addresses; invalid for text captures.
	Src, Dst netip.AddrPort
	// Transport is "udp" or "tcp" for pcap input, "" for text.
	Transport string
	// Raw is the message as handed to the SIP parser, with CRLF line ends.
	Raw []byte
	// Method is the request method, "" for a response or an unparsable
	// message.
	Method string
	// Request is the parsed INVITE; nil for every other message.
	Request *sip.Request
	// Note says why a message that is not an INVITE was skipped, or
	// remarks on a repair made while framing (a corrected Content-Length).
	Note string
	// Err says why the message could not be parsed.
	Err error
}

// IsInvite reports whether the message is a parsed INVITE ready to run
// through rules.
func (m *Message) IsInvite() bool { return m.Request != nil && m.Err == nil }

// Stats counts what a capture held, so that a capture with no SIP in it
// can be explained to its reader.
type Stats struct {
	// Format is the detected capture format.
	Format Format
	// Packets is the number of packets read (pcap only).
	Packets int
	// Messages is the number of SIP messages found (including broken ones).
	Messages int
	// Invites is the number of INVITEs parsed.
	Invites int
	// Errors is the number of messages that could not be parsed.
	Errors int
	// Ignored counts packets that held no SIP: other protocols,
	// undecodable link layers, non-IP traffic.
	Ignored int
	// Truncated counts packets the capture cut short (its snap length was
	// smaller than the packet); their SIP cannot be read whole.
	Truncated int
}

// ErrStop may be returned by an Each callback to end reading early without
// an error.
var ErrStop = errors.New("capture: stop")

// ReadFile reads the capture at path ("-" reads stdin) and calls fn for
// every SIP message in it. The returned error is about the capture as a
// whole (it cannot be opened, its pcap header is broken); problems with
// single messages are reported through Message.Err.
func ReadFile(path string, stdin io.Reader, fn func(*Message) error) (Stats, error) {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return Each("stdin", stdin, fn)
	}
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("cannot open capture: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return Stats{}, fmt.Errorf("cannot read capture %s: is a directory", path)
	}
	return Each(path, f, fn)
}

// Each reads a capture from r, detects its format, and calls fn for every
// SIP message in capture order. name is used in Message.Source. When fn
// returns an error, reading stops and that error is returned (ErrStop ends
// it without error).
func Each(name string, r io.Reader, fn func(*Message) error) (Stats, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	format := Detect(head)
	var st Stats
	var err error
	switch format {
	case Pcap, PcapNG:
		st, err = readPcap(name, format, br, fn)
	default:
		data, rerr := io.ReadAll(io.LimitReader(br, MaxTextSize+1))
		if rerr != nil {
			return Stats{Format: Text}, fmt.Errorf("cannot read capture %s: %w", name, rerr)
		}
		if len(data) > MaxTextSize {
			return Stats{Format: Text}, fmt.Errorf("text capture %s is larger than %d bytes; split it, or capture to pcap", name, MaxTextSize)
		}
		st, err = readText(name, data, fn)
	}
	st.Format = format
	if errors.Is(err, ErrStop) {
		err = nil
	}
	return st, err
}

// ReadAll returns every message of a capture; convenient for tests and
// small captures.
func ReadAll(name string, r io.Reader) ([]*Message, Stats, error) {
	var out []*Message
	st, err := Each(name, r, func(m *Message) error {
		out = append(out, m)
		return nil
	})
	return out, st, err
}

// Detect tells the capture format from the first four bytes of a file.
func Detect(head []byte) Format {
	if len(head) < 4 {
		return Text
	}
	switch string(head[:4]) {
	case "\xd4\xc3\xb2\xa1", "\xa1\xb2\xc3\xd4", "\x4d\x3c\xb2\xa1", "\xa1\xb2\x3c\x4d":
		return Pcap
	case "\x0a\x0d\x0d\x0a":
		return PcapNG
	}
	return Text
}

// emitter numbers messages, parses them and hands them to the callback.
type emitter struct {
	name  string
	fn    func(*Message) error
	stats *Stats
}

// emit parses raw (already framed, CRLF line ends) into m and calls the
// callback.
func (e *emitter) emit(m *Message) error {
	e.stats.Messages++
	m.Index = e.stats.Messages
	m.Source = fmt.Sprintf("%s#%d", e.name, m.Index)
	if m.Err == nil {
		parse(m)
	}
	if m.Err != nil {
		e.stats.Errors++
	} else if m.Request != nil {
		e.stats.Invites++
	}
	return e.fn(m)
}

// mandatory are the headers without which an INVITE is not one (RFC 3261
// section 8.1.1); the daemon's SIP stack refuses such requests, so a dry
// run reports them as errors rather than running rules on them.
var mandatory = []string{"Via", "From", "To", "Call-ID", "CSeq"}

// parse fills Method, Request, Note or Err of m from m.Raw.
func parse(m *Message) {
	if len(m.Raw) > MaxMessageSize {
		m.Err = fmt.Errorf("message is %d bytes, more than the %d byte limit of a SIP message", len(m.Raw), MaxMessageSize)
		return
	}
	msg, err := parseSIP(m.Raw)
	if err != nil {
		m.Err = fmt.Errorf("cannot parse SIP message: %v", err)
		return
	}
	switch x := msg.(type) {
	case *sip.Request:
		m.Method = string(x.Method)
		if x.Method != sip.INVITE {
			m.Note = fmt.Sprintf("skipped: %s is not an INVITE", x.Method)
			return
		}
		for _, h := range mandatory {
			if x.GetHeader(h) == nil {
				m.Err = fmt.Errorf("INVITE has no %s header (RFC 3261 requires Via, From, To, Call-ID and CSeq)", h)
				return
			}
		}
		if m.Transport != "" {
			x.SetTransport(strings.ToUpper(m.Transport))
		}
		if m.Src.IsValid() {
			x.SetSource(m.Src.String())
		}
		if m.Dst.IsValid() {
			x.SetDestination(m.Dst.String())
		}
		m.Request = x
	case *sip.Response:
		m.Note = fmt.Sprintf("skipped: response %d %s", x.StatusCode, x.Reason)
	default:
		m.Err = errors.New("cannot parse SIP message: neither a request nor a response")
	}
}

// parseSIP runs sipgo's parser, turning any panic inside it into an error:
// captures are untrusted input and one hostile message must not end a dry
// run.
func parseSIP(raw []byte) (msg sip.Message, err error) {
	defer func() {
		if v := recover(); v != nil {
			msg, err = nil, fmt.Errorf("SIP parser failed: %v", v)
		}
	}()
	return sip.ParseMessage(raw)
}

// startLine reports whether line (without its line end) looks like the
// first line of a SIP message: "METHOD uri SIP/2.0" or "SIP/2.0 code ...".
func startLine(line []byte) bool {
	line = bytes.TrimRight(line, "\r")
	if bytes.HasPrefix(line, []byte("SIP/2.0 ")) {
		rest := line[len("SIP/2.0 "):]
		return len(rest) >= 3 && isDigit(rest[0]) && isDigit(rest[1]) && isDigit(rest[2]) && (len(rest) == 3 || rest[3] == ' ')
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !bytes.HasSuffix(line, []byte(" SIP/2.0")) || sp+len(" SIP/2.0") >= len(line) {
		return false
	}
	for _, c := range line[:sp] {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}
