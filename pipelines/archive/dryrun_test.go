package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/railyard-dev/railyard/internal/testkit"
)

// TestDryRun runs the command with --dry_run as a user would, offline:
// the job is printed, neither the subscription nor the lake is touched,
// exit 0.
func TestDryRun(t *testing.T) {
	bin := testkit.BuildCommand(t, "archive")
	cmd := exec.Command(bin, "--subscription=projects/p/subscriptions/archive", "--lake=gs://no-such-bucket/lake",
		"--runner=dataflow", "--dry_run", "--project=p", "--region=us-central1", "--staging_location=gs://no-such-bucket/staging")
	cmd.Env = testkit.OfflineEnv(t)
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("dataflow dry run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Dry-run: not submitting job!",
		"JOB_TYPE_STREAMING",
		"enable_streaming_engine",
		"beam:transform:pubsub_read:v1",
		"projects/p/subscriptions/archive",
		"dry run, the job was printed and not run: nothing read or written",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dataflow dry run output lacks %q:\n%s", want, out[max(0, len(out)-4000):])
		}
	}
}
