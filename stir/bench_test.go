package stir

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/xformd/xformd/stir/stirtest"
)

// The benchmarks compare a full verification (certificate cached) and a
// full signing with the raw P-256 operations they are built on; README
// reports the ratios. Targets: Validate at most 1.15x ECDSAVerify.

// benchPKI returns a PKI and a verifier that fetches certificates from a
// local TLS server, as in production; the benchmarks warm its cache first.
func benchPKI(b *testing.B) (*stirtest.PKI, *Verifier, time.Time, string) {
	b.Helper()
	fx := newFixture(b)
	cs := newCertServer(b, fx, nil)
	v := cs.verifier(b, nil)
	return fx.pki, v, testNow, cs.URL + "/shaken.pem"
}

// BenchmarkECDSAVerify is the floor: one crypto/ecdsa P-256 verification
// of a precomputed SHA-256 hash.
func BenchmarkECDSAVerify(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, sum[:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkValidate is a full SHAKEN verification of a typical Identity
// header with the certificate chain fetched once from a local https server
// and then served from the cache: header and PASSporT parsing, claim and
// freshness checks, cache lookup, SHA-256 and ECDSA.
func BenchmarkValidate(b *testing.B) {
	p, v, now, x5u := benchPKI(b)
	id := p.Identity(stirtest.Good, x5u, stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: now, OrigID: "123e4567-e89b-12d3-a456-426614174000"})
	in := Input{Identities: []string{id}, Orig: "+12155551212", Dest: []string{"12155550000", "12155550000"}, Now: now}
	ctx := context.Background()
	if r := v.Verify(ctx, in); r.Verstat != VerstatPassed {
		b.Fatal(r.Error)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(ctx, in); r.Verstat != VerstatPassed {
			b.Fatal(r.Error)
		}
	}
}

// BenchmarkECDSASign is the floor for signing: one crypto/ecdsa P-256
// signature of a precomputed hash.
func BenchmarkECDSASign(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("header.payload"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, sum[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign builds and signs a SHAKEN PASSporT and formats the
// Identity header, with a caller-supplied origid.
func BenchmarkSign(b *testing.B) {
	p, _, now, _ := benchPKI(b)
	s, err := NewSigner(stirtest.KeyPEM(p.LeafKey), "https://cert.example.org/shaken.pem")
	if err != nil {
		b.Fatal(err)
	}
	c := Claims{Attest: "A", Orig: "+1 215 555 1212", Dest: []string{"12155550000"}, IAT: now, OrigID: "123e4567-e89b-12d3-a456-426614174000"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

// interleave runs raw and full alternately in one loop, timing each, and
// reports their average costs and ratio. Taking both in the same loop
// cancels out the load drift of a shared machine, which separate
// benchmarks cannot.
func interleave(b *testing.B, fullName string, raw, full func() error) {
	var tRaw, tFull time.Duration
	for b.Loop() {
		t0 := time.Now()
		err1 := raw()
		t1 := time.Now()
		err2 := full()
		t2 := time.Now()
		if err1 != nil || err2 != nil {
			b.Fatal(err1, err2)
		}
		tRaw += t1.Sub(t0)
		tFull += t2.Sub(t1)
	}
	b.ReportMetric(float64(tRaw.Nanoseconds())/float64(b.N), "ecdsa-ns/op")
	b.ReportMetric(float64(tFull.Nanoseconds())/float64(b.N), fullName+"-ns/op")
	b.ReportMetric(float64(tFull)/float64(tRaw), "ratio")
}

// BenchmarkValidateVsECDSA alternates one raw ECDSA verification and one
// full verification (certificate cached) and reports their cost ratio.
func BenchmarkValidateVsECDSA(b *testing.B) {
	p, v, now, x5u := benchPKI(b)
	id := p.Identity(stirtest.Good, x5u, stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: now, OrigID: "123e4567-e89b-12d3-a456-426614174000"})
	in := Input{Identities: []string{id}, Orig: "+12155551212", Dest: []string{"12155550000", "12155550000"}, Now: now}
	ctx := context.Background()
	sum := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, p.LeafKey, sum[:])
	interleave(b, "validate", func() error {
		if !ecdsa.VerifyASN1(&p.LeafKey.PublicKey, sum[:], sig) {
			return errors.New("raw verification failed")
		}
		return nil
	}, func() error {
		if r := v.Verify(ctx, in); r.Verstat != VerstatPassed {
			return errors.New(r.Error)
		}
		return nil
	})
}

// BenchmarkSignVsECDSA does the same for signing: one raw ECDSA signature
// and one full Signer.Sign per iteration.
func BenchmarkSignVsECDSA(b *testing.B) {
	p, _, now, _ := benchPKI(b)
	s, err := NewSigner(stirtest.KeyPEM(p.LeafKey), "https://cert.example.org/shaken.pem")
	if err != nil {
		b.Fatal(err)
	}
	c := Claims{Attest: "A", Orig: "+1 215 555 1212", Dest: []string{"12155550000"}, IAT: now, OrigID: "123e4567-e89b-12d3-a456-426614174000"}
	sum := sha256.Sum256([]byte("header.payload"))
	interleave(b, "sign", func() error {
		_, err := ecdsa.SignASN1(rand.Reader, p.LeafKey, sum[:])
		return err
	}, func() error {
		_, err := s.Sign(c)
		return err
	})
}

// BenchmarkParse is the non-cryptographic part of a verification: the
// Identity header and the PASSporT (base64url, both JSON objects).
func BenchmarkParse(b *testing.B) {
	p := stirtest.NewT(b, stirtest.Options{})
	id := p.Identity(stirtest.Good, "https://cert.example.org/shaken.pem", stirtest.Claims{Attest: "A", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: time.Unix(1780315200, 0), OrigID: "123e4567-e89b-12d3-a456-426614174000"})
	b.ReportAllocs()
	for b.Loop() {
		h, err := ParseIdentity(id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParsePASSporT(h.Token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateParallel runs verifications on every CPU at once
// against one cached certificate, to show that the shared cache does not
// serialise calls.
func BenchmarkValidateParallel(b *testing.B) {
	p, v, now, x5u := benchPKI(b)
	id := p.Identity(stirtest.Good, x5u, stirtest.Claims{Attest: "B", Orig: "12155551212", Dest: []string{"12155550000"}, IAT: now, OrigID: "123e4567-e89b-12d3-a456-426614174000"})
	in := Input{Identities: []string{id}, Orig: "12155551212", Dest: []string{"12155550000"}, Now: now}
	if r := v.Verify(context.Background(), in); r.Verstat != VerstatPassed {
		b.Fatal(r.Error)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := v.Verify(context.Background(), in); r.Verstat != VerstatPassed {
				b.Error(r.Error)
				return
			}
		}
	})
}
