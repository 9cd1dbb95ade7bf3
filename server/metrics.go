package server

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the daemon's Prometheus metrics, all named xformd_*. They
// live in their own registry (no global state), and the counters the call
// path touches are resolved once and cached, so that a call does no label
// hashing.
type metrics struct {
	reg *prometheus.Registry

	calls        *prometheus.CounterVec
	verstat      *prometheus.CounterVec
	latency      prometheus.Histogram
	inFlight     prometheus.GaugeFunc
	overload     prometheus.Counter
	requests     *prometheus.CounterVec
	certHits     prometheus.Counter
	certMisses   prometheus.Counter
	certFetchErr prometheus.Counter
	reloads      *prometheus.CounterVec
	rulesVersion prometheus.Gauge
	rulesLoaded  prometheus.Gauge
	lastReloadOK prometheus.Gauge
	cdrErrors    prometheus.Counter
	proxyErrors  *prometheus.CounterVec

	callCounters    sync.Map // callKey -> prometheus.Counter
	requestCounters sync.Map // method -> prometheus.Counter
	verstatCache    [4][4]prometheus.Counter
}

type callKey struct {
	disposition string
	status      int
}

var verstats = [4]string{"", "TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation"}
var attests = [4]string{"", "A", "B", "C"}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xformd_calls_total", Help: "INVITEs answered or forwarded, by disposition (forward, reject, redirect, overload, error) and final SIP status.",
	}, []string{"disposition", "status"})
	m.verstat = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xformd_stir_verstat_total", Help: "Calls by STIR verification status and attestation (empty when not verified).",
	}, []string{"verstat", "attest"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "xformd_pipeline_duration_seconds",
		Help:    "Time to run the rule pipeline on one INVITE (STIR verification included).",
		Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1, 2.5},
	})
	m.overload = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "xformd_overload_rejections_total", Help: "INVITEs answered 503 because max_calls were in progress or the daemon was shutting down.",
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xformd_sip_requests_total", Help: "SIP requests received, by method.",
	}, []string{"method"})
	m.certHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "xformd_cert_cache_hits_total", Help: "STIR certificate cache hits.",
	})
	m.certMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "xformd_cert_cache_misses_total", Help: "STIR certificate cache misses.",
	})
	m.certFetchErr = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "xformd_cert_fetch_errors_total", Help: "STIR certificate fetches that failed.",
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xformd_reloads_total", Help: "Rule reloads, by result (ok, error).",
	}, []string{"result"})
	m.rulesVersion = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "xformd_rules_version", Help: "Version number of the running rules (increments on every successful load).",
	})
	m.rulesLoaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "xformd_rules_loaded_timestamp_seconds", Help: "When the running rules were loaded (Unix time).",
	})
	m.lastReloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "xformd_rules_last_reload_ok", Help: "1 when the latest reload succeeded, 0 when it failed (the previous rules keep running).",
	})
	m.cdrErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "xformd_cdr_write_errors_total", Help: "CDR lines that could not be written.",
	})
	m.proxyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xformd_proxy_errors_total", Help: "Proxy mode forwarding failures, by kind (timeout, transport, build).",
	}, []string{"kind"})
	m.reg.MustRegister(m.calls, m.verstat, m.latency, m.overload, m.requests, m.certHits, m.certMisses,
		m.certFetchErr, m.reloads, m.rulesVersion, m.rulesLoaded, m.lastReloadOK, m.cdrErrors, m.proxyErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for i, v := range verstats {
		for j, a := range attests {
			m.verstatCache[i][j] = m.verstat.WithLabelValues(v, a)
		}
	}
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// registerInFlight exports the number of calls in progress.
func (m *metrics) registerInFlight(f func() float64) {
	m.inFlight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "xformd_calls_in_progress", Help: "INVITEs being processed (proxy mode: until their final response).",
	}, f)
	m.reg.MustRegister(m.inFlight)
}

// call counts one INVITE by disposition and status.
func (m *metrics) call(disposition string, status int) {
	k := callKey{disposition, status}
	if c, ok := m.callCounters.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.calls.WithLabelValues(disposition, strconv.Itoa(status))
	m.callCounters.Store(k, c)
	c.Inc()
}

// stir counts one verification result.
func (m *metrics) stir(verstat, attest string) {
	i, j := 0, 0
	for k := 1; k < len(verstats); k++ {
		if verstats[k] == verstat {
			i = k
		}
	}
	for k := 1; k < len(attests); k++ {
		if attests[k] == attest {
			j = k
		}
	}
	if (i == 0 && verstat != "") || (j == 0 && attest != "") {
		m.verstat.WithLabelValues(verstat, attest).Inc()
		return
	}
	m.verstatCache[i][j].Inc()
}
