package scheduler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/schemas"
)

// sleeperSource is a source tree with one pipeline, pipelines/sleeper, that
// prints its flags and then succeeds, fails or waits for SIGTERM as its
// --mode says: it stands for a pipeline so that the executor's process
// handling (build, flags, log, exit, timeout kill) is tested on a real
// process.
func sleeperSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/sleeper\n\ngo 1.26\n",
		"pipelines/sleeper/main.go": `package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	fmt.Println("args:", strings.Join(os.Args[1:], " "))
	mode := ""
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "--mode="); ok {
			mode = v
		}
	}
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "lake unreadable: boom")
		os.Exit(1)
	case "hang":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		fmt.Println("waiting")
		<-sig
		fmt.Println("got SIGTERM")
		os.Exit(143)
	}
	fmt.Println("done")
}
`,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBeamExecutorRunsThePipelineAsAUserWould: the pipeline is built with
// go build and run with the job's args, then --date and the BigQuery flags
// and the attempt's identity; a failure keeps the end of its output; a
// timeout stops the process.
func TestBeamExecutorRunsThePipelineAsAUserWould(t *testing.T) {
	e := newEnv(t)
	src := sleeperSource(t)
	f := parse(t, `jobs:
  - name: ok
    kind: beam
    pipeline: sleeper
    args: ["--mode=ok", "--lake=gs://lake/x"]
    cron: "15 2 * * *"
    retries: {max: 0}
  - name: fails
    kind: beam
    pipeline: sleeper
    profile: local
    args: ["--mode=fail"]
    cron: "15 2 * * *"
    retries: {max: 0}
  - name: hangs
    kind: beam
    pipeline: sleeper
    args: ["--mode=hang", "--runner=flink"]
    cron: "15 2 * * *"
    retries: {max: 0}
    timeout: 10m
`)
	start := ts("2026-11-02T02:15:00Z")
	fc := clock.NewFake(start)
	s := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "a"), source: src, buildDir: t.TempDir()})
	done := make(chan []Outcome, 1)
	go func() {
		out, err := s.Once(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	// The hanging pipeline is running once its log says so; then its
	// timeout passes.
	waitFor(t, "the hanging pipeline to start", func() bool {
		logs, _ := filepath.Glob(filepath.Join(s.opts.JobLogs, "hangs-*.log"))
		if len(logs) == 0 {
			return false
		}
		b, _ := os.ReadFile(logs[0])
		return strings.Contains(string(b), "waiting")
	})
	fc.Set(start.Add(10 * time.Minute))
	out := <-done
	byJob := map[string]Outcome{}
	for _, o := range out {
		byJob[o.Job] = o
	}
	if byJob["ok"].Status != schemas.RunSucceeded || byJob["fails"].Status != schemas.RunFailed || byJob["hangs"].Status != schemas.RunFailed {
		t.Fatalf("outcomes %s", summary(out))
	}
	// The flags, exactly as a user would type them after the job's own.
	rows := e.rows(t, "ok")
	log, err := os.ReadFile(filepath.Join(s.opts.JobLogs, rows[0].RunID+".log"))
	if err != nil {
		t.Fatal(err)
	}
	want := "args: --mode=ok --lake=gs://lake/x --date=2026-11-01 --bq_project=" + e.bq.Project + " --bq_endpoint=" + e.bq.Endpoint +
		" --dataset_prefix=" + e.bq.DatasetPrefix + " --run_id=" + rows[0].RunID + " --job=ok --attempt=1 --scheduled_for=2026-11-02T02:15:00Z\n"
	if !strings.Contains(string(log), want) {
		t.Fatalf("the pipeline was run with\n%s\nwant\n%s", log, want)
	}
	if rows[0].View != "job:ok" || rows[0].Runner.StringVal != "prism" || rows[0].Status != schemas.RunSucceeded {
		t.Fatalf("row %+v", rows[0])
	}
	// A failure keeps the end of the output and where the log is.
	rows = e.rows(t, "fails")
	if len(rows) != 1 || rows[0].View != "job:fails" || rows[0].Runner.StringVal != "prism" ||
		!strings.Contains(rows[0].Error.StringVal, "pipeline sleeper exited: exit status 1") ||
		!strings.Contains(rows[0].Error.StringVal, "lake unreadable: boom") || !strings.Contains(rows[0].Error.StringVal, "--profile=local --mode=fail") ||
		!strings.Contains(rows[0].Error.StringVal, "(full log: "+filepath.Join(s.opts.JobLogs, rows[0].RunID+".log")+")") {
		t.Fatalf("failed row %+v", rows[0])
	}
	// The timeout stopped the process (SIGTERM reached it) and counts as a
	// failure.
	rows = e.rows(t, "hangs")
	if len(rows) != 1 || rows[0].Runner.StringVal != "flink" || !strings.HasPrefix(rows[0].Error.StringVal, "timeout: the attempt ran longer than its timeout of 10m0s") ||
		!strings.Contains(rows[0].Error.StringVal, "got SIGTERM") || rows[0].EndTime.Sub(rows[0].StartTime) != 10*time.Minute {
		t.Fatalf("timed-out row %+v", rows[0])
	}
}
