package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xformd/xformd/capture/capturetest"
	"github.com/xformd/xformd/stir/stirtest"
)

// Now is the clock of every example: signatures, Date headers and packet
// times; the suites pin `now` to it.
var Now = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// Validity is how long the example certificates stay valid after Now.
const Validity = 30 * 365 * 24 * time.Hour

// X5U is the certificate URL in the examples' Identity headers; the suites
// map it to pki/shaken.pem.
const X5U = stirtest.DefaultX5U

// OrigID is the origid claim of the examples' PASSporTs.
const OrigID = "4437c7eb-8f7a-4f0e-a863-f53a0e60251a"

// invite describes one example INVITE.
type invite struct {
	callID  string
	display string
	from    string // From URI user
	to      string // To and Request-URI user
	pai     string // P-Asserted-Identity user, "" for none
	source  string // Via host, the sending peer
	extra   []string
	ident   []string
}

// bytes renders the INVITE with CRLF line ends and a small SDP body.
func (in invite) bytes() []byte {
	body := "v=0\r\n" +
		"o=- 20260115 1 IN IP4 " + in.source + "\r\n" +
		"s=-\r\n" +
		"c=IN IP4 " + in.source + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 49170 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n"
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:%s@xformd.example.net SIP/2.0\r\n", in.to)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK-%s\r\n", in.source, strings.SplitN(in.callID, "@", 2)[0])
	b.WriteString("Max-Forwards: 70\r\n")
	if in.display != "" {
		fmt.Fprintf(&b, "From: \"%s\" <sip:%s@carrier.example.com>;tag=%s\r\n", in.display, in.from, tag(in.callID))
	} else {
		fmt.Fprintf(&b, "From: <sip:%s@carrier.example.com>;tag=%s\r\n", in.from, tag(in.callID))
	}
	fmt.Fprintf(&b, "To: <sip:%s@xformd.example.net>\r\n", in.to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", in.callID)
	b.WriteString("CSeq: 1 INVITE\r\n")
	fmt.Fprintf(&b, "Contact: <sip:%s@%s:5060>\r\n", in.from, in.source)
	fmt.Fprintf(&b, "Date: %s\r\n", Now.Format(http.TimeFormat))
	if in.pai != "" {
		fmt.Fprintf(&b, "P-Asserted-Identity: <sip:%s@carrier.example.com>\r\n", in.pai)
	}
	for _, h := range in.extra {
		b.WriteString(h + "\r\n")
	}
	for _, id := range in.ident {
		fmt.Fprintf(&b, "Identity: %s\r\n", id)
	}
	b.WriteString("Content-Type: application/sdp\r\n")
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.WriteString(body)
	return []byte(b.String())
}

