package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/railyard-dev/railyard/internal/testkit"
)

// TestDryRun runs the command with --dry_run as a user would, offline: the
// job is printed and nothing else happens — no lake check, no BigQuery, no
// ledger row, no reconciliation — and the command exits 0.
func TestDryRun(t *testing.T) {
	bin := testkit.BuildCommand(t, "batch")
	env := testkit.OfflineEnv(t)
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	common := []string{"--lake=gs://no-such-bucket/lake", "--date=2026-11-01", "--bq_project=p"}

	// Dataflow: Beam translates the job and prints it instead of submitting.
	out := run(append(common, "--runner=dataflow", "--dry_run", "--project=p", "--region=us-central1",
		"--staging_location=gs://no-such-bucket/staging")...)
	for _, want := range []string{
		"Dry-run: not submitting job!",
		"JOB_TYPE_BATCH",
		"use_runner_v2",
		"lakeio.ReadHourPartitions",
		"dry run, the job was printed and not run: nothing read, no reconciliation, no ledger row",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dataflow dry run output lacks %q:\n%s", want, tail(out))
		}
	}
	for _, unwanted := range []string{"JOB_TYPE_STREAMING", "read    ", "ledger:"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("dataflow dry run output has %q:\n%s", unwanted, tail(out))
		}
	}

	// Spark (and any other runner): railyard prints the graph; no job
	// server is contacted (the endpoint is a closed port).
	out = run(append(common, "--runner=spark", "--endpoint=127.0.0.1:1", "--environment_type=LOOPBACK", "--dry_run", "--plan=global")...)
	for _, want := range []string{
		"dry run: batch pipeline for spark (job server at 127.0.0.1:1, environment LOOPBACK), not submitted",
		"bounded input: runs as a batch job",
		"transforms.bucketDedupeFn",
		"no ledger row",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("spark dry run output lacks %q:\n%s", want, tail(out))
		}
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
