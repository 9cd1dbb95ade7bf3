package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"

	"sync"
	"sync/atomic"
	"time"
)

// outcome is what became of one call. The zero value means "no final
// response yet".
type outcome int32

const (
	outPending   outcome = iota
	outOK                // the expected final status (and header, if checked)
	outBadStatus         // another final status than expected
	outBadHeader         // expected status but the checked header was missing or different
	outSendError         // the INVITE could not be sent
	outTimeout           // no final response within the timeout
)

// outcomeName names outcomes for -show.
var outcomeName = [...]string{"pending", "ok", "bad status", "bad header", "send error", "timeout"}

// config is one load run.
type config struct {
	target      string        // host:port of the system under test (UDP)
	rate        float64       // INVITEs per second, open loop
	duration    time.Duration // how long to send
	conns       int           // UDP sockets (and sender goroutines), each with its own source port
	timeout     time.Duration // how long a call may wait for its final response
	unsignedPct float64       // share of calls without Identity, in percent
	badSigPct   float64       // share of calls with a broken signature, in percent
	numbers     int           // distinct caller/callee pairs (one token each)
	display     string        // caller display name
	// wantStatus is the final status each kind of call must get.
	wantStatus [3]int
	// wantHeader and wantValue, when wantHeader is set, name a header that
	// the final response of every signed call must carry with exactly that
	// value (e.g. X-StirResult: TN-Validation-Passed-A).
	wantHeader string
	wantValue  string
	// show is how many final responses (the first of each call) to copy
	// verbatim to showTo, for checking what the system under test answers.
	show   int
	showTo io.Writer
}

// validate reports the first unusable setting.
func (c *config) validate() error {
	switch {
	case c.target == "":
		return errors.New("no target")
	case c.rate <= 0 || c.rate > 1e6:
		return fmt.Errorf("rate %v out of range (0, 1e6]", c.rate)
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return fmt.Errorf("duration %v out of range (0, 10m]", c.duration)
	case c.conns < 1 || c.conns > 256:
		return fmt.Errorf("conns %d out of range [1, 256]", c.conns)
	case c.timeout <= 0 || c.timeout > time.Minute:
		return fmt.Errorf("timeout %v out of range (0, 1m]", c.timeout)
	case c.unsignedPct < 0 || c.badSigPct < 0 || c.unsignedPct+c.badSigPct > 100:
		return errors.New("unsigned and badsig percentages must be >= 0 and add up to at most 100")
	case c.numbers < 1 || c.numbers > 10000:
		return fmt.Errorf("numbers %d out of range [1, 10000]", c.numbers)
	}
	host, _, err := net.SplitHostPort(c.target)
	if err != nil {
		return fmt.Errorf("target %q: %w", c.target, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q: only loopback addresses are allowed", c.target)
	}
	return nil
}

// total is the number of calls the run sends.
func (c *config) total() int {
	return int(c.rate*c.duration.Seconds() + 0.5)
}

// kindOf spreads the kinds of calls evenly over the run. It is a pure
// function of the index so sender and receiver agree without sharing state.
func (c *config) kindOf(index int) callKind {
	if c.unsignedPct == 0 && c.badSigPct == 0 {
		return kindSigned
	}
	// Multiplicative hashing scatters consecutive indexes over [0, 10000).
	slot := float64(uint32(uint64(index)*2654435761)%10000) / 100
	switch {
	case slot < c.unsignedPct:
		return kindUnsigned
	case slot < c.unsignedPct+c.badSigPct:
		return kindBadSig
	}
	return kindSigned
}

// origNumber and destNumber are the caller and callee of the j-th pair.
func origNumber(j int) string { return fmt.Sprintf("1215555%04d", j) }
func destNumber(j int) string { return fmt.Sprintf("1310555%04d", j) }

// pairs are the caller and callee numbers of every pair, formatted once.
type pairs struct{ orig, dest []string }

func newPairs(n int) pairs {
	p := pairs{orig: make([]string, n), dest: make([]string, n)}
	for j := range n {
		p.orig[j], p.dest[j] = origNumber(j), destNumber(j)
	}
	return p
}

// runner executes one config. Per-call state lives in slices indexed by the
// call number, which the Call-ID carries, so matching a response costs no
// lock and no map.
type runner struct {
	cfg    config
	tokens *tokenPool
	pairs  pairs
	runID  string
	n      int
	t0     time.Time
	period float64 // nanoseconds between scheduled sends

	sentAt  []atomic.Int64 // 1 + ns after t0 when the INVITE left, 0 = not sent
	latency []int64        // ns from scheduled send to final response; owned by whoever set result
	result  []atomic.Int32 // outcome
	status  []int32        // final status, owned by whoever set result

	outstanding atomic.Int64
	stray       atomic.Int64 // responses that match no call of this run
	duplicates  atomic.Int64 // final responses for calls already answered (retransmissions)
	readErrors  atomic.Int64
	lastAnswer  atomic.Int64 // ns after t0 of the last first final response
	lastSend    atomic.Int64 // ns after t0 of the last INVITE sent
	shown       atomic.Int64 // responses copied to cfg.showTo so far
	showMu      sync.Mutex
}

// newRunner prepares the per-call state of a run.
func newRunner(cfg config, tokens *tokenPool) (*runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("run id: %w", err)
	}
	n := cfg.total()
	if n < 1 {
		return nil, errors.New("rate × duration is less than one call")
	}
	return &runner{
		cfg:     cfg,
		tokens:  tokens,
		pairs:   newPairs(cfg.numbers),
		runID:   hex.EncodeToString(id[:]),
		n:       n,
		period:  1e9 / cfg.rate,
		sentAt:  make([]atomic.Int64, n),
		latency: make([]int64, n),
		result:  make([]atomic.Int32, n),
		status:  make([]int32, n),
	}, nil
}

