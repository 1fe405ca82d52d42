package pubsubsource

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/internal/testkit"
)

// TestReadWithProgress reads a backlog in several bundles and checkpoints,
// then idles until StopAfterIdle: the reports are numbered without a hole,
// count every message exactly once in the end, never move back, follow
// the earliest event time of the backlog, then wall-clock time once the
// subscription is idle, and the last one is final.
func TestReadWithProgress(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	const n = 300
	for i := range n {
		ts := base.Add(time.Duration(i) * time.Minute)
		f.publish(fmt.Sprintf("m-%03d", i), map[string]string{"event_time": ts.Format(time.RFC3339)})
	}

	p, s := beam.NewPipelineWithRoot()
	cfg := f.config()
	cfg.MaxMessages = 40
	raws, progress := ReadWithProgress(s, cfg, 100*time.Millisecond)
	passert.Count(s, raws, "messages", n)
	key := runKey(t)
	testkit.Collect(s, key, progress)
	started := time.Now()
	if _, err := ptest.RunWithMetrics(p); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	reports := testkit.Take[Progress](t, key)
	slices.SortFunc(reports, func(a, b Progress) int { return int(a.Seq - b.Seq) })
	if len(reports) < 3 {
		t.Fatalf("%d reports, want several: %+v", len(reports), reports)
	}
	last := reports[len(reports)-1]
	if !last.Final || last.MessagesRead != n {
		t.Fatalf("last report %+v, want final with %d messages", last, n)
	}
	sawBacklog, sawIdle := false, false
	for i, r := range reports {
		if r.Seq != int64(i) {
			t.Fatalf("report %d has seq %d: %+v", i, r.Seq, reports)
		}
		if r.Final != (i == len(reports)-1) {
			t.Errorf("report %d final=%v", i, r.Final)
		}
		if r.Watermark.After(r.Time) || r.Time.Before(started) {
			t.Errorf("report %d: watermark %s after its time %s, or time before the run", i, r.Watermark, r.Time)
		}
		if r.Watermark.Before(base) {
			t.Errorf("report %d: watermark %s before the earliest event %s", i, r.Watermark, base)
		}
		if i > 0 {
			prev := reports[i-1]
			if r.MessagesRead < prev.MessagesRead || r.Watermark.Before(prev.Watermark) || r.Time.Before(prev.Time) {
				t.Errorf("report %d moved back: %+v after %+v", i, r, prev)
			}
		}
		if r.Watermark.Before(base.Add(n * time.Minute)) {
			sawBacklog = true // event time, not yet wall-clock time
		}
		if !r.Final && r.Time.Sub(r.Watermark) < 3*time.Second {
			sawIdle = true // idle advance: wall-clock now minus 1 s
		}
	}
	if !sawBacklog || !sawIdle {
		t.Errorf("reports did not show both the backlog's event time (%v) and the idle advance (%v): %+v", sawBacklog, sawIdle, reports)
	}
}
