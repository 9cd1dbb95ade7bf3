package stir

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xformd/xformd/stir/stirtest"
)

// certServer serves the fixture's chains over TLS on 127.0.0.1 and counts
// requests per path. Its handler can be replaced per test.
type certServer struct {
	*httptest.Server
	fx    *fixture
	hits  sync.Map // path -> *atomic.Int32
	cache string   // Cache-Control header, if any
}

func newCertServer(t testing.TB, fx *fixture, extra func(w http.ResponseWriter, r *http.Request) bool) *certServer {
	cs := &certServer{fx: fx}
	cs.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := cs.hits.LoadOrStore(r.URL.Path, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if extra != nil && extra(w, r) {
			return
		}
		for _, c := range stirtest.Credentials {
			if r.URL.Path == "/"+c.String()+".pem" {
				if cs.cache != "" {
					w.Header().Set("Cache-Control", cs.cache)
				}
				w.Header().Set("Content-Type", "application/pem-certificate-chain")
				w.Write(fx.pki.ChainPEM(c))
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *certServer) count(path string) int {
	n, ok := cs.hits.Load(path)
	if !ok {
		return 0
	}
	return int(n.(*atomic.Int32).Load())
}

func (cs *certServer) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(cs.Certificate())
	return pool
}

// fetchVerifier is a verifier that fetches from the test server.
func (cs *certServer) verifier(t testing.TB, mod func(*Config)) *Verifier {
	cfg := Config{TrustDir: cs.fx.files.TrustDir, AllowFetch: true, AllowPrivate: true, HTTPSRoots: cs.roots()}
	if mod != nil {
		mod(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func (fx *fixture) input(c stirtest.Credential, x5u string) Input {
	return Input{Identities: []string{fx.pki.Identity(c, x5u, goodClaims())}, Orig: caller, Dest: []string{called}, Now: testNow}
}

func TestFetchAndCache(t *testing.T) {
	fx := newFixture(t)
	cs := newCertServer(t, fx, nil)
	var hits, misses, errs atomic.Int32
	v := cs.verifier(t, func(c *Config) {
		c.Hooks = Hooks{CacheHit: func() { hits.Add(1) }, CacheMiss: func() { misses.Add(1) }, FetchError: func() { errs.Add(1) }}
	})
	x5u := cs.URL + "/shaken.pem"
	for i := 0; i < 3; i++ {
		if r := v.Verify(context.Background(), fx.input(stirtest.Good, x5u)); r.Verstat != VerstatPassed || r.X5U != x5u || r.SPC != "707J" {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	if n := cs.count("/shaken.pem"); n != 1 {
		t.Errorf("%d fetches, want 1 (cached)", n)
	}
	if hits.Load() != 2 || misses.Load() != 1 || errs.Load() != 0 {
		t.Errorf("hooks: hit %d miss %d error %d", hits.Load(), misses.Load(), errs.Load())
	}
	// Fetched but failing certificates give 437, like static ones.
	for _, c := range []stirtest.Credential{stirtest.Expired, stirtest.Untrusted, stirtest.NoTNAuthList} {
		if r := v.Verify(context.Background(), fx.input(c, cs.URL+"/"+c.String()+".pem")); r.ErrorCode != "437" {
			t.Errorf("%s: %+v", c, r)
		}
	}
}

func TestFetchSharedInFlight(t *testing.T) {
	fx := newFixture(t)
	release := make(chan struct{})
	cs := newCertServer(t, fx, func(w http.ResponseWriter, r *http.Request) bool {
		<-release
		return false
	})
	v := cs.verifier(t, nil)
	x5u := cs.URL + "/shaken.pem"
	in := fx.input(stirtest.Good, x5u)
	const n = 20
	var wg sync.WaitGroup
	results := make([]Result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = v.Verify(context.Background(), in)
		}(i)
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, r := range results {
		if r.Verstat != VerstatPassed {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	if got := cs.count("/shaken.pem"); got != 1 {
		t.Errorf("%d fetches for %d concurrent calls, want 1", got, n)
	}
}

func TestFetchRefusals(t *testing.T) {
	fx := newFixture(t)
	big := strings.Repeat("A", 20<<10)
	other := newCertServer(t, fx, nil)
	cs := newCertServer(t, fx, func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/big.pem":
			w.Write([]byte(big))
		case "/big-length.pem":
			w.Header().Set("Content-Length", "1000000")
			w.WriteHeader(200)
		case "/garbage.pem":
			w.Write([]byte("not a certificate"))
		case "/elsewhere.pem":
			http.Redirect(w, r, other.URL+"/shaken.pem", http.StatusFound)
		case "/moved.pem":
			http.Redirect(w, r, "/shaken.pem", http.StatusMovedPermanently)
		case "/loop.pem":
			http.Redirect(w, r, "/loop.pem", http.StatusFound)
		default:
			return false
		}
		return true
	})
	tests := []struct {
		name    string
		path    string
		url     string
		mod     func(*Config)
		code    string
		errPart string
	}{
		{name: "same-host redirect is followed", path: "/moved.pem"},
		{name: "loopback refused by default", path: "/shaken.pem", mod: func(c *Config) { c.AllowPrivate = false }, code: "436", errPart: "loopback"},
		{name: "private literal refused", url: "https://10.0.0.1/shaken.pem", mod: func(c *Config) { c.AllowPrivate = false }, code: "436", errPart: "private"},
		{name: "localhost name refused", url: "https://localhost/shaken.pem", mod: func(c *Config) { c.AllowPrivate = false }, code: "436", errPart: "localhost"},
		{name: "http refused", url: "http://cert.example.org/shaken.pem", code: "436", errPart: "not https"},
		{name: "other scheme refused", url: "file:///etc/passwd", code: "436", errPart: "not https"},
		{name: "user info refused", url: "https://u:p@cert.example.org/a.pem", code: "436", errPart: "user info"},
		{name: "fetch disabled", path: "/shaken.pem", mod: func(c *Config) { c.AllowFetch = false }, code: "436", errPart: "fetching is disabled"},
		{name: "not found", path: "/missing.pem", code: "436", errPart: "404"},
		{name: "too big", path: "/big.pem", code: "436", errPart: "more than 16384 bytes"},
		{name: "too big by Content-Length", path: "/big-length.pem", code: "436", errPart: "1000000 bytes"},
		{name: "not a certificate", path: "/garbage.pem", code: "437", errPart: "no certificate"},
		{name: "redirect to another host", path: "/elsewhere.pem", code: "436", errPart: "another host"},
		{name: "redirect loop", path: "/loop.pem", code: "436", errPart: "redirects"},
		{name: "untrusted TLS server", path: "/shaken.pem", mod: func(c *Config) { c.HTTPSRoots = x509.NewCertPool() }, code: "436", errPart: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := cs.verifier(t, tt.mod)
			x5u := tt.url
			if x5u == "" {
				x5u = cs.URL + tt.path
			}
			r := v.Verify(context.Background(), fx.input(stirtest.Good, x5u))
			if r.ErrorCode != tt.code || !strings.Contains(r.Error, tt.errPart) {
				t.Fatalf("code %q error %q, want %q containing %q", r.ErrorCode, r.Error, tt.code, tt.errPart)
			}
		})
	}
}

// TestFetchSlowServer: a server that never answers costs the call at most
// the fetch timeout, or the caller's deadline when that is shorter.
func TestFetchSlowServer(t *testing.T) {
	fx := newFixture(t)
	stop := make(chan struct{})
	cs := newCertServer(t, fx, func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
		return true
	})
	defer close(stop)
	for _, tt := range []struct {
		name     string
		timeout  time.Duration
		deadline time.Duration
	}{
		{"fetch timeout", 200 * time.Millisecond, 0},
		{"caller deadline", 5 * time.Second, 150 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := cs.verifier(t, func(c *Config) { c.FetchTimeout = tt.timeout })
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			start := time.Now()
			r := v.Verify(ctx, fx.input(stirtest.Good, cs.URL+"/slow-"+tt.name+".pem"))
			took := time.Since(start)
			if r.ErrorCode != "436" {
				t.Fatalf("%+v", r)
			}
			if took > 2*time.Second {
				t.Fatalf("verification took %s", took)
			}
		})
	}
}

func TestFetchSlowBody(t *testing.T) {
	fx := newFixture(t)
	cs := newCertServer(t, fx, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Length", "2000")
		w.WriteHeader(200)
		for i := 0; i < 100; i++ {
			if _, err := w.Write([]byte("A")); err != nil {
				return true
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return true
			}
		}
		return true
	})
	v := cs.verifier(t, func(c *Config) { c.FetchTimeout = 300 * time.Millisecond })
	start := time.Now()
	r := v.Verify(context.Background(), fx.input(stirtest.Good, cs.URL+"/trickle.pem"))
	if r.ErrorCode != "436" || time.Since(start) > 2*time.Second {
		t.Fatalf("%+v after %s", r, time.Since(start))
	}
}

func TestFetchFailureCached(t *testing.T) {
	fx := newFixture(t)
	cs := newCertServer(t, fx, nil)
	var errs atomic.Int32
	clock := testNow
	v := cs.verifier(t, func(c *Config) { c.Hooks.FetchError = func() { errs.Add(1) } })
	v.cache.now = func() time.Time { return clock }
	in := fx.input(stirtest.Good, cs.URL+"/missing.pem")
	for i := 0; i < 3; i++ {
		if r := v.Verify(context.Background(), in); r.ErrorCode != "436" {
			t.Fatalf("%+v", r)
		}
	}
	if n := cs.count("/missing.pem"); n != 1 || errs.Load() != 1 {
		t.Errorf("%d fetches, %d errors; want the failure cached", n, errs.Load())
	}
	clock = clock.Add(DefaultFailureTTL + time.Second)
	v.Verify(context.Background(), in)
	if n := cs.count("/missing.pem"); n != 2 {
		t.Errorf("%d fetches after the failure TTL, want 2", n)
	}
}

func TestCacheExpiry(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name     string
		header   string
		advance  time.Duration
		wantHits int
	}{
		{"max-age honoured", "max-age=60", 30 * time.Second, 1},
		{"max-age expires", "max-age=60", 61 * time.Second, 2},
		{"default TTL", "", 59 * time.Minute, 1},
		{"default TTL expires", "", 61 * time.Minute, 2},
		{"no-store", "no-store", 0, 2},
		{"max-age capped at 24h", "max-age=31536000", 25 * time.Hour, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newCertServer(t, fx, nil)
			cs.cache = tt.header
			clock := testNow
			v := cs.verifier(t, func(c *Config) { c.Window = 400 * 24 * time.Hour })
			v.cache.now = func() time.Time { return clock }
			in := fx.input(stirtest.Good, cs.URL+"/shaken.pem")
			if r := v.Verify(context.Background(), in); r.Verstat != VerstatPassed {
				t.Fatal(r.Error)
			}
			clock = clock.Add(tt.advance)
			v.Verify(context.Background(), in)
			if n := cs.count("/shaken.pem"); n != tt.wantHits {
				t.Errorf("%d fetches, want %d", n, tt.wantHits)
			}
		})
	}
	// The expiry never passes the leaf's NotAfter.
	cs := newCertServer(t, fx, nil)
	cs.cache = "max-age=86400"
	v := cs.verifier(t, nil)
	v.cache.now = func() time.Time { return fx.pki.Leaf.NotAfter.Add(-time.Hour) }
	e := v.cache.get(context.Background(), cs.URL+"/shaken.pem")
	if e.code != 0 || !e.expiry.Equal(fx.pki.Leaf.NotAfter) {
		t.Errorf("expiry %s, want NotAfter %s (%v)", e.expiry, fx.pki.Leaf.NotAfter, e.err)
	}
}

func TestCacheEviction(t *testing.T) {
	fx := newFixture(t)
	cs := newCertServer(t, fx, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/n") {
			w.Write(fx.pki.ChainPEM(stirtest.Good))
			return true
		}
		return false
	})
	v := cs.verifier(t, func(c *Config) { c.CacheEntries = 2 })
	for i := 0; i < 5; i++ {
		v.cache.get(context.Background(), fmt.Sprintf("%s/n%d.pem", cs.URL, i))
	}
	v.cache.mu.Lock()
	n := v.cache.lru.Len()
	_, newest := v.cache.items[cs.URL+"/n4.pem"]
	_, oldest := v.cache.items[cs.URL+"/n0.pem"]
	v.cache.mu.Unlock()
	if n != 2 || !newest || oldest {
		t.Errorf("cache holds %d entries (newest %v, oldest %v), want the 2 newest", n, newest, oldest)
	}
}

