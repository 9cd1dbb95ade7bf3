package stir

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxCacheTTL caps a Cache-Control max-age, so that a hostile server
// cannot pin a certificate in the cache for years.
const maxCacheTTL = 24 * time.Hour

// maxRedirects bounds same-host redirects of a certificate fetch.
const maxRedirects = 3

// maxInflight bounds concurrent certificate fetches, so that a flood of
// INVITEs naming distinct slow URLs cannot pile up goroutines and
// connections; beyond it a new URL fails at once with 436.
const maxInflight = 128

// certCache holds fetched certificate entries by URL, bounded in size
// (least recently used out first), with one fetch in flight per URL.
type certCache struct {
	cfg    *Config
	client *http.Client
	now    func() time.Time // real clock for expiry; replaced in tests
	base   context.Context  // cancelled by Verifier.Close
	cancel context.CancelFunc

	mu          sync.Mutex
	items       map[string]*list.Element // of *certEntry
	lru         *list.List
	inflight    map[string]*flight
	maxInflight int
}

// flight is one certificate fetch that concurrent callers share.
type flight struct {
	done  chan struct{}
	entry *certEntry
}

func newCertCache(cfg *Config) *certCache {
	c := &certCache{
		cfg:      cfg,
		now:      time.Now,
		items:    map[string]*list.Element{},
		lru:      list.New(),
		inflight: map[string]*flight{},

		maxInflight: maxInflight,
	}
	c.base, c.cancel = context.WithCancel(context.Background())
	dialer := &net.Dialer{Timeout: cfg.FetchTimeout}
	if !cfg.AllowPrivate {
		// Checking the address actually dialled, after DNS resolution,
		// defeats names that resolve (or rebind) to internal addresses.
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("refusing to connect to %s: %w", address, err)
			}
			if reason := forbiddenAddr(ap.Addr()); reason != "" {
				return fmt.Errorf("refusing to connect to %s: %s address", ap.Addr(), reason)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                  nil, // the fetch goes where the URL says, checked above
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: cfg.HTTPSRoots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.FetchTimeout,
		ResponseHeaderTimeout:  cfg.FetchTimeout,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		DisableCompression:     true,
	}
	c.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("redirect to another host (%s)", req.URL.Host)
			}
			if req.URL.Scheme != "https" && !cfg.AllowHTTP {
				return errors.New("redirect to plain http")
			}
			return nil
		},
	}
	return c
}

// forbiddenAddr says why an address may not be fetched from without
// AllowPrivate, or "" when it may.
func forbiddenAddr(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case cgnat.Contains(a):
		return "shared (CGNAT)"
	}
	return ""
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// checkURL refuses certificate URLs the configuration does not allow,
// before anything is dialled.
func (c *certCache) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad certificate URL: %w", err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !c.cfg.AllowHTTP {
			return fmt.Errorf("certificate URL %s is not https", clip(raw))
		}
	default:
		return fmt.Errorf("certificate URL %s is not https", clip(raw))
	}
	if u.Host == "" || u.User != nil {
		return fmt.Errorf("certificate URL %s has no host or has user info", clip(raw))
	}
	if !c.cfg.AllowPrivate {
		if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
			if reason := forbiddenAddr(a); reason != "" {
				return fmt.Errorf("certificate URL %s points at a %s address", clip(raw), reason)
			}
		}
		if h := strings.ToLower(u.Hostname()); h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return fmt.Errorf("certificate URL %s points at localhost", clip(raw))
		}
	}
	return nil
}

// lookup returns the cached entry for a URL, or nil.
func (c *certCache) lookup(url string) *certEntry {
	c.mu.Lock()
	e := c.lookupLocked(url)
	c.mu.Unlock()
	if e != nil && e.code == 0 && c.cfg.Hooks.CacheHit != nil {
		c.cfg.Hooks.CacheHit()
	}
	return e
}

// lookupLocked returns the cached entry for a URL, or nil, dropping an
// expired one; c.mu is held.
func (c *certCache) lookupLocked(url string) *certEntry {
	el, ok := c.items[url]
	if !ok {
		return nil
	}
	e := el.Value.(*certEntry)
	if c.now().Before(e.expiry) {
		c.lru.MoveToFront(el)
		return e
	}
	c.lru.Remove(el)
	delete(c.items, url)
	return nil
}

