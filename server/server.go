// Package server is the xformd SIP daemon: sipgo listeners that run every
// INVITE through the compiled rule pipeline and answer it (redirect mode) or
// forward it (proxy mode), with hot reload of the rules, an admin HTTP API
// with Prometheus metrics, CDRs, overload protection and graceful shutdown.
//
// The call path is kept thin and lock-free: the current rules are one
// atomic pointer load, metrics are pre-resolved counters, a CDR is one
// write(2) of a line built in a pooled buffer.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
	"github.com/xformd/xformd/stir"
)

// Options are what New needs besides the configuration.
type Options struct {
	// Config is the validated configuration.
	Config *config.Config
	// Logger receives the daemon's logs. When nil, a logger is built from
	// Config.Log writing to LogOutput.
	Logger *slog.Logger
	// LogOutput is where the built logger writes; default os.Stderr.
	LogOutput io.Writer
	// Stdout is where CDRs go when cdr.path is "-"; default os.Stdout.
	Stdout io.Writer
	// Registry, when set, replaces the built-in action registry (tests).
	Registry *engine.Registry
}

// Server is a running (or ready to run) xformd daemon.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	tracing  bool
	reg      *engine.Registry
	verifier *stir.Verifier

	rules    atomic.Pointer[ruleSet]
	reloadMu sync.Mutex
	status   atomic.Pointer[reloadStatus]
	version  atomic.Uint64

	metrics *metrics
	cdr     *cdrWriter

	mode     config.Mode
	nextHop  *sip.Uri
	outNets  []netip.Prefix
	inFlight atomic.Int64
	draining atomic.Bool
	started  atomic.Bool
	retryHdr sip.Header

	stacks []*stack
	admin  *http.Server
	adminL net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
}

// stack is one sipgo user agent with its listeners, serving calls of one
// direction (listeners named in directions.outbound_listeners get their
// own stack, so that a request's listener is known).
type stack struct {
	srv       *Server
	direction rules.Direction
	ua        *sipgo.UserAgent
	server    *sipgo.Server
	client    *sipgo.Client
	listeners []config.Listener
	bound     []config.Listener
	// ports is the bound port per transport (udp, tcp, tls), for Via and
	// Record-Route.
	ports map[string]int
	// udpAddr is the bound UDP listener address: requests forwarded over
	// UDP are sent from it.
	udpAddr  *net.UDPAddr
	host     string
	closers  []io.Closer
	mu       sync.Mutex
	listenWG sync.WaitGroup
}

// the sipgo transport layer reads into a buffer of TransportBufferReadSize
// and refuses UDP writes over UDPMTUSize-200 bytes. Both are package
// variables; they are raised once, before the first listener starts.
var raiseLimits sync.Once

func raiseSIPLimits() {
	raiseLimits.Do(func() {
		sip.UDPMTUSize = config.MaxUDPSize + 200
		sip.TransportBufferReadSize = 65535
	})
}

// New builds a server from its configuration: it loads and compiles the
// rules (failing with every positioned error when they do not compile),
// sets up STIR, metrics and CDRs. It does not listen yet; call Start.
func New(opts Options) (*Server, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("server: no configuration")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		out := opts.LogOutput
		if out == nil {
			out = os.Stderr
		}
		log = NewLogger(cfg.Log, out)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		tracing: log.Enabled(context.Background(), slog.LevelDebug),
		mode:    cfg.SIP.Mode,
		outNets: cfg.Directions.Prefixes(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.retryHdr = sip.NewHeader("Retry-After", strconv.Itoa(int((cfg.Limits.RetryAfter+time.Second-1)/time.Second)))
	if cfg.SIP.NextHop != "" {
		var u sip.Uri
		if err := sip.ParseUri(cfg.SIP.NextHop, &u); err != nil {
			return nil, fmt.Errorf("sip.next_hop %q: %w", cfg.SIP.NextHop, err)
		}
		s.nextHop = &u
	}
	s.metrics = newMetrics()
	s.metrics.registerInFlight(func() float64 { return float64(s.inFlight.Load()) })
	reg := opts.Registry
	if reg == nil {
		v, sg, err := stirServices(cfg, s.metrics)
		if err != nil {
			return nil, err
		}
		s.verifier = v
		reg = buildRegistry(v, sg)
	}
	s.reg = reg
	if err := s.Reload("startup"); err != nil {
		s.closeVerifier()
		return nil, err
	}
	stdout := opts.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	cdr, err := openCDR(cfg.CDR.Path, stdout)
	if err != nil {
		s.closeVerifier()
		return nil, err
	}
	s.cdr = cdr
	return s, nil
}

// NewLogger builds the slog logger the configuration asks for.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	ho := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Logger returns the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Start opens every SIP listener and the admin server and starts serving.
// It returns once all are bound, or the first error (after closing what it
// opened). The first Start raises sipgo's package-wide UDP size limits
// (sip.UDPMTUSize, sip.TransportBufferReadSize); a program that runs other
// sipgo stacks in the same process should start the server first.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("server: already started")
	}
	raiseSIPLimits()
	outbound := map[string]bool{}
	for _, l := range s.cfg.Directions.OutboundListeners {
		if pl, err := config.ParseListener(l); err == nil {
			outbound[pl.String()] = true
		}
	}
	var in, out []config.Listener
	for _, l := range s.cfg.Listeners() {
		if outbound[l.String()] {
			out = append(out, l)
		} else {
			in = append(in, l)
		}
	}
	var tlsConf *tls.Config
	if s.cfg.SIP.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.SIP.TLSCert, s.cfg.SIP.TLSKey)
		if err != nil {
			return fmt.Errorf("sip tls: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	for _, g := range []struct {
		dir rules.Direction
		ls  []config.Listener
	}{{rules.Inbound, in}, {rules.Outbound, out}} {
		if len(g.ls) == 0 {
			continue
		}
		st, err := s.newStack(g.dir, g.ls, tlsConf)
		if err != nil {
			s.closeAll()
			return err
		}
		s.stacks = append(s.stacks, st)
	}
	if s.cfg.Admin.Listen != "" {
		if err := s.startAdmin(); err != nil {
			s.closeAll()
			return err
		}
	}
	if s.cfg.Rules.Watch {
		if err := s.startWatcher(); err != nil {
			s.log.Warn("cannot watch rule files; reload with SIGHUP or POST /reload", "error", err)
		}
	}
	for _, st := range s.stacks {
		for _, l := range st.bound {
			s.log.Info("listening", "sip", l.String(), "direction", st.direction.String(), "mode", string(s.mode))
		}
	}
	return nil
}