// scheduled is when call i is due, in ns after t0.
func (r *runner) scheduled(i int) int64 { return int64(float64(i) * r.period) }

// params fills p for call i on a socket whose local address is local.
func (r *runner) params(p *inviteParams, i int, local string) {
	j := i % r.cfg.numbers
	*p = inviteParams{
		runID:   r.runID,
		index:   i,
		local:   local,
		target:  r.cfg.target,
		orig:    r.pairs.orig[j],
		dest:    r.pairs.dest[j],
		display: r.cfg.display,
	}
}

// run sends the calls, waits for their answers and returns the collected
// results. ctx cancels the run early (the calls not sent are not counted).
func (r *runner) run(ctx context.Context) (*summary, error) {
	conns := make([]*net.UDPConn, r.cfg.conns)
	raddr, err := net.ResolveUDPAddr("udp", r.cfg.target)
	if err != nil {
		return nil, err
	}
	for k := range conns {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, raddr)
		if err != nil {
			for _, c := range conns[:k] {
				c.Close()
			}
			return nil, fmt.Errorf("socket: %w", err)
		}
		// Best effort: bursts must not be lost in the load generator's own
		// buffers, or its losses would be charged to the system under test.
		_ = c.SetReadBuffer(4 << 20)
		_ = c.SetWriteBuffer(4 << 20)
		conns[k] = c
	}

	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r.receive(c)
		}()
	}

	drops0 := udpRcvbufErrors()
	cpu0 := cpuTime()
	r.t0 = time.Now()
	var senders sync.WaitGroup
	for k, c := range conns {
		senders.Add(1)
		go func() {
			defer senders.Done()
			r.send(ctx, k, c)
		}()
	}
	senders.Wait()
	sendEnd := time.Since(r.t0)

	// Wait for the outstanding answers, at most the call timeout after the
	// last send.
	deadline := time.Duration(r.lastSend.Load()) + r.cfg.timeout
	for r.outstanding.Load() > 0 && time.Since(r.t0) < deadline && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	// Answers still in flight keep coming for a moment: give retransmitted
	// finals a short grace to be ACKed, then close.
	time.Sleep(20 * time.Millisecond)
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	cpu := cpuTime() - cpu0
	s := r.summarize(sendEnd, cpu)
	s.UDPRcvbufErrors = -1
	if drops1 := udpRcvbufErrors(); drops0 >= 0 && drops1 >= 0 {
		s.UDPRcvbufErrors = drops1 - drops0
	}
	return s, nil
}

