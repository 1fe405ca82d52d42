package batchjob

import (
	"testing"

	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/runners/jobserver"
)

// jobServers are the Flink and Spark job servers this package's tests share
// (started on first use, stopped by TestMain).
var jobServers jobserver.Shared

// TestBatchOnFlinkAndSpark runs the batch job on Beam's real Flink and
// Spark job servers (LOOPBACK workers in this test binary), with both
// plans, over a generated lake on fake GCS into the BigQuery emulator: the
// same assertions as on prism (TestBatchEndToEnd). Every row of the three
// views equals internal/reference — which the prism run is held to as well,
// so the runners agree row for row — the reconciliation matches the
// reference's counts, dead letters are kept by reason, a rerun leaves
// identical contents and a second ledger row, and the other date is left
// alone.
func TestBatchOnFlinkAndSpark(t *testing.T) {
	lakeEnv := newBatchEnv(t, "rn_", 20_000)
	for _, kind := range jobserver.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			testkit.UseRunner(t, string(kind), jobServers.Endpoint(t, kind))
			for _, plan := range Plans {
				t.Run(plan, func(t *testing.T) {
					env := lakeEnv.withDatasets(t, "rn_"+string(kind)+"_"+plan+"_")
					env.plan = plan
					testEndToEnd(t, env)
				})
			}
		})
	}
}