func tag(callID string) string {
	h := uint32(2166136261)
	for i := 0; i < len(callID); i++ {
		h = (h ^ uint32(callID[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

// signer signs claims for one example's PKI.
type signer struct{ pki *stirtest.PKI }

func (s signer) sign(c stirtest.Credential, attest, orig, dest string) string {
	x5u := X5U
	if c != stirtest.Good {
		// Each credential's chain is served from its own URL (pki/<name>.pem).
		x5u = "https://cert.example.org/" + c.String() + ".pem"
	}
	return s.pki.Identity(c, x5u, stirtest.Claims{Attest: attest, Orig: orig, Dest: []string{dest}, IAT: Now, OrigID: OrigID})
}

// newPKI writes a fresh test PKI into dir/pki.
func newPKI(dir string) (signer, error) {
	pki, err := stirtest.New(stirtest.Options{Now: Now, Validity: Validity})
	if err != nil {
		return signer{}, err
	}
	if _, err := pki.WriteFiles(filepath.Join(dir, "pki")); err != nil {
		return signer{}, err
	}
	return signer{pki}, nil
}

// tamperSignature flips one character of the JWS signature of an Identity
// header value, leaving it well-formed base64url.
func tamperSignature(identity string) string {
	tok, rest, _ := strings.Cut(identity, ";")
	i := strings.LastIndexByte(tok, '.') + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:] + ";" + rest
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// writeInvites writes each INVITE to dir/invites/name, passed through
// transform when it is not nil.
func writeInvites(dir string, invites map[string]invite, transform func([]byte) []byte) error {
	for name, in := range invites {
		b := in.bytes()
		if transform != nil {
			b = transform(b)
		}
		if err := writeFile(filepath.Join(dir, "invites", name), b); err != nil {
			return err
		}
	}
	return nil
}

// Generate writes every example's generated files under root.
func Generate(root string) error {
	for _, g := range []func(string) error{carrierxSTIR, attestationRouting, outboundAttestation, headerHygiene} {
		if err := g(root); err != nil {
			return err
		}
	}
	return nil
}

var (
	carrierPeer  = netip.MustParseAddrPort("192.0.2.10:5060")
	otherPeer    = netip.MustParseAddrPort("198.51.100.7:5060")
	xformdAddr   = netip.MustParseAddrPort("203.0.113.5:5060")
	carrierPeer6 = netip.MustParseAddrPort("[2001:db8:10::10]:5060")
	xformdAddr6  = netip.MustParseAddrPort("[2001:db8:20::5]:5060")
)

// carrierxSTIR: the CarrierX chain of issue 2 on signed (A, B, C),
// unsigned, tampered and expired-certificate INVITEs.
func carrierxSTIR(root string) error {
	dir := filepath.Join(root, "carrierx-stir")
	s, err := newPKI(dir)
	if err != nil {
		return err
	}
	const caller, called = "12155551212", "12155550000"
	invites := map[string]invite{
		"signed-a.sip": {callID: "signed-a@192.0.2.10", display: "Alice Wonderland-Smith", from: caller, to: called, source: "192.0.2.10",
			ident: []string{s.sign(stirtest.Good, "A", caller, called)}},
		"signed-b.sip": {callID: "signed-b@192.0.2.10", display: "Bob", from: "12155551313", to: called, source: "192.0.2.10",
			ident: []string{s.sign(stirtest.Good, "B", "12155551313", called)}},
		"signed-c.sip": {callID: "signed-c@192.0.2.10", display: "Carol", from: "12155551414", to: called, source: "192.0.2.10",
			ident: []string{s.sign(stirtest.Good, "C", "12155551414", called)}},
		"unsigned.sip": {callID: "unsigned@198.51.100.7", display: "Dave", from: "13105550000", to: called, source: "198.51.100.7"},
		// Signed for one number, sent with another: orig.tn mismatch (438).
		"tampered-from.sip": {callID: "tampered-from@198.51.100.7", display: "Your Bank", from: "18005551234", to: called, source: "198.51.100.7",
			ident: []string{s.sign(stirtest.Good, "A", caller, called)}},
		// The signature does not match the header and claims (438).
		"tampered-signature.sip": {callID: "tampered-sig@198.51.100.7", display: "Eve", from: caller, to: called, source: "198.51.100.7",
			ident: []string{tamperSignature(s.sign(stirtest.Good, "A", caller, called))}},
		// Signed with a certificate that expired before the call (437).
		"expired-cert.sip": {callID: "expired-cert@198.51.100.7", display: "Frank", from: caller, to: called, source: "198.51.100.7",
			ident: []string{s.sign(stirtest.Expired, "A", caller, called)}},
	}
	if err := writeInvites(dir, invites, nil); err != nil {
		return err
	}
	// A capture of the same calls as the network saw them: UDP over IPv4
	// (the signed A call fragmented, as large Identity INVITEs often are),
	// TCP over IPv6, with an OPTIONS ping in between.
	options := []byte("OPTIONS sip:xformd.example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-ping\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:ping@carrier.example.com>;tag=p1\r\nTo: <sip:xformd.example.net>\r\n" +
		"Call-ID: ping@192.0.2.10\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	conn := capturetest.TCPConn{Src: carrierPeer6, Dst: xformdAddr6, ISN: 1000}
	unsigned, tampered := invites["unsigned.sip"].bytes(), invites["tampered-from.sip"].bytes()
	stream := append(append([]byte{}, unsigned...), tampered...)
	var pkts []capturetest.Packet
	pkts = append(pkts, capturetest.UDPFragments(Now, carrierPeer, xformdAddr, invites["signed-a.sip"].bytes(), 576, 4242, nil)...)
	pkts = append(pkts, capturetest.UDP(Now.Add(time.Second), carrierPeer, xformdAddr, options))
	pkts = append(pkts, capturetest.UDP(Now.Add(2*time.Second), carrierPeer, xformdAddr, invites["signed-b.sip"].bytes()))
	pkts = append(pkts, conn.SYN(Now.Add(3*time.Second)))
	pkts = append(pkts, conn.Stream(Now.Add(3*time.Second), stream, 1200)...)
	pkts = append(pkts, conn.FIN(Now.Add(4*time.Second), len(stream)))
	var pcap bytes.Buffer
	if err := capturetest.WritePcap(&pcap, pkts); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "captures", "calls.pcap"), pcap.Bytes())
}

// attestationRouting: one INVITE per path of the per-attestation flows.
func attestationRouting(root string) error {
	dir := filepath.Join(root, "attestation-routing")
	s, err := newPKI(dir)
	if err != nil {
		return err
	}
	const called = "13125550100"
	invites := map[string]invite{
		"attest-a.sip": {callID: "route-a@192.0.2.10", display: "Alice", from: "12155551212", to: called, source: "192.0.2.10",
			ident: []string{s.sign(stirtest.Good, "A", "12155551212", called)}},
		"attest-b.sip": {callID: "route-b@192.0.2.10", display: "Bob", from: "12155551313", to: called, source: "192.0.2.10",
			ident: []string{s.sign(stirtest.Good, "B", "12155551313", called)}},
		"attest-c.sip": {callID: "route-c@192.0.2.10", display: "Carol", from: "12155551414", to: called, source: "192.0.2.10",
			ident: []string{s.sign(stirtest.Good, "C", "12155551414", called)}},
		"unsigned.sip": {callID: "route-none@198.51.100.7", display: "Dave", from: "13105550000", to: called, source: "198.51.100.7"},
		"failed.sip": {callID: "route-failed@198.51.100.7", display: "Mallory", from: "18005551234", to: called, source: "198.51.100.7",
			ident: []string{s.sign(stirtest.Good, "A", "12155551212", called)}},
	}
	return writeInvites(dir, invites, nil)
}

// outboundAttestation: unsigned calls from the operator's customers, to be
// signed with A, B or C.
func outboundAttestation(root string) error {
	dir := filepath.Join(root, "outbound-attestation")
	if _, err := newPKI(dir); err != nil {
		return err
	}
	invites := map[string]invite{
		// One of the operator's own numbers (2125550100-2125550199).
		"own-number.sip": {callID: "out-own@10.0.0.21", display: "Front Desk", from: "+12125550142", to: "+14155550123", source: "10.0.0.21"},
		// A customer's verified caller ID, not one of the operator's numbers.
		"verified-callerid.sip": {callID: "out-verified@10.0.0.22", display: "Acme Support", from: "+13125550142", to: "+14155550123", source: "10.0.0.22"},
		// Anything else: the operator knows the customer, not the number.
		"other.sip": {callID: "out-other@10.0.0.23", display: "Unknown", from: "+17185550199", to: "+14155550123", source: "10.0.0.23"},
		// The customer asserts a number in P-Asserted-Identity: that is the
		// calling number that gets signed.
		"pai.sip": {callID: "out-pai@10.0.0.21", display: "Reception", from: "anonymous", pai: "+12125550100", to: "+14155550123", source: "10.0.0.21"},
	}
	return writeInvites(dir, invites, nil)
}

// headerHygiene: INVITEs from a trusted and an untrusted peer carrying
// identity and X- headers, national numbers and odd caller names. They are
// written with bare LF line ends, as an operator's editor would save them.
func headerHygiene(root string) error {
	dir := filepath.Join(root, "header-hygiene")
	lf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }
	invites := map[string]invite{
		"trusted-peer.sip": {callID: "hyg-trusted@192.0.2.10", display: "Alice", from: "2155551212", to: "3125550100", pai: "+12155551212", source: "192.0.2.10",
			extra: []string{"X-Billing-Account: 7731", "X-Internal-Route: trunk-7"}},
		"untrusted-peer.sip": {callID: "hyg-untrusted@198.51.100.7", display: "Bank Security Dept. Fraud Line", from: "12155559999", to: "13125550100", pai: "+18005551234", source: "198.51.100.7",
			extra: []string{"P-Preferred-Identity: <sip:+18005551234@bank.example>", "Remote-Party-ID: <sip:+18005551234@bank.example>;party=calling", "X-Billing-Account: 1", "X-Internal-Route: premium"}},
		"no-cnam.sip": {callID: "hyg-nocnam@192.0.2.10", from: "+13125557777", to: "3125550100", source: "192.0.2.10"},
	}
	return writeInvites(dir, invites, lf)
}
