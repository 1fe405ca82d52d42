package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/schemas"
)

func runRailyard(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// lakeLines reads every part file under dir: relative path → lines.
func lakeLines(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			files[filepath.ToSlash(rel)] = append(files[filepath.ToSlash(rel)], sc.Text())
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGenCommand(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runRailyard(t, "gen", "--out", dir, "--events", "20000", "--seed", "7",
		"--hours", "3", "--events_per_file", "4000", "--invalid_rate", "0.05")
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr)
	}
	for _, want := range []string{"lines          20000", "valid unique", "duplicates", "invalid", "malformed_json",
		"files          ", "partitions     3 (game_events/dt=2026-11-01/hr=00 .. game_events/dt=2026-11-01/hr=02)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	// Not a terminal: progress as log lines, ending at 100%.
	if !strings.Contains(stderr, "railyard gen: 20000/20000 events (100%)") {
		t.Errorf("no final progress line on stderr:\n%s", stderr)
	}
	files := lakeLines(t, dir)
	var total int
	for rel, lines := range files {
		if !strings.HasPrefix(rel, "game_events/dt=2026-11-01/hr=0") || !strings.HasSuffix(rel, ".jsonl.gz") ||
			!strings.Contains(rel, "/part-s7-") {
			t.Errorf("unexpected file %s", rel)
		}
		if len(lines) > 4000 {
			t.Errorf("%s: %d lines, more than --events_per_file", rel, len(lines))
		}
		for _, l := range lines {
			if ev, err := schemas.DecodeLine([]byte(l), gen.DefaultStart.AddDate(0, 1, 0)); err == nil {
				if want := "game_events/dt=" + ev.EventTime.Format("2006-01-02") + "/hr=" + ev.EventTime.Format("15") + "/"; !strings.HasPrefix(rel, want) {
					t.Fatalf("%s holds an event of %s", rel, ev.EventTime)
				}
			}
		}
		total += len(lines)
	}
	if total != 20000 {
		t.Fatalf("lake holds %d lines, want 20000", total)
	}

	// The same flags write the same bytes.
	dir2 := t.TempDir()
	if _, stderr, err := runRailyard(t, "gen", "--out", dir2, "--events", "20000", "--seed", "7",
		"--hours", "3", "--events_per_file", "4000", "--invalid_rate", "0.05", "--progress", "none"); err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr)
	}
	for _, d := range []string{dir, dir2} {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(d, p)
			other := dir2
			if d == dir2 {
				other = dir
			}
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(filepath.Join(other, rel))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s differs between two runs (%v)", rel, err)
			}
			return nil
		})
	}
}

func TestGenCommandStdoutCSV(t *testing.T) {
	stdout, stderr, err := runRailyard(t, "gen", "--out", "-", "--events", "500", "--format", "csv",
		"--invalid_rate", "0.2", "--progress", "none")
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 500 {
		t.Fatalf("stdout has %d lines, want 500", len(lines))
	}
	var invalid int
	for _, l := range lines {
		if _, err := schemas.DecodeLine([]byte(l), gen.DefaultStart.AddDate(0, 1, 0)); err != nil {
			invalid++
		}
	}
	// The summary goes to stderr and reconciles with what was printed.
	if !strings.Contains(stderr, "lines          500") || !strings.Contains(stderr, "malformed_csv") {
		t.Fatalf("summary on stderr:\n%s", stderr)
	}
	if invalid < 60 || invalid > 140 {
		t.Errorf("%d invalid of 500 lines at --invalid_rate 0.2", invalid)
	}
}

func TestGenCommandJSONSummary(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runRailyard(t, "gen", "--out", dir, "--events", "3000", "--summary", "json", "--progress", "log")
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr)
	}
	var got struct {
		Out     string
		Seed    int64
		Summary gen.Summary
		Lake    gen.LakeStats
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout)
	}
	if err := got.Summary.Check(); err != nil {
		t.Fatal(err)
	}
	if got.Summary.Lines != 3000 || got.Lake.Lines != 3000 || len(got.Lake.Files) != 24 || got.Out != dir || got.Seed != 1 {
		t.Fatalf("summary %+v", got)
	}
}

func TestGenCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gen"}, "--out is required"},
		{[]string{"gen", "--out", "x", "--start", "yesterday"}, "--start"},
		{[]string{"gen", "--out", "x", "--dup_rate", "1.5"}, "dup_rate"},
		{[]string{"gen", "--out", "x", "--format", "xml"}, "format"},
		{[]string{"gen", "--out", "x", "--teams", "0"}, "--teams"},
		{[]string{"gen", "--out", "x", "--users", "3"}, "users"},
		{[]string{"gen", "--out", "x", "--zipf_s", "0.9"}, "zipf_s"},
		{[]string{"gen", "--out", "x", "--events_per_file", "0"}, "--events_per_file"},
		{[]string{"gen", "--out", "x", "--progress", "loud"}, "--progress"},
		{[]string{"gen", "--out", "x", "--summary", "xml"}, "--summary"},
		{[]string{"gen", "--out", "s3://b/x", "--events", "10"}, "only local directories and gs://"},
		{[]string{"gen", "--out", "x", "stray"}, "unknown command"},
	} {
		_, _, err := runRailyard(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("railyard %s: %v, want an error about %s", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
