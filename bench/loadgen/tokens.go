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

// tokenSet is one generation of Identity header values, one per caller and
// callee pair, all signed at the same time.
type tokenSet struct {
	valid  []string
	broken []string // valid with the signature altered
	iat    time.Time
}

// tokenPool keeps Identity header values fresh during a run. Signing every
// call would spend the load generator's CPU, which the system under test
// shares on this machine, on work that is not being measured; instead every
// pair's token is re-signed in the background well inside the verifier's
// freshness window (60 s by default), so every call carries a valid, recent
// iat.
type tokenPool struct {
	signer  identitySigner
	attest  string
	numbers int
	cur     atomic.Pointer[tokenSet]
}

// newTokenPool signs the first generation. A nil signer makes a pool whose
// tokens are empty, for runs of unsigned calls only.
func newTokenPool(signer identitySigner, attest string, numbers int) (*tokenPool, error) {
	p := &tokenPool{signer: signer, attest: attest, numbers: numbers}
	if err := p.refresh(time.Now()); err != nil {
		return nil, err
	}
	return p, nil
}

// refresh signs a new generation with the given iat and swaps it in.
func (p *tokenPool) refresh(iat time.Time) error {
	set := &tokenSet{valid: make([]string, p.numbers), broken: make([]string, p.numbers), iat: iat}
	if p.signer != nil {
		for j := range p.numbers {
			var id [16]byte
			if _, err := rand.Read(id[:]); err != nil {
				return err
			}
			origID := uuidString(id)
			tok, err := p.signer.SignIdentity(p.attest, origNumber(j), destNumber(j), iat, origID)
			if err != nil {
				return fmt.Errorf("sign token %d: %w", j, err)
			}
			set.valid[j] = tok
			set.broken[j] = breakSignature(tok)
		}
	}
	p.cur.Store(set)
	return nil
}

// keepFresh re-signs the pool every interval until ctx ends. A failed
// refresh keeps the previous generation and is logged: calls then fail
// verification once it goes stale, which the run reports.
func (p *tokenPool) keepFresh(ctx context.Context, every time.Duration) {
	if p.signer == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := p.refresh(now); err != nil {
				log.Printf("token refresh: %v", err)
			}
		}
	}
}

// valid returns the current Identity header value of pair j.
func (p *tokenPool) valid(j int) string { return p.cur.Load().valid[j] }

// broken returns pair j's Identity header value with a signature that does
// not verify.
func (p *tokenPool) broken(j int) string { return p.cur.Load().broken[j] }

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
