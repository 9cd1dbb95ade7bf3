package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"strings"
	"sync/atomic"
	"time"
)

// identitySigner makes the value of an Identity header (PASSporT token and
// its info/alg/ppt parameters) for one call.
type identitySigner interface {
	SignIdentity(attest, orig, dest string, iat time.Time, origID string) (string, error)
}

// token is one pair's Identity header values, signed at the same time.
type token struct {
	valid  string
	broken string // valid with the signature altered
	iat    time.Time
}

// tokenPool keeps Identity header values fresh during a run. Signing every
// call would spend the load generator's CPU, which the system under test
// shares on this machine, on work that is not being measured; instead each
// caller/callee pair has its own token, and a background goroutine
// re-signs the pairs one after another, evenly spread over the refresh
// interval, so that every call carries a valid iat at most one interval
// old (well inside the verifier's 60 s window) and the signing cost is a
// smooth trickle rather than bursts that would disturb the pacing.
type tokenPool struct {
	signer  identitySigner
	attest  string
	numbers int
	tokens  []atomic.Pointer[token]
}

// newTokenPool signs every pair once. A nil signer makes a pool whose
// tokens are empty, for runs of unsigned calls only.
func newTokenPool(signer identitySigner, attest string, numbers int) (*tokenPool, error) {
	p := &tokenPool{signer: signer, attest: attest, numbers: numbers, tokens: make([]atomic.Pointer[token], numbers)}
	now := time.Now()
	for j := range numbers {
		if err := p.resign(j, now); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// resign signs pair j anew with the given iat.
func (p *tokenPool) resign(j int, iat time.Time) error {
	t := &token{iat: iat}
	if p.signer != nil {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return err
		}
		tok, err := p.signer.SignIdentity(p.attest, origNumber(j), destNumber(j), iat, uuidString(id))
		if err != nil {
			return fmt.Errorf("sign token %d: %w", j, err)
		}
		t.valid, t.broken = tok, breakSignature(tok)
	}
	p.tokens[j].Store(t)
	return nil
}

// keepFresh re-signs the pairs round-robin, one every every/numbers, until
// ctx ends, so each pair is re-signed once per interval. A failed signature
// keeps the pair's previous token and is logged: calls then fail
// verification once it goes stale, which the run reports.
func (p *tokenPool) keepFresh(ctx context.Context, every time.Duration) {
	if p.signer == nil {
		return
	}
	step := max(every/time.Duration(p.numbers), time.Millisecond)
	batch := max(int(time.Millisecond*time.Duration(p.numbers)/every), 1) // pairs per step when step is clamped
	t := time.NewTicker(step)
	defer t.Stop()
	j := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for range batch {
				if err := p.resign(j, now); err != nil {
					log.Printf("token refresh: %v", err)
				}
				j = (j + 1) % p.numbers
			}
		}
	}
}

// valid returns the current Identity header value of pair j.
func (p *tokenPool) valid(j int) string { return p.tokens[j].Load().valid }

// broken returns pair j's Identity header value with a signature that does
// not verify.
func (p *tokenPool) broken(j int) string { return p.tokens[j].Load().broken }

// oldest returns the iat of the stalest token, for tests.
func (p *tokenPool) oldest() time.Time {
	o := p.tokens[0].Load().iat
	for j := range p.tokens {
		if t := p.tokens[j].Load().iat; t.Before(o) {
			o = t
		}
	}
	return o
}

// breakSignature changes the first character of the token's signature
// (the third dot-separated part) so that it stays valid base64url of the
// right length but no longer verifies. The first character is used because
// the last one carries padding bits that lenient decoders ignore.
func breakSignature(identity string) string {
	first := strings.IndexByte(identity, '.')
	if first < 0 {
		return identity + "x"
	}
	second := strings.IndexByte(identity[first+1:], '.')
	if second < 0 {
		return identity + "x"
	}
	at := first + 1 + second + 1
	if at >= len(identity) {
		return identity + "x"
	}
	c := byte('A')
	if identity[at] == 'A' {
		c = 'B'
	}
	return identity[:at] + string(c) + identity[at+1:]
}

// uuidString formats 16 random bytes as a version 4 UUID, as SHAKEN's
// origid wants.
func uuidString(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
