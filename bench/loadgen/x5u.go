package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/xformd/xformd/stir/stirtest"
)

// serveX5U serves the certificate chain in file at every path on addr, a
// loopback address, until ctx ends. It lets a verifier that fetches x5u
// URLs over HTTP (Kamailio's secsipid) get the certificate locally instead
// of from the network; such verifiers cache it after the first call.
func serveX5U(ctx context.Context, addr, file string) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("x5u server address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("x5u server address %q: only loopback addresses are allowed", addr)
	}
	chain, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Header().Set("Cache-Control", "max-age=86400")
			_, _ = w.Write(chain)
		}),
		ReadHeaderTimeout: 2 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return func() { close(stopped) }, nil
}

// pkiSigner signs Identity headers with a private key and certificate URL,
// using the test-PKI helper's PASSporT encoding (ES256, R||S, SHAKEN
// header with x5u, lexicographic claims).
type pkiSigner struct {
	key *ecdsa.PrivateKey
	x5u string
}

// loadSigner reads a P-256 private key (PKCS#8 or SEC 1 PEM).
func loadSigner(keyFile, x5u string) (*pkiSigner, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", keyFile)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("%s: not a PKCS#8 or SEC 1 private key: %w", keyFile, err)
		}
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA key", keyFile)
	}
	if x5u == "" {
		return nil, errors.New("signing needs an x5u URL")
	}
	return &pkiSigner{key: ec, x5u: x5u}, nil
}

// SignIdentity implements identitySigner.
func (s *pkiSigner) SignIdentity(attest, orig, dest string, iat time.Time, origID string) (string, error) {
	claims := stirtest.Claims{Attest: attest, Orig: orig, Dest: []string{dest}, IAT: iat, OrigID: origID}
	token := stirtest.PASSporT(s.key, stirtest.ShakenHeader(s.x5u), claims)
	return stirtest.IdentityHeader(token, s.x5u), nil
}

// writePKI generates a test PKI into dir and returns what was written.
func writePKI(dir string) (*stirtest.Files, error) {
	p, err := stirtest.New(stirtest.Options{})
	if err != nil {
		return nil, err
	}
	return p.WriteFiles(dir)
}