// get returns the entry for a URL from the cache, or fetches it, waiting
// no longer than ctx allows. The fetch itself runs under its own timeout,
// so that callers that give up early do not spoil it for the others.
func (c *certCache) get(ctx context.Context, url string) *certEntry {
	c.mu.Lock()
	if e := c.lookupLocked(url); e != nil {
		c.mu.Unlock()
		if e.code == 0 && c.cfg.Hooks.CacheHit != nil {
			c.cfg.Hooks.CacheHit()
		}
		return e
	}
	f, ok := c.inflight[url]
	if !ok {
		if len(c.inflight) >= c.maxInflight {
			c.mu.Unlock()
			if c.cfg.Hooks.FetchError != nil {
				c.cfg.Hooks.FetchError()
			}
			return &certEntry{url: url, code: 436, err: fmt.Errorf("%d certificate fetches already in flight", c.maxInflight)}
		}
		f = &flight{done: make(chan struct{})}
		c.inflight[url] = f
		if c.cfg.Hooks.CacheMiss != nil {
			c.cfg.Hooks.CacheMiss()
		}
		go c.run(url, f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.entry
	case <-ctx.Done():
		return &certEntry{url: url, code: 436, err: fmt.Errorf("certificate fetch did not finish in time: %w", ctx.Err())}
	}
}

// run performs one fetch, stores the result and releases the waiters.
func (c *certCache) run(url string, f *flight) {
	e := c.fetch(url)
	c.mu.Lock()
	delete(c.inflight, url)
	if e.expiry.After(c.now()) && c.cfg.CacheEntries > 0 {
		c.items[url] = c.lru.PushFront(e)
		for c.lru.Len() > c.cfg.CacheEntries {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.items, old.Value.(*certEntry).url)
		}
	}
	c.mu.Unlock()
	f.entry = e
	close(f.done)
}

// fetch gets and parses a certificate URL. A failure is an entry with
// code 436 (could not fetch) or 437 (fetched, but not a usable
// certificate), cached for FailureTTL.
func (c *certCache) fetch(url string) *certEntry {
	start := c.now()
	e := c.download(url)
	switch {
	case e.code != 0:
		if c.cfg.Hooks.FetchError != nil {
			c.cfg.Hooks.FetchError()
		}
		e.expiry = start.Add(c.cfg.FailureTTL)
	case e.leaf.NotAfter.Before(start):
		// An expired certificate fails every verification; remember it
		// like a failure rather than fetching it again on every call.
		e.expiry = start.Add(c.cfg.FailureTTL)
	}
	return e
}

func (c *certCache) download(url string) *certEntry {
	fail := func(err error) *certEntry { return &certEntry{url: url, code: 436, err: err} }
	ctx, cancel := context.WithTimeout(c.base, c.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", "application/pem-certificate-chain, application/x-pem-file;q=0.9, */*;q=0.1")
	req.Header.Set("User-Agent", "xformd-stir")
	start := c.now()
	resp, err := c.client.Do(req)
	if err != nil {
		return fail(fmt.Errorf("cannot fetch certificate: %w", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("cannot fetch certificate: HTTP %s", resp.Status))
	}
	if resp.ContentLength > c.cfg.MaxCertSize {
		return fail(fmt.Errorf("certificate document is %d bytes, more than %d", resp.ContentLength, c.cfg.MaxCertSize))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxCertSize+1))
	if err != nil {
		return fail(fmt.Errorf("cannot fetch certificate: %w", err))
	}
	if int64(len(data)) > c.cfg.MaxCertSize {
		return fail(fmt.Errorf("certificate document is more than %d bytes", c.cfg.MaxCertSize))
	}
	e := parseChain(url, data)
	if e.code != 0 {
		e.err = fmt.Errorf("bad certificate at %s: %w", clip(url), e.err)
		return e
	}
	ttl := cacheTTL(resp.Header.Values("Cache-Control"), c.cfg.CacheTTL)
	e.expiry = start.Add(ttl)
	if e.leaf.NotAfter.Before(e.expiry) {
		e.expiry = e.leaf.NotAfter
	}
	return e
}

// cacheTTL reads how long a response may be cached: max-age (capped),
// nothing for no-store or no-cache, else the default.
func cacheTTL(values []string, def time.Duration) time.Duration {
	ttl := def
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return 0
			case strings.HasPrefix(d, "max-age="):
				n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
				if err != nil || n < 0 {
					return 0
				}
				if n > int64(maxCacheTTL/time.Second) {
					return maxCacheTTL
				}
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return ttl
}

// close stops fetches in flight and idle connections.
func (c *certCache) close() {
	c.cancel()
	c.client.CloseIdleConnections()
}
