package server

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"
)

// cdrWriter writes one JSON line per INVITE. Each line is built in a
// pooled buffer and handed to the kernel with a single write(2) on a file
// opened O_APPEND, so concurrent calls never interleave and a crash or
// kill -9 loses at most the line being written: nothing is buffered in the
// process. Reopen (SIGHUP, after log rotation) swaps the file atomically;
// the old one is closed a little later, once writers that loaded it are
// done.
type cdrWriter struct {
	path   string
	stdout io.Writer
	f      atomic.Pointer[os.File]
	closed atomic.Bool
	mu     sync.Mutex // serialises Reopen and Close, never held by writers
}

var cdrBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// openCDR opens the CDR sink: nil for none ("" path), stdout for "-".
func openCDR(path string, stdout io.Writer) (*cdrWriter, error) {
	w := &cdrWriter{path: path, stdout: stdout}
	if path == "" || path == "-" {
		return w, nil
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	w.f.Store(f)
	return w, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, errors.New("cdr: " + err.Error())
	}
	return f, nil
}

// enabled reports whether CDRs are written at all.
func (w *cdrWriter) enabled() bool { return w != nil && w.path != "" }

// write writes one complete line.
func (w *cdrWriter) write(line []byte) error {
	if w.path == "-" {
		_, err := w.stdout.Write(line)
		return err
	}
	for attempt := 0; attempt < 2; attempt++ {
		f := w.f.Load()
		if f == nil {
			return errors.New("cdr: closed")
		}
		_, err := f.Write(line)
		if err == nil || !errors.Is(err, os.ErrClosed) {
			return err
		}
		// Reopen swapped the file under us: write to the new one.
	}
	return errors.New("cdr: file closed during write")
}

// Reopen closes and reopens the CDR file, for log rotation.
func (w *cdrWriter) Reopen() error {
	if w == nil || w.path == "" || w.path == "-" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return nil
	}
	f, err := openAppend(w.path)
	if err != nil {
		return err
	}
	old := w.f.Swap(f)
	if old != nil {
		// A writer may have loaded old just before the swap; closing it
		// later lets that write land. A write that still finds it closed
		// retries on the new file.
		time.AfterFunc(time.Second, func() { old.Close() })
	}
	return nil
}

// Close syncs and closes the CDR file.
func (w *cdrWriter) Close() error {
	if w == nil || w.path == "" || w.path == "-" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Swap(true) {
		return nil
	}
	f := w.f.Swap(nil)
	if f == nil {
		return nil
	}
	serr := f.Sync()
	cerr := f.Close()
	if cerr != nil {
		return cerr
	}
	return serr
}

// cdr is one call detail record.
type cdr struct {
	CallID      string
	Time        time.Time
	Source      string
	Transport   string
	From, To    string
	Direction   string
	Disposition string
	Status      int
	Target      string
	// targetURI, when set, is the Target not yet formatted: only a CDR or
	// a log line needs the string.
	targetURI     *sip.Uri
	Verstat       string
	Attest        string
	OrigID        string
	STIRErrorCode string
	RulesVersion  uint64
	Duration      time.Duration
}

// target returns the Target, formatting targetURI on first use.
func (r *cdr) target() string {
	if r.Target == "" && r.targetURI != nil {
		r.Target = r.targetURI.String()
	}
	return r.Target
}

// appendJSON appends r as one JSON object and a newline.
func (r *cdr) appendJSON(b []byte) []byte {
	b = append(b, `{"call_id":`...)
	b = appendJSONString(b, r.CallID)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `","source":`...)
	b = appendJSONString(b, r.Source)
	b = append(b, `,"transport":`...)
	b = appendJSONString(b, r.Transport)
	b = append(b, `,"from":`...)
	b = appendJSONString(b, r.From)
	b = append(b, `,"to":`...)
	b = appendJSONString(b, r.To)
	b = append(b, `,"direction":`...)
	b = appendJSONString(b, r.Direction)
	b = append(b, `,"disposition":`...)
	b = appendJSONString(b, r.Disposition)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, r.target())
	b = append(b, `,"stir_verstat":`...)
	b = appendJSONString(b, r.Verstat)
	b = append(b, `,"stir_attest":`...)
	b = appendJSONString(b, r.Attest)
	b = append(b, `,"stir_origid":`...)
	b = appendJSONString(b, r.OrigID)
	b = append(b, `,"stir_error_code":`...)
	b = appendJSONString(b, r.STIRErrorCode)
	b = append(b, `,"rules_version":`...)
	b = strconv.AppendUint(b, r.RulesVersion, 10)
	b = append(b, `,"processing_us":`...)
	b = strconv.AppendInt(b, r.Duration.Microseconds(), 10)
	b = append(b, "}\n"...)
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 (SIP headers
// come from the network) becomes U+FFFD, so the line is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
