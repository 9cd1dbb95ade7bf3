package main

import (
	"os"
	"strings"
	"testing"

	"github.com/xformd/xformd/actions"
	"github.com/xformd/xformd/engine"
)

// TestREADMEDocumentsEverything keeps the README's rule file reference in
// step with the code: every action, every built-in variable, every variable
// an action provides and every reject name must be documented.
func TestREADMEDocumentsEverything(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	reg := actions.Builtin(actions.Options{})
	for _, s := range reg.Specs() {
		if !strings.Contains(readme, "| `"+s.Name+"` |") {
			t.Errorf("README's action table lacks %s", s.Name)
		}
		for _, v := range s.Provides {
			if !strings.Contains(readme, "`"+v+"`") {
				t.Errorf("README does not mention variable %s (provided by %s)", v, s.Name)
			}
		}
	}
	for _, v := range engine.BuiltinVariables() {
		if !strings.Contains(readme, "`"+v[0]+"`") {
			t.Errorf("README does not mention built-in variable %s", v[0])
		}
	}
	for name, code := range actions.RejectNames() {
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README does not list reject name %s (%d)", name, code)
		}
	}
}
