package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/testkit"
)

// TestCommand builds the real command and runs it as a user would.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "batch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--lake=DIR|gs://BUCKET/PREFIX --date=YYYY-MM-DD") || !strings.Contains(string(out), "-sink") {
		t.Fatalf("--help: %v\n%s", err, out)
	}

	testkit.CheckPipelineHelp(t, bin, "lake", "date", "to", "views", "sink", "plan", "bq_project", "run_id")

	// Every missing or bad flag is reported at once, before anything runs.
	out, err = exec.Command(bin, "--date=2026-13-01", "--views=user_scores_daily,nope").CombinedOutput()
	if err == nil {
		t.Fatalf("bad flags accepted:\n%s", out)
	}
	for _, want := range []string{"--lake is required", `--date "2026-13-01" is not a YYYY-MM-DD date`, `unknown view "nope"`, "--bq_project is required"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}

	// A trial run over a small local lake: computes, reconciles, writes nothing.
	lake := filepath.Join(dir, "lake")
	cfg := gen.DefaultConfig()
	cfg.Events = 3000
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gen.WriteLake(context.Background(), g, lake, gen.LakeOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, "--lake="+lake, "--date=2026-11-01", "--sink=discard").CombinedOutput()
	if err != nil {
		t.Fatalf("trial run: %v\n%s", err, out)
	}
	s := res.Summary
	for _, want := range []string{
		"read    3000 = valid " + itoa(s.ValidUnique+s.Duplicates) + " + invalid " + itoa(s.Invalid) + "  ok",
		"valid   " + itoa(s.ValidUnique+s.Duplicates) + " = unique " + itoa(s.ValidUnique) + " + duplicates " + itoa(s.Duplicates) + "  ok",
		"--sink=discard: nothing written",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("trial run output lacks %q:\n%s", want, out)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
