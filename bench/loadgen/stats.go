package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// summary is the result of one run. Latencies are measured from each
// call's scheduled send time, not from when the INVITE actually left, so a
// load generator that falls behind does not hide the delay (no coordinated
// omission); SendLag shows how far behind the sender itself was.
type summary struct {
	Target     string  `json:"target"`
	Rate       float64 `json:"rate"`       // offered calls per second
	DurationS  float64 `json:"duration_s"` // configured send time
	Calls      int     `json:"calls"`      // calls scheduled
	Sent       int     `json:"sent"`
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"` // calls scheduled minus calls OK
	Timeouts   int     `json:"timeouts"`
	BadStatus  int     `json:"bad_status"`
	BadHeader  int     `json:"bad_header"`
	SendErrors int     `json:"send_errors"`
	Unsent     int     `json:"unsent"` // scheduled but not sent (run cancelled)
	// Statuses counts the first final response of every answered call.
	Statuses map[int]int `json:"statuses"`
	// SendRate is INVITEs sent per second over the send window.
	SendRate float64 `json:"send_rate"`
	// CallsPerSec is calls answered correctly per second, from the first
	// scheduled send to the last answer.
	CallsPerSec float64 `json:"calls_per_s"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	SendLagP99  float64 `json:"send_lag_p99_ms"`
	SendLagMax  float64 `json:"send_lag_max_ms"`
	Stray       int64   `json:"stray"`      // responses that matched no call of this run
	Duplicates  int64   `json:"duplicates"` // repeated final responses (retransmissions)
	ReadErrors  int64   `json:"read_errors"`
	// LoadgenCPU is the CPU the load generator itself used, as a share of
	// one core over the run; it shares the machine with the system under
	// test.
	LoadgenCPU float64 `json:"loadgen_cpu_cores"`
	// UDPRcvbufErrors is how many UDP datagrams the kernel dropped for
	// full receive buffers during the run, on the whole machine (-1:
	// unknown). Timeouts with as many drops are datagrams lost before
	// anyone read them.
	UDPRcvbufErrors int64 `json:"udp_rcvbuf_errors"`
}

// summarize collects the per-call state after the run.
func (r *runner) summarize(sendEnd time.Duration, cpu time.Duration) *summary {
	s := &summary{
		Target:    r.cfg.target,
		Rate:      r.cfg.rate,
		DurationS: r.cfg.duration.Seconds(),
		Calls:     r.n,
		Statuses:  map[int]int{},
	}
	lat := make([]int64, 0, r.n)
	lag := make([]int64, 0, r.n)
	for i := 0; i < r.n; i++ {
		sent := r.sentAt[i].Load()
		res := outcome(r.result[i].Load())
		if sent == 0 && res != outSendError {
			s.Unsent++
			continue
		}
		s.Sent++
		lag = append(lag, sent-1-r.scheduled(i))
		switch res {
		case outPending:
			s.Timeouts++
			continue
		case outSendError:
			s.SendErrors++
			continue
		case outOK:
			s.OK++
		case outBadStatus:
			s.BadStatus++
		case outBadHeader:
			s.BadHeader++
		}
		s.Statuses[int(r.status[i])]++
		lat = append(lat, r.latency[i])
	}
	s.Failed = r.n - s.OK
	if sendEnd > 0 {
		s.SendRate = float64(s.Sent) / sendEnd.Seconds()
	}
	if last := r.lastAnswer.Load(); last > 0 {
		s.CallsPerSec = float64(s.OK) / (time.Duration(last).Seconds())
	}
	slices.Sort(lat)
	slices.Sort(lag)
	s.P50Ms = ms(percentile(lat, 50))
	s.P90Ms = ms(percentile(lat, 90))
	s.P99Ms = ms(percentile(lat, 99))
	s.MaxMs = ms(percentile(lat, 100))
	s.SendLagP99 = ms(percentile(lag, 99))
	s.SendLagMax = ms(percentile(lag, 100))
	s.Stray = r.stray.Load()
	s.Duplicates = r.duplicates.Load()
	s.ReadErrors = r.readErrors.Load()
	if total := time.Duration(max(r.lastAnswer.Load(), int64(sendEnd))); total > 0 {
		s.LoadgenCPU = cpu.Seconds() / total.Seconds()
	}
	return s
}

// percentile returns the p-th percentile (nearest rank) of sorted values,
// 0 for none.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// ms converts nanoseconds to milliseconds.
func ms(ns int64) float64 { return float64(ns) / 1e6 }

// line renders the summary as one line of key=value pairs, the form the
// sweep script parses.
func (s *summary) line() string {
	var b strings.Builder
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	fmt.Fprintf(&b, "target=%s rate=%s duration=%ss calls=%d sent=%d ok=%d failed=%d",
		s.Target, f(s.Rate, 0), f(s.DurationS, 1), s.Calls, s.Sent, s.OK, s.Failed)
	fmt.Fprintf(&b, " timeouts=%d bad_status=%d bad_header=%d send_errors=%d unsent=%d",
		s.Timeouts, s.BadStatus, s.BadHeader, s.SendErrors, s.Unsent)
	fmt.Fprintf(&b, " send_rate=%s calls_per_s=%s p50_ms=%s p90_ms=%s p99_ms=%s max_ms=%s",
		f(s.SendRate, 1), f(s.CallsPerSec, 1), f(s.P50Ms, 3), f(s.P90Ms, 3), f(s.P99Ms, 3), f(s.MaxMs, 3))
	fmt.Fprintf(&b, " send_lag_p99_ms=%s send_lag_max_ms=%s stray=%d duplicates=%d read_errors=%d udp_rcvbuf_errors=%d loadgen_cpu=%s",
		f(s.SendLagP99, 3), f(s.SendLagMax, 3), s.Stray, s.Duplicates, s.ReadErrors, s.UDPRcvbufErrors, f(s.LoadgenCPU, 2))
	codes := make([]int, 0, len(s.Statuses))
	for c := range s.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d:%d", c, s.Statuses[c])
	}
	fmt.Fprintf(&b, " statuses=%s", strings.Join(parts, ","))
	return b.String()
}

// json renders the summary as one JSON object.
func (s *summary) json() string {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}

// cpuTime is the user plus system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
