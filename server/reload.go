package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/xformd/xformd/engine"
	"github.com/xformd/xformd/rules"
)

// ruleSet is one generation of compiled rules: what a call runs on from
// start to end. It is swapped as a whole, so a call never sees half of a
// reload.
type ruleSet struct {
	version  uint64
	hash     string
	inbound  *engine.Pipeline
	outbound *engine.Pipeline
	inFile   string
	outFile  string
	loadedAt time.Time
}

// pipeline returns the pipeline for a direction.
func (rs *ruleSet) pipeline(d rules.Direction) *engine.Pipeline {
	if d == rules.Outbound {
		return rs.outbound
	}
	return rs.inbound
}

// reloadStatus is the outcome of the latest reload attempt, for /status
// and logs.
type reloadStatus struct {
	When    time.Time
	Trigger string
	OK      bool
	Errors  []string
}

// Reload compiles the configured rule files completely and, when every
// file compiles, swaps them in atomically. Calls in progress finish on the
// rules they started with. On failure the running rules stay, every error
// is logged with its position, and the failure shows in /status and in
// the xformd_reloads_total and xformd_rules_last_reload_ok metrics.
// trigger names what asked for the reload (startup, sighup, api, watch).
func (s *Server) Reload(trigger string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	rs, err := s.compileRules()
	st := &reloadStatus{When: start, Trigger: trigger, OK: err == nil}
	if err != nil {
		errs := rules.Errors(err)
		for _, e := range errs {
			st.Errors = append(st.Errors, e.Error())
			s.log.Error("rule error", "trigger", trigger, "pos", e.Pos.String(), "error", e.Msg, "hint", e.Hint)
		}
		s.status.Store(st)
		s.metrics.reloads.WithLabelValues("error").Inc()
		s.metrics.lastReloadOK.Set(0)
		if old := s.rules.Load(); old != nil {
			s.log.Error("reload failed: keeping the running rules", "trigger", trigger, "errors", len(errs), "rules_version", old.version)
		}
		return fmt.Errorf("reload: %w", err)
	}
	rs.version = s.version.Add(1)
	rs.loadedAt = time.Now()
	s.rules.Store(rs)
	s.status.Store(st)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.metrics.lastReloadOK.Set(1)
	s.metrics.rulesVersion.Set(float64(rs.version))
	s.metrics.rulesLoaded.Set(float64(rs.loadedAt.UnixNano()) / 1e9)
	s.log.Info("rules loaded", "trigger", trigger, "version", rs.version, "hash", rs.hash,
		"inbound", rs.inFile, "outbound", rs.outFile, "took", time.Since(start))
	return nil
}

// compileRules reads, parses and compiles every rule file. All errors of
// all files are returned together.
func (s *Server) compileRules() (*ruleSet, error) {
	inFile, outFile := s.cfg.Rules.Inbound, s.cfg.Rules.OutboundFile()
	opts := engine.Options{RegexTimeout: s.cfg.Rules.RegexTimeout}
	h := sha256.New()
	var errs rules.ErrorList
	compile := func(path string) *engine.Pipeline {
		data, err := readRuleFile(path)
		if err != nil {
			errs = append(errs, rules.Errors(err)...)
			return nil
		}
		h.Write(data)
		f, err := rules.Parse(path, data)
		if err != nil {
			errs = append(errs, rules.Errors(err)...)
			return nil
		}
		p, err := engine.Compile(f, s.reg, opts)
		if err != nil {
			errs = append(errs, rules.Errors(err)...)
			return nil
		}
		return p
	}
	rs := &ruleSet{inFile: inFile, outFile: outFile}
	rs.inbound = compile(inFile)
	if outFile == inFile {
		rs.outbound = rs.inbound
	} else {
		rs.outbound = compile(outFile)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	rs.hash = hex.EncodeToString(h.Sum(nil))[:12]
	return rs, nil
}

func readRuleFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &rules.Error{Pos: rules.Pos{File: path}, Msg: fmt.Sprintf("cannot read rule file: %v", err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, rules.MaxFileSize+1))
	if err != nil {
		return nil, &rules.Error{Pos: rules.Pos{File: path}, Msg: fmt.Sprintf("cannot read rule file: %v", err)}
	}
	return data, nil
}

// startWatcher reloads the rules when a rule file changes. It watches the
// files' directories, not the files, so that editors that save by rename
// and symlink swaps (Kubernetes ConfigMaps) are seen; events are debounced
// so that one save is one reload.
func (s *Server) startWatcher() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	files := map[string]bool{}
	dirs := map[string]bool{}
	for _, f := range []string{s.cfg.Rules.Inbound, s.cfg.Rules.OutboundFile()} {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		files[abs] = true
		dirs[filepath.Dir(abs)] = true
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			w.Close()
			return err
		}
	}
	debounce := s.cfg.Rules.Debounce
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer w.Close()
		var timer *time.Timer
		var fire <-chan time.Time
		for {
			select {
			case <-s.ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				abs, _ := filepath.Abs(ev.Name)
				// A symlink swap changes a sibling (..data), so any change
				// in the directory of a file that is itself a symlink counts.
				if !files[abs] && !anySymlink(files) {
					continue
				}
				if ev.Op == fsnotify.Chmod {
					continue
				}
				if timer == nil {
					timer = time.NewTimer(debounce)
				} else {
					timer.Reset(debounce)
				}
				fire = timer.C
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.Warn("rule file watcher", "error", err)
			case <-fire:
				fire = nil
				s.Reload("watch")
			}
		}
	}()
	return nil
}

func anySymlink(files map[string]bool) bool {
	for f := range files {
		if fi, err := os.Lstat(f); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
	}
	return false
}
