package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xformd/xformd/config"
	"github.com/xformd/xformd/stir/stirtest"
)

// goodRules is a rule file generation: three headers that all carry the
// generation number, so that a call answered half by one generation and
// half by another would show different numbers.
func goodRules(gen int) string {
	return fmt.Sprintf(`{"transformations": [
  {"action": "set_header", "operands": ["X-Gen-A", "%d"]},
  {"action": "set_variable", "operands": ["gen", "%d"]},
  {"action": "set_header", "operands": ["X-Gen-B", "{{gen}}"]},
  {"action": "set_header", "operands": ["X-Gen-C", "%d"]}
]}`, gen, gen, gen)
}

// brokenRules are files that must never replace working rules.
var brokenRules = []string{
	`{"transformations": [{"action": "set_headr", "operands": ["X-Gen-A", "1"]}]}`,
	`{"transformations": [{"action": "set_header", "operands": ["X-Gen-A"`,
	`{"transformations": [{"action": "if_match", "operands": ["{{from_user}}", "([a-", "stop"]}]}`,
	`{"transformations": [{"action": "set_header", "operands": ["X-Gen-A", "{{stir_verstatt}}"]}]}`,
	`{"transformations": [{"action": "set_header", "operands": ["Via", "x"]}]}`,
}

// Ten reloads, half of them broken, while calls flow continuously over UDP
// and TCP: no call fails, every call is answered wholly by one good
// generation, broken files never take over and are reported with
// positions in /status and the metrics.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.json")
	writeFile(t, rulesFile, goodRules(0))
	e := newEnv(t, config.Redirect, rulesFile, nil)

	var good sync.Map // generation number -> true, once it may be served
	good.Store("0", true)
	var calls, failures atomic.Int64
	var failMsgs sync.Map
	seen := map[string]*atomic.Int64{}
	var seenMu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopCallers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	// Registered after newEnv's, so it runs first: callers stop before the
	// daemon does, on success and on failure alike.
	t.Cleanup(stopCallers)
	for w := 0; w < 4; w++ {
		tp := transports[w%2]
		caller := newClient(t, fmt.Sprintf("caller%d", w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				res, err := caller.Do(ctx, newInvite(t, stirtest.Invite{}, tp, e.addr(tp)))
				cancel()
				calls.Add(1)
				fail := func(msg string) {
					failures.Add(1)
					failMsgs.Store(msg, true)
				}
				if err != nil {
					fail(tp + ": " + err.Error())
					continue
				}
				if res.StatusCode != 302 {
					fail(fmt.Sprintf("%s: status %d", tp, res.StatusCode))
					continue
				}
				a, b, c := header(res, "X-Gen-A"), header(res, "X-Gen-B"), header(res, "X-Gen-C")
				if a != b || b != c {
					fail(fmt.Sprintf("mixed generations %q %q %q", a, b, c))
					continue
				}
				if _, ok := good.Load(a); !ok {
					fail(fmt.Sprintf("generation %q was never a good file", a))
					continue
				}
				seenMu.Lock()
				if seen[a] == nil {
					seen[a] = new(atomic.Int64)
				}
				seen[a].Add(1)
				seenMu.Unlock()
			}
		}()
	}

	status := func() Status {
		code, body := httpDo(t, "GET", "http://"+e.admin+"/status")
		if code != 200 {
			t.Fatalf("/status: %d %s", code, body)
		}
		var st Status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitCalls := func(n int64) {
		t.Helper()
		target := calls.Load() + n
		deadline := time.Now().Add(10 * time.Second)
		for calls.Load() < target {
			if time.Now().After(deadline) {
				t.Fatalf("calls stalled: %d of %d", calls.Load(), target)
			}
			time.Sleep(time.Millisecond)
		}
	}

	waitCalls(50)
	version := status().RulesVersion
	gen := 0
	for i := 0; i < 10; i++ {
		broken := i%2 == 1
		if broken {
			writeFile(t, rulesFile, brokenRules[i/2])
		} else {
			gen++
			good.Store(strconv.Itoa(gen), true)
			writeFile(t, rulesFile, goodRules(gen))
		}
		// Alternate the triggers: the admin API and a direct call (what
		// SIGHUP does).
		var err error
		if i%4 < 2 {
			code, body := httpDo(t, "POST", "http://"+e.admin+"/reload")
			if (code == 200) == broken {
				t.Fatalf("reload %d (broken=%v): HTTP %d %s", i, broken, code, body)
			}
		} else {
			err = e.srv.Reload("sighup")
			if (err == nil) == broken {
				t.Fatalf("reload %d (broken=%v): %v", i, broken, err)
			}
		}
		st := status()
		if broken {
			if st.LastReloadOK || len(st.LastReloadErrs) == 0 || st.RulesVersion != version {
				t.Fatalf("broken reload %d: status %+v", i, st)
			}
			if !strings.HasPrefix(st.LastReloadErrs[0], rulesFile+":") {
				t.Errorf("error %q has no file:line:col position", st.LastReloadErrs[0])
			}
		} else {
			if !st.LastReloadOK || st.RulesVersion != version+1 {
				t.Fatalf("good reload %d: status %+v", i, st)
			}
			version = st.RulesVersion
		}
		waitCalls(30)
	}
	stopCallers()

	if n := failures.Load(); n > 0 {
		var msgs []string
		failMsgs.Range(func(k, _ any) bool { msgs = append(msgs, k.(string)); return true })
		t.Fatalf("%d of %d calls failed: %v", n, calls.Load(), msgs)
	}
	for g := 0; g <= gen; g++ {
		if c := seen[strconv.Itoa(g)]; c == nil || c.Load() == 0 {
			t.Errorf("generation %d answered no call", g)
		}
	}
	t.Logf("%d calls, generations seen: %d", calls.Load(), len(seen))

	_, metrics := httpDo(t, "GET", "http://"+e.admin+"/metrics")
	for _, want := range []string{
		`xformd_reloads_total{result="error"} 5`,
		`xformd_reloads_total{result="ok"} 6`,
		`xformd_rules_last_reload_ok 1`,
		fmt.Sprintf("xformd_rules_version %d", version),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, want := range []string{"rule error", `unknown action \"set_headr\"`, "did you mean"} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// Saving a rule file reloads it (fsnotify, debounced); a broken save keeps
// the running rules and shows in /status.
func TestReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.json")
	writeFile(t, rulesFile, goodRules(1))
	e := newEnv(t, config.Redirect, rulesFile, func(c *config.Config) {
		c.Rules.Watch = true
		c.Rules.Debounce = 50 * time.Millisecond
	})
	waitFor := func(what string, cond func(Status) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if cond(e.srv.Status()) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: status %+v", what, e.srv.Status())
	}
	writeFile(t, rulesFile, goodRules(2))
	waitFor("good save", func(s Status) bool { return s.RulesVersion == 2 && s.LastReloadBy == "watch" })
	caller := newClient(t, "caller")
	if res := do(t, caller, newInvite(t, stirtest.Invite{}, "udp", e.udp)); header(res, "X-Gen-A") != "2" {
		t.Fatalf("after reload: X-Gen-A %q", header(res, "X-Gen-A"))
	}
	// An in-place write (no rename) is seen too.
	if err := osWriteFile(rulesFile, brokenRules[0]); err != nil {
		t.Fatal(err)
	}
	waitFor("broken save", func(s Status) bool { return !s.LastReloadOK && s.RulesVersion == 2 })
	if res := do(t, caller, newInvite(t, stirtest.Invite{}, "tcp", e.tcp)); header(res, "X-Gen-A") != "2" {
		t.Fatalf("broken file took over: X-Gen-A %q", header(res, "X-Gen-A"))
	}
}

func osWriteFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o644) }
