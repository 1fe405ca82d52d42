package pubsubsource

import (
	"testing"
	"time"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"

	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/runners/jobserver"
)

// jobServers is the Flink job server this package's tests share.
var jobServers jobserver.Shared

// TestReadOnFlink reads on Beam's real Flink job server (streaming, with
// checkpoints): every message is emitted once with its payload, attributes
// and event time, and acked exactly once, by the finalization callbacks
// Flink runs when a checkpoint completes.
func TestReadOnFlink(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	testkit.UseRunner(t, "flink", jobServers.Endpoint(t, jobserver.Flink))
	testReadEmitsMessagesAndAcks(t, f)
}
