package speedjob

import (
	"testing"

	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/runners/jobserver"
)

// jobServers is the Flink job server this package's tests share.
var jobServers jobserver.Shared

// TestSpeedOnFlink runs the speed job as a streaming job on Beam's real
// Flink job server (embedded Flink, checkpoints every 2 s, LOOPBACK workers
// in this test binary) with the prism end-to-end test's assertions: after
// draining, the latest pane of every team window equals the batch view of
// the same lines, every user's latest row the user's total, every invalid
// line is a dead letter with its reason, no pane row repeats, and every
// message was acked (Flink runs the source's bundle-finalization callbacks
// when a checkpoint completes).
func TestSpeedOnFlink(t *testing.T) {
	env := newSpeedEnv(t, "spf1_")
	testkit.UseRunner(t, "flink", jobServers.Endpoint(t, jobserver.Flink))
	testEndToEnd(t, env, "speed-flink")
}

// TestSpeedStopAndRestartOnFlink: a Flink instance drains and stops while
// more events are still to come, a new instance reads the rest from the
// same subscription; each message is counted by exactly one instance and
// the tables converge to the batch values with no row twice.
func TestSpeedStopAndRestartOnFlink(t *testing.T) {
	env := newSpeedEnv(t, "spf2_")
	testkit.UseRunner(t, "flink", jobServers.Endpoint(t, jobserver.Flink))
	testStopAndRestart(t, env)
}

// TestSpeedPaneTimingOnFlink: on Flink, as on prism, an observably late
// event gets a LATE pane with the accumulated total and the next index,
// after exactly one ON_TIME pane, and droppably late data is dropped.
func TestSpeedPaneTimingOnFlink(t *testing.T) {
	env := newSpeedEnv(t, "sptf_")
	testkit.UseRunner(t, "flink", jobServers.Endpoint(t, jobserver.Flink))
	testPaneTiming(t, env)
}
