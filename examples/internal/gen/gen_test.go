package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xformd/xformd/suite"
)

// TestGenerate regenerates the examples into a temporary directory, copies
// the hand-written rule files and suites beside them, and runs the suites:
// what the generator makes today must satisfy the checked-in expectations.
func TestGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("generates key pairs")
	}
	out := t.TempDir()
	if err := Generate(out); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..")
	var suites []string
	for _, pat := range []string{"*/rules*", "*/tests.yaml"} {
		files, _ := filepath.Glob(filepath.Join(src, pat))
		for _, f := range files {
			rel, _ := filepath.Rel(src, f)
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(out, rel)
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if filepath.Base(f) == "tests.yaml" {
				suites = append(suites, dst)
			}
		}
	}
	if len(suites) != 4 {
		t.Fatalf("found %d suites, want 4", len(suites))
	}
	r := suite.NewRunner()
	defer r.Close()
	for _, path := range suites {
		f, err := suite.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range r.Run(f, suite.Options{}) {
			if !res.Passed() {
				t.Errorf("%s: err %v, failures %q", res.Where(), res.Err, res.Failures)
			}
		}
	}
}