func (s *Server) newStack(dir rules.Direction, ls []config.Listener, tlsConf *tls.Config) (*stack, error) {
	sipLog := slog.New(levelFloor{s.log.Handler(), slog.LevelWarn}).With("component", "sipgo")
	var st *stack
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("xformd"),
		sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) { st.unhandledResponse(r) }),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	st = &stack{srv: s, direction: dir, ua: ua, listeners: ls, ports: map[string]int{}}
	st.server, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip: %w", err)
	}
	st.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip: %w", err)
	}
	st.server.OnInvite(st.onInvite)
	st.server.OnAck(st.onAck)
	st.server.OnOptions(st.onOptions)
	st.server.OnNoRoute(st.onOther)

	// Bind everything first: the handlers read ports and host, so serving
	// starts only once they are final.
	var serves []func() error
	for _, l := range ls {
		serve, err := st.listen(l, tlsConf)
		if err != nil {
			st.close()
			return nil, err
		}
		serves = append(serves, serve)
	}
	st.host = s.cfg.SIP.Advertise
	if st.host == "" && len(st.bound) > 0 {
		h, _, _ := net.SplitHostPort(st.bound[0].Addr)
		st.host = h
	}
	for i, serve := range serves {
		l := ls[i]
		st.listenWG.Add(1)
		go func() {
			defer st.listenWG.Done()
			if err := serve(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("sip listener stopped", "listen", l.String(), "error", err)
			}
		}()
	}
	return st, nil
}

// listen binds one listener and returns the function that serves it.
func (st *stack) listen(l config.Listener, tlsConf *tls.Config) (func() error, error) {
	var serve func() error
	var bound string
	switch l.Network {
	case "udp":
		// Several sockets share the port (SO_REUSEPORT), each with its
		// own sipgo reader goroutine: sipgo parses in the reader, so one
		// socket would parse on one core only.
		n := st.srv.cfg.SIP.UDPReaders
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		if !reusePortSupported {
			n = 1
		}
		buf := st.srv.cfg.SIP.UDPReadBuffer
		lc := net.ListenConfig{Control: udpControl(n > 1, buf)}
		pc, err := lc.ListenPacket(context.Background(), "udp", l.Addr)
		if err != nil {
			return nil, fmt.Errorf("sip listen %s: %w", l, err)
		}
		if !reusePortSupported && buf > 0 {
			pc.(*net.UDPConn).SetReadBuffer(buf)
		}
		st.closers = append(st.closers, pc)
		bound = pc.LocalAddr().String()
		st.udpAddr = pc.LocalAddr().(*net.UDPAddr)
		conns := []net.PacketConn{pc}
		for i := 1; i < n; i++ {
			more, err := lc.ListenPacket(context.Background(), "udp", bound)
			if err != nil {
				st.srv.log.Warn("cannot open another UDP reader socket", "listen", bound, "error", err)
				break
			}
			st.closers = append(st.closers, more)
			conns = append(conns, more)
		}
		serve = func() error {
			var wg sync.WaitGroup
			errs := make([]error, len(conns))
			for i, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = st.server.ServeUDP(c)
				}()
			}
			wg.Wait()
			return errors.Join(errs...)
		}
	case "tcp", "tls":
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return nil, fmt.Errorf("sip listen %s: %w", l, err)
		}
		st.closers = append(st.closers, ln)
		bound = ln.Addr().String()
		if l.Network == "tls" {
			tl := tls.NewListener(ln, tlsConf)
			serve = func() error { return st.server.ServeTLS(tl) }
		} else {
			serve = func() error { return st.server.ServeTCP(ln) }
		}
	}
	_, port, _ := net.SplitHostPort(bound)
	p, _ := strconv.Atoi(port)
	if _, ok := st.ports[l.Network]; !ok {
		st.ports[l.Network] = p
	}
	st.bound = append(st.bound, config.Listener{Network: l.Network, Addr: bound})
	return serve, nil
}

