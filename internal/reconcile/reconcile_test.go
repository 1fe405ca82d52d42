package reconcile

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
)

// failedResult is what the universal runner returns for a cancelled job:
// its Metrics dereferences nil.
type failedResult struct{ beam.PipelineResult }

func (failedResult) Metrics() metrics.Results { panic("nil pointer dereference") }

func TestCountersOfFailedRun(t *testing.T) {
	if got := Counters(nil); len(got) != 0 {
		t.Errorf("Counters(nil) = %v", got)
	}
	if got := Counters(failedResult{}); len(got) != 0 {
		t.Errorf("Counters(failed run) = %v", got)
	}
}

func TestOfFindsEveryMismatch(t *testing.T) {
	ok := Of(map[string]int64{"events_read": 10, "events_valid": 8, "events_invalid": 2, "invalid_malformed_json": 2,
		"events_unique": 7, "events_duplicate": 1}, nil, 2)
	if !ok.OK() {
		t.Fatalf("consistent counts reported problems: %v", ok.Problems)
	}
	bad := Of(map[string]int64{"events_read": 10, "events_valid": 7, "events_invalid": 2, "invalid_malformed_json": 1,
		"events_unique": 5, "events_duplicate": 1}, nil, 1)
	if len(bad.Problems) != 4 {
		t.Errorf("problems %q, want read, valid, by-reason and dead-letter mismatches", bad.Problems)
	}
}