// send is the pacing loop of sender k: it sends calls k, k+conns, k+2·conns…
// each at its scheduled time. A sender that falls behind sends at once
// (open loop: the offered load never waits for answers).
func (r *runner) send(ctx context.Context, k int, c *net.UDPConn) {
	local := c.LocalAddr().String()
	buf := make([]byte, 0, 4096)
	var p inviteParams
	for i := k; i < r.n; i += r.cfg.conns {
		if i%64 == k%64 && ctx.Err() != nil {
			return
		}
		due := r.scheduled(i)
		if d := time.Duration(due) - time.Since(r.t0); d > 20*time.Microsecond {
			time.Sleep(d)
		}
		r.params(&p, i, local)
		switch r.cfg.kindOf(i) {
		case kindSigned:
			p.identity = r.tokens.valid(i % r.cfg.numbers)
		case kindBadSig:
			p.identity = r.tokens.broken(i % r.cfg.numbers)
		}
		buf = appendInvite(buf[:0], &p)
		r.outstanding.Add(1)
		now := int64(time.Since(r.t0))
		r.sentAt[i].Store(now + 1) // +1: zero means "not sent"
		if _, err := c.Write(buf); err != nil {
			if r.result[i].CompareAndSwap(int32(outPending), int32(outSendError)) {
				r.outstanding.Add(-1)
			}
			continue
		}
		storeMax(&r.lastSend, now)
	}
}

// receive reads the answers arriving on c until c is closed, records the
// first final response of each call and ACKs every non-2xx final response.
func (r *runner) receive(c *net.UDPConn) {
	local := c.LocalAddr().String()
	buf := make([]byte, 65536)
	ack := make([]byte, 0, 1024)
	wantName := []byte(toLowerASCII(r.cfg.wantHeader))
	var resp response
	var p inviteParams
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP port unreachable and the like: the calls concerned
			// time out and are counted there.
			r.readErrors.Add(1)
			continue
		}
		at := int64(time.Since(r.t0))
		if !parseResponse(buf[:n], wantName, &resp) || !resp.cseqINV {
			r.stray.Add(1)
			continue
		}
		if resp.status < 200 {
			continue // provisional
		}
		i := parseCallIndex(resp.callID, r.runID)
		if i < 0 || i >= r.n {
			r.stray.Add(1)
			continue
		}
		if resp.status >= 300 {
			r.params(&p, i, local)
			ack = appendAck(ack[:0], &p, resp.to)
			_, _ = c.Write(ack)
		}
		res := r.judge(i, &resp)
		if !r.result[i].CompareAndSwap(int32(outPending), int32(res)) {
			r.duplicates.Add(1)
			continue
		}
		if r.cfg.show > 0 && r.shown.Add(1) <= int64(r.cfg.show) {
			r.showMu.Lock()
			fmt.Fprintf(r.cfg.showTo, "--- call %d (%s): %s\n%s\n", i, r.cfg.kindOf(i), outcomeName[res], buf[:n])
			r.showMu.Unlock()
		}
		r.status[i] = int32(resp.status)
		r.latency[i] = at - r.scheduled(i)
		r.outstanding.Add(-1)
		storeMax(&r.lastAnswer, at)
	}
}

// judge decides whether a final response is the right answer for call i.
func (r *runner) judge(i int, resp *response) outcome {
	kind := r.cfg.kindOf(i)
	if resp.status != r.cfg.wantStatus[kind] {
		return outBadStatus
	}
	if kind == kindSigned && r.cfg.wantHeader != "" && string(resp.want) != r.cfg.wantValue {
		return outBadHeader
	}
	return outOK
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// toLowerASCII lower-cases ASCII letters.
func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
