package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is the body of GET /status.
type Status struct {
	Mode           string    `json:"mode"`
	Draining       bool      `json:"draining"`
	CallsInFlight  int64     `json:"calls_in_progress"`
	Listeners      []string  `json:"listeners"`
	RulesVersion   uint64    `json:"rules_version"`
	RulesHash      string    `json:"rules_hash"`
	InboundFile    string    `json:"inbound_file"`
	OutboundFile   string    `json:"outbound_file"`
	RulesLoadedAt  time.Time `json:"rules_loaded_at"`
	LastReloadAt   time.Time `json:"last_reload_at"`
	LastReloadBy   string    `json:"last_reload_trigger"`
	LastReloadOK   bool      `json:"last_reload_ok"`
	LastReloadErrs []string  `json:"last_reload_errors,omitempty"`
}

// Status reports the running rules and the latest reload.
func (s *Server) Status() Status {
	st := Status{Mode: string(s.mode), Draining: s.draining.Load(), CallsInFlight: s.inFlight.Load()}
	for _, l := range s.SIPAddrs() {
		st.Listeners = append(st.Listeners, l.String())
	}
	if rs := s.rules.Load(); rs != nil {
		st.RulesVersion, st.RulesHash = rs.version, rs.hash
		st.InboundFile, st.OutboundFile = rs.inFile, rs.outFile
		st.RulesLoadedAt = rs.loadedAt
	}
	if r := s.status.Load(); r != nil {
		st.LastReloadAt, st.LastReloadBy, st.LastReloadOK, st.LastReloadErrs = r.When, r.Trigger, r.OK, r.Errors
	}
	return st
}

// ReopenCDR reopens the CDR file (after log rotation).
func (s *Server) ReopenCDR() error { return s.cdr.Reopen() }

// AdminHandler returns the admin API: /healthz, /readyz, /metrics,
// /status, POST /reload and, when admin.pprof is on, /debug/pprof/, behind
// the bearer token when one is set.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() || s.rules.Load() == nil || len(s.stacks) == 0 {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		err := s.Reload("api")
		st := s.Status()
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, st)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	if s.cfg.Admin.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	token := s.cfg.Admin.Token
	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="xformd"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) startAdmin() error {
	ln, err := net.Listen("tcp", s.cfg.Admin.Listen)
	if err != nil {
		return errors.New("admin listen " + s.cfg.Admin.Listen + ": " + err.Error())
	}
	s.adminL = ln
	s.admin = &http.Server{
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin server stopped", "error", err)
		}
	}()
	s.log.Info("admin listening", "addr", ln.Addr().String())
	return nil
}
