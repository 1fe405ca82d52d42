package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/railyard-dev/railyard/internal/testkit"
)

// TestDryRun runs the command with --dry_run as a user would, offline: the
// job is printed, nothing is read or written, no reconciliation, exit 0;
// on Dataflow the job is a streaming job with Streaming Engine that reads
// Pub/Sub with Dataflow's native source. Streaming on Spark is refused.
func TestDryRun(t *testing.T) {
	bin := testkit.BuildCommand(t, "speed")
	testkit.CheckPipelineHelp(t, bin, "subscription", "pubsub_endpoint", "max_messages", "cpuprofile", "memprofile", "stop_after_idle", "team_window", "bq_project")
	env := testkit.OfflineEnv(t)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	common := []string{"--subscription=projects/p/subscriptions/speed", "--bq_project=p"}

	out, err := run(append(common, "--runner=dataflow", "--dry_run", "--project=p", "--region=us-central1",
		"--staging_location=gs://no-such-bucket/staging")...)
	if err != nil {
		t.Fatalf("dataflow dry run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Dry-run: not submitting job!",
		"JOB_TYPE_STREAMING",
		"enable_streaming_engine",
		"use_runner_v2",
		"beam:transform:pubsub_read:v1", // Dataflow's native Pub/Sub read (runners.ReadPubSub)
		"projects/p/subscriptions/speed",
		"dry run, the job was printed and not run: nothing read, no reconciliation",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dataflow dry run output lacks %q:\n%s", want, tail(out))
		}
	}
	if strings.Contains(out, "pubsubsource.Read") || strings.Contains(out, "read    ") {
		t.Errorf("dataflow dry run reads with railyard's own source or reconciled:\n%s", tail(out))
	}

	out, err = run(append(common, "--runner=flink", "--endpoint=127.0.0.1:1", "--environment_type=LOOPBACK", "--dry_run")...)
	if err != nil {
		t.Fatalf("flink dry run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"dry run: streaming pipeline for flink (job server at 127.0.0.1:1, environment LOOPBACK), not submitted",
		"unbounded input: runs as a streaming job",
		"pubsubsource.ReadWithProgress: pubsubsource.progressReadFn",
		"nothing read, no reconciliation",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("flink dry run output lacks %q:\n%s", want, tail(out))
		}
	}

	out, err = run(append(common, "--runner=spark", "--endpoint=127.0.0.1:1", "--dry_run")...)
	if err == nil || !strings.Contains(out, "spark runner supports batch only; use flink or dataflow for streaming") {
		t.Errorf("streaming on spark: %v\n%s", err, tail(out))
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
