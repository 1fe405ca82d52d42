package runners

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMatrixProofsExist keeps the runner matrix honest: every test it cites
// exists in the package it names, every cell agrees with Check (refused
// cells are refused, the others accepted) and the README shows the table.
func TestMatrixProofsExist(t *testing.T) {
	modes := map[string]Mode{"batch": Batch, "speed": Streaming, "archive": Streaming}
	flags := map[string]string{"endpoint": "localhost:8099", "environment_type": "LOOPBACK",
		"project": "p", "region": "us-central1", "staging_location": "gs://b/staging"}
	for _, c := range Matrix {
		for _, proof := range c.Proof {
			pkg, name, ok := strings.Cut(proof, ":")
			if !ok {
				t.Errorf("%s on %s: proof %q is not package:TestName", c.Pipeline, c.Runner, proof)
				continue
			}
			dir := filepath.Join("..", filepath.FromSlash(pkg))
			if pkg == "runners" {
				dir = "."
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
			re := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(t \*testing\.T\)`)
			found := false
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if re.Match(b) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s on %s: no func %s in %s", c.Pipeline, c.Runner, name, dir)
			}
		}
		mode, ok := modes[c.Pipeline]
		if !ok {
			t.Errorf("unknown pipeline %q", c.Pipeline)
			continue
		}
		f := flags
		if c.Runner == "dataflow" {
			f = map[string]string{"project": "p", "region": "us-central1", "staging_location": "gs://b/staging"}
		}
		_, err := Check(c.Runner, mode, f)
		if refused := err != nil; refused != (c.Support == Refused) {
			t.Errorf("%s on %s is %q in the matrix, but Check says %v", c.Pipeline, c.Runner, c.Support, err)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), MatrixMarkdown()) {
		t.Errorf("README.md does not hold the current runner matrix; put this in its runner guide:\n%s", MatrixMarkdown())
	}
}
