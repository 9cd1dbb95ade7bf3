package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRefusesNonLoopbackPprof(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6070", "10.0.0.1:6070", "example.org:6070", "nonsense"} {
		var out, errb bytes.Buffer
		if code := run([]string{"-pprof", addr}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "loopback") {
			t.Errorf("-pprof %s: exit %d, stderr %q; want 2 and a loopback complaint", addr, code, errb.String())
		}
	}
}

func TestRejectsBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-pprof", "127.0.0.1:0", "--mode", "sideways"}, &out, &errb); code != 1 {
		t.Errorf("bad --mode: exit %d, stderr %q; want 1", code, errb.String())
	}
}
