package main

import (
	"bytes"
	"strconv"
)

// callKind says what a generated call carries and therefore which answer it
// must get.
type callKind uint8

const (
	// kindSigned carries a valid Identity header: the rules must pass
	// verification and redirect it.
	kindSigned callKind = iota
	// kindUnsigned carries no Identity header: the rules mark it
	// "POSSIBLE FRAUD" and still redirect it.
	kindUnsigned
	// kindBadSig carries an Identity header whose signature was altered:
	// the rules must reject it.
	kindBadSig
)

// String names the kind for summaries.
func (k callKind) String() string {
	switch k {
	case kindSigned:
		return "signed"
	case kindUnsigned:
		return "unsigned"
	case kindBadSig:
		return "badsig"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// inviteParams holds the per-call values of one INVITE. Everything else
// in the message is fixed for a run.
type inviteParams struct {
	runID    string // distinguishes this run's Call-IDs from stray answers of older runs
	index    int    // call number, encoded in the Call-ID and the Via branch
	local    string // host:port of the sending socket, for Via and Contact
	target   string // host:port of the system under test, for the Request-URI
	orig     string // caller number (From user)
	dest     string // called number (To and Request-URI user)
	display  string // caller display name (CNAM)
	identity string // Identity header value; empty for unsigned calls
}

// sdpBody is a realistic audio offer so the datagrams have the size of real
// INVITEs; the systems under test do not look at it.
const sdpBody = "v=0\r\n" +
	"o=loadgen 2890844526 2890844526 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"c=IN IP4 127.0.0.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0 8 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=sendrecv\r\n"

// appendCallID appends the Call-ID of call index in run runID. The index is
// encoded so a response can be matched to its call without a map.
func appendCallID(b []byte, runID string, index int) []byte {
	b = append(b, "lg-"...)
	b = append(b, runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, "@127.0.0.1"...)
	return b
}

// appendBranch writes the Via branch of a call; the ACK of a non-2xx final
// response reuses it (RFC 3261 section 17.1.1.3).
func appendBranch(b []byte, runID string, index int) []byte {
	b = append(b, "z9hG4bK-lg-"...)
	b = append(b, runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(index), 10)
	return b
}

// appendHead appends what the INVITE and its ACK share: the request line
// with method, Via (same branch: the ACK of a non-2xx final response
// belongs to the INVITE transaction), Max-Forwards and From, up to and
// including the CRLF after From.
func appendHead(b []byte, method string, p *inviteParams) []byte {
	b = append(b, method...)
	b = append(b, " sip:"...)
	b = append(b, p.dest...)
	b = append(b, '@')
	b = append(b, p.target...)
	b = append(b, " SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	b = append(b, p.local...)
	b = append(b, ";branch="...)
	b = appendBranch(b, p.runID, p.index)
	b = append(b, ";rport\r\nMax-Forwards: 70\r\nFrom: \""...)
	b = append(b, p.display...)
	b = append(b, "\" <sip:"...)
	b = append(b, p.orig...)
	b = append(b, "@127.0.0.1>;tag=lg"...)
	b = strconv.AppendInt(b, int64(p.index), 10)
	return append(b, "\r\n"...)
}

// appendInvite appends a complete INVITE datagram for p to b.
func appendInvite(b []byte, p *inviteParams) []byte {
	b = appendHead(b, "INVITE", p)
	b = append(b, "To: <sip:"...)
	b = append(b, p.dest...)
	b = append(b, '@')
	b = append(b, p.target...)
	b = append(b, ">\r\nCall-ID: "...)
	b = appendCallID(b, p.runID, p.index)
	b = append(b, "\r\nCSeq: 1 INVITE\r\nContact: <sip:"...)
	b = append(b, p.orig...)
	b = append(b, '@')
	b = append(b, p.local...)
	b = append(b, ">\r\n"...)
	if p.identity != "" {
		b = append(b, "Identity: "...)
		b = append(b, p.identity...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "User-Agent: xformd-loadgen\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\nContent-Type: application/sdp\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(sdpBody)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, sdpBody...)
	return b
}

// appendAck appends the ACK for a non-2xx final response to the INVITE built
// from p. toHeader is the To header value of the response, with its tag.
func appendAck(b []byte, p *inviteParams, toHeader []byte) []byte {
	b = appendHead(b, "ACK", p)
	b = append(b, "To: "...)
	b = append(b, toHeader...)
	b = append(b, "\r\nCall-ID: "...)
	b = appendCallID(b, p.runID, p.index)
	b = append(b, "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"...)
	return b
}

// response is the part of a SIP response the load generator looks at. The
// byte slices alias the datagram buffer.
type response struct {
	status  int
	callID  []byte
	to      []byte
	cseqINV bool   // CSeq method is INVITE
	want    []byte // value of the header named by parseResponse's wantName, nil if absent
}

// parseResponse parses the start line and the few headers of a SIP response
// that matter here. wantName (lower case, may be empty) names one more
// header whose first value is returned. It reports false for anything that
// is not a SIP response.
func parseResponse(msg []byte, wantName []byte, r *response) bool {
	*r = response{}
	line, rest, ok := cutLine(msg)
	if !ok || !bytes.HasPrefix(line, []byte("SIP/2.0 ")) || len(line) < 11 {
		return false
	}
	code, err := strconv.Atoi(string(line[8:11]))
	if err != nil || code < 100 || code > 699 {
		return false
	}
	r.status = code
	for len(rest) > 0 {
		line, rest, ok = cutLine(rest)
		if !ok || len(line) == 0 {
			break // end of headers
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := bytes.TrimSpace(line[:colon])
		value := bytes.TrimSpace(line[colon+1:])
		switch {
		case equalFoldASCII(name, "call-id") || equalFoldASCII(name, "i"):
			if r.callID == nil {
				r.callID = value
			}
		case equalFoldASCII(name, "to") || equalFoldASCII(name, "t"):
			if r.to == nil {
				r.to = value
			}
		case equalFoldASCII(name, "cseq"):
			if sp := bytes.LastIndexByte(value, ' '); sp >= 0 {
				r.cseqINV = bytes.Equal(bytes.TrimSpace(value[sp+1:]), []byte("INVITE"))
			}
		case len(wantName) > 0 && equalFoldASCII(name, string(wantName)):
			if r.want == nil {
				r.want = value
			}
		}
	}
	return r.callID != nil
}

// cutLine splits msg at the first CRLF (or bare LF). ok is false when msg is
// empty.
func cutLine(msg []byte) (line, rest []byte, ok bool) {
	if len(msg) == 0 {
		return nil, nil, false
	}
	i := bytes.IndexByte(msg, '\n')
	if i < 0 {
		return msg, nil, true
	}
	line = msg[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, msg[i+1:], true
}

// equalFoldASCII compares b and lower-case s ignoring ASCII case, without
// allocating.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// parseCallIndex returns the call index encoded in a Call-ID made by
// appendCallID for runID, or -1 when the Call-ID belongs to another run or
// to nobody.
func parseCallIndex(callID []byte, runID string) int {
	const prefix = "lg-"
	if len(callID) < len(prefix)+len(runID)+2 ||
		string(callID[:len(prefix)]) != prefix ||
		string(callID[len(prefix):len(prefix)+len(runID)]) != runID ||
		callID[len(prefix)+len(runID)] != '-' {
		return -1
	}
	rest := callID[len(prefix)+len(runID)+1:]
	at := bytes.IndexByte(rest, '@')
	if at <= 0 {
		return -1
	}
	n := 0
	for _, c := range rest[:at] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
		if n > 1<<40 {
			return -1
		}
	}
	return n
}