func (st *stack) close() {
	st.mu.Lock()
	closers := st.closers
	st.closers = nil
	st.mu.Unlock()
	for _, c := range closers {
		c.Close()
	}
	st.listenWG.Wait()
	st.ua.Close()
}

// SIPAddrs returns the bound SIP listeners (with the ports the OS chose
// for :0), inbound stacks first.
func (s *Server) SIPAddrs() []config.Listener {
	var out []config.Listener
	for _, st := range s.stacks {
		out = append(out, st.bound...)
	}
	return out
}

// AdminAddr returns the bound admin HTTP address, or "" when it is off.
func (s *Server) AdminAddr() string {
	if s.adminL == nil {
		return ""
	}
	return s.adminL.Addr().String()
}

// InFlight returns the number of calls in progress.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// Shutdown stops taking new calls (new INVITEs are answered 503 with
// Retry-After, so upstream fails over at once), waits until the calls in
// progress finish or ctx ends, then closes the listeners, the admin server
// and the CDR file. It returns ctx's error when calls were cut off.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.log.Info("shutting down: no new calls", "in_progress", s.inFlight.Load())
	var err error
	t := time.NewTicker(5 * time.Millisecond)
	for s.inFlight.Load() > 0 {
		select {
		case <-ctx.Done():
			err = fmt.Errorf("shutdown: %d calls still in progress: %w", s.inFlight.Load(), ctx.Err())
		case <-t.C:
			continue
		}
		break
	}
	t.Stop()
	s.closeAll()
	if cerr := s.cdr.Close(); cerr != nil && err == nil {
		err = cerr
	}
	s.log.Info("stopped")
	return err
}

// Close stops everything at once, without draining.
func (s *Server) Close() error {
	s.draining.Store(true)
	s.closeAll()
	return s.cdr.Close()
}

func (s *Server) closeAll() {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.admin != nil {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s.admin.Shutdown(sctx)
			cancel()
		}
		for _, st := range s.stacks {
			st.close()
		}
		s.wg.Wait()
		s.closeVerifier()
	})
}

func (s *Server) closeVerifier() {
	if s.verifier != nil {
		s.verifier.Close()
	}
}

// directionOf decides a request's direction: the stack's (by listener),
// or outbound when the source is in an outbound network.
func (st *stack) directionOf(src netip.AddrPort) rules.Direction {
	if st.direction == rules.Outbound {
		return rules.Outbound
	}
	if src.IsValid() {
		a := src.Addr().Unmap()
		for _, p := range st.srv.outNets {
			if p.Contains(a) {
				return rules.Outbound
			}
		}
	}
	return rules.Inbound
}

// levelFloor is the handler of sipgo's logs. It drops records below min:
// sipgo logs every transaction at debug level, which would drown the rule
// traces of `log.level: debug`. And it cuts long string values: sipgo logs
// an unparsable datagram whole, so a flood of 60 KB junk datagrams would
// otherwise become a flood of 60 KB log lines.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

// maxLogValue bounds one string value in sipgo's log records.
const maxLogValue = 256

// Handle passes the record on with long string values cut.
func (f levelFloor) Handle(ctx context.Context, r slog.Record) error {
	long := false
	r.Attrs(func(a slog.Attr) bool {
		long = a.Value.Kind() == slog.KindString && len(a.Value.String()) > maxLogValue
		return !long
	})
	if !long {
		return f.Handler.Handle(ctx, r)
	}
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindString && len(a.Value.String()) > maxLogValue {
			v := a.Value.String()
			a = slog.String(a.Key, v[:maxLogValue]+"... ("+strconv.Itoa(len(v))+" bytes)")
		}
		nr.AddAttrs(a)
		return true
	})
	return f.Handler.Handle(ctx, nr)
}

// Enabled reports whether a record at l is kept.
func (f levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

// WithAttrs keeps the floor on derived handlers.
func (f levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{f.Handler.WithAttrs(as), f.min}
}

// WithGroup keeps the floor on derived handlers.
func (f levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{f.Handler.WithGroup(name), f.min}
}
