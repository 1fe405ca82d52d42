package transforms

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/railyard-dev/railyard/schemas"
)

func init() {
	register.Function2x1(hourAndID)
	register.Function2x1(windowStart)
	register.Function2x1(formatCount)
}

func windowStart(w beam.Window, _ schemas.GameEvent) string {
	return w.(window.IntervalWindow).Start.ToTime().UTC().Format(time.RFC3339)
}

func formatCount(k string, n int) string { return fmt.Sprintf("%s %d", k, n) }

// hourAndID shows which fixed hour window an event landed in and which
// event it is: the window comes from the element timestamp, so it proves
// DedupeStream kept the timestamps.
func hourAndID(w beam.Window, e schemas.GameEvent) string {
	return w.(window.IntervalWindow).Start.ToTime().UTC().Format(time.RFC3339) + " " + e.EventID
}

func millis(at string) int64 {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

// TestDedupeStream streams copies of events through DedupeStream with the
// watermark moving on between them: copies within the horizon are dropped
// and counted, a copy after the horizon counts again, and the kept events
// keep their event-time timestamps (they land in their hour windows).
func TestDedupeStream(t *testing.T) {
	e1 := event("e1", "alice", 5, "2026-11-01T10:00:00Z")
	e2 := event("e2", "bob", 3, "2026-11-01T10:30:00Z")
	e3 := event("e3", "carol", 2, "2026-11-01T11:15:00Z")
	e2changed := e2
	e2changed.Score = 99 // same id, different content: the first copy wins

	c := teststream.NewConfig()
	c.AdvanceWatermark(millis("2026-11-01T09:00:00Z"))
	c.AddElements(millis("2026-11-01T10:00:00Z"), e1)
	c.AddElements(millis("2026-11-01T10:30:00Z"), e2)
	c.AdvanceWatermark(millis("2026-11-01T10:45:00Z"))
	c.AddElements(millis("2026-11-01T10:00:00Z"), e1)        // late copy, within the horizon
	c.AddElements(millis("2026-11-01T10:30:00Z"), e2changed) // differing copy
	c.AddElements(millis("2026-11-01T11:15:00Z"), e3, e3)    // two copies in one bundle
	c.AdvanceWatermark(millis("2026-11-01T11:59:00Z"))
	c.AddElements(millis("2026-11-01T10:00:00Z"), e1) // the watermark is 1 h 59 min past e1: within 2 h
	// The watermark passes e1's time + 2 h: its id is forgotten, and the
	// next copy counts as unique again.
	c.AdvanceWatermark(millis("2026-11-01T12:30:00Z"))
	c.AddElements(millis("2026-11-01T10:00:00Z"), e1)
	c.AdvanceWatermarkToInfinity()

	p, s := beam.NewPipelineWithRoot()
	unique := DedupeStream(s, teststream.Create(s, c), DedupeStreamOptions{Horizon: 2 * time.Hour})
	hourly := beam.WindowInto(s, window.NewFixedWindows(time.Hour), unique)
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, hourAndID, hourly)),
		"2026-11-01T10:00:00Z e1", "2026-11-01T10:00:00Z e2", "2026-11-01T11:00:00Z e3",
		"2026-11-01T10:00:00Z e1") // the copy after the horizon
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), unique), e1, e2, e3, e1)
	// A GroupByKey downstream drops late data: the kept events are on time
	// for their windows (the copy after the horizon is late, as it was on
	// input, and is dropped there).
	counts := stats.Count(s, beam.ParDo(s, windowStart, hourly))
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, formatCount, counts)),
		"2026-11-01T10:00:00Z 2", "2026-11-01T11:00:00Z 1")
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		got[c.Key.Name] += c.Committed
	}
	const input = 8
	if got[MetricUnique] != 4 || got[MetricDuplicates] != 4 || got[MetricUnique]+got[MetricDuplicates] != input {
		t.Fatalf("unique %d + duplicates %d, want 4 + 4 = %d input events (all counters %v)", got[MetricUnique], got[MetricDuplicates], input, got)
	}
}

func TestForgetSecond(t *testing.T) {
	for _, c := range []struct{ exp, want int64 }{
		{0, 0}, {1, 1000}, {999, 1000}, {1000, 1000}, {1001, 2000},
		{-1, 0}, {-999, 0}, {-1000, -1000}, {-1001, -1000},
	} {
		if got := forgetSecond(c.exp); got != c.want {
			t.Errorf("forgetSecond(%d) = %d, want %d", c.exp, got, c.want)
		}
	}
}