func TestCloseStopsFetch(t *testing.T) {
	fx := newFixture(t)
	stop := make(chan struct{})
	defer close(stop)
	cs := newCertServer(t, fx, func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
		return true
	})
	v := cs.verifier(t, func(c *Config) { c.FetchTimeout = time.Minute })
	go func() {
		time.Sleep(100 * time.Millisecond)
		v.Close()
	}()
	start := time.Now()
	r := v.Verify(context.Background(), fx.input(stirtest.Good, cs.URL+"/hang.pem"))
	if r.ErrorCode != "436" || time.Since(start) > 5*time.Second {
		t.Fatalf("%+v after %s", r, time.Since(start))
	}
}

// TestFetchExpiredCertificateCached: an expired certificate is remembered
// for the failure TTL instead of being fetched for every call.
func TestFetchExpiredCertificateCached(t *testing.T) {
	fx := newFixture(t)
	cs := newCertServer(t, fx, nil)
	v := cs.verifier(t, nil)
	in := fx.input(stirtest.Expired, cs.URL+"/expired.pem")
	in.Now = time.Now()
	c := goodClaims()
	c.IAT = in.Now
	in.Identities = []string{fx.pki.Identity(stirtest.Expired, cs.URL+"/expired.pem", c)}
	for i := 0; i < 3; i++ {
		if r := v.Verify(context.Background(), in); r.ErrorCode != "437" {
			t.Fatalf("%+v", r)
		}
	}
	if n := cs.count("/expired.pem"); n != 1 {
		t.Errorf("%d fetches of an expired certificate, want 1", n)
	}
}

// TestFetchInflightLimit: beyond the limit of concurrent fetches a new URL
// fails at once instead of starting another.
func TestFetchInflightLimit(t *testing.T) {
	fx := newFixture(t)
	release := make(chan struct{})
	cs := newCertServer(t, fx, func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	v := cs.verifier(t, nil)
	v.cache.maxInflight = 2
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v.cache.get(context.Background(), fmt.Sprintf("%s/shaken.pem?%d", cs.URL, i))
		}(i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v.cache.mu.Lock()
		n := len(v.cache.inflight)
		v.cache.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches in flight", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	e := v.cache.get(context.Background(), cs.URL+"/shaken.pem?third")
	if e.code != 436 || !strings.Contains(e.err.Error(), "in flight") || time.Since(start) > time.Second {
		t.Fatalf("third fetch: %d %v after %s", e.code, e.err, time.Since(start))
	}
	close(release)
	wg.Wait()
}
