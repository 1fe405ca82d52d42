package archivejob

import (
	"testing"

	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/runners/jobserver"
)

// jobServers is the Flink job server this package's tests share.
var jobServers jobserver.Shared

// TestArchiveOnFlink runs the archiver as a streaming job on Beam's real
// Flink job server with the prism test's assertions: the lake holds
// exactly the published lines, rejects are dead letters, the batch layer
// reads back the generator's figures, every message is acked.
func TestArchiveOnFlink(t *testing.T) {
	e := newArchiveEnv(t, 60)
	testkit.UseRunner(t, "flink", jobServers.Endpoint(t, jobserver.Flink))
	testArchiveEndToEnd(t, e)
}

// TestArchiveCrashAndRestartOnFlink cancels a Flink run mid-stream and
// starts another: every published line reaches the lake at least once and
// every message ends up acked, because the archiver acks only after the
// file holding the message is written (AckByCaller), never on Flink's
// bundle finalization.
func TestArchiveCrashAndRestartOnFlink(t *testing.T) {
	e := newArchiveEnv(t, 12)
	testkit.UseRunner(t, "flink", jobServers.Endpoint(t, jobserver.Flink))
	testArchiveCrashAndRestart(t, e)
}
