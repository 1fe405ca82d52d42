package gaming

import (
	"fmt"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"
	"github.com/railyard-dev/railyard/schemas"
)

// The daily user view has the team-score trigger on one-day windows: the
// same cases as the team-score tests (on time, speculative, observably
// late, droppably late), with the day's end where the hour's was.

func init() {
	register.Function1x1(dailyPaneString)
	register.Function1x1(isOnTimeDaily)
	register.Function1x1(dailyAsBatchRow)
}

func dailyPaneString(r schemas.UserScoreDailyPane) string {
	s := fmt.Sprintf("%s %s/%s score=%d events=%d %s #%d last=%v", r.Day, r.User, r.Team, r.Score, r.Events, r.Timing, r.PaneIndex, r.IsLast)
	if r.ProcessingTime.IsZero() {
		s += " NO PROCESSING TIME"
	}
	if r.RunID != "" {
		s += " run=" + r.RunID // the transform leaves the run to the job
	}
	return s
}

func dailyPanes(t *testing.T, c teststream.Config, want ...any) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	rows := CalculateUserScoresDaily(s, teststream.Create(s, c), TeamScoreOptions{})
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, dailyPaneString, rows)), want...)
	ptest.RunAndValidate(t, p)
}

// On time: one ON_TIME pane per (day, user, team) when the watermark
// passes midnight; each day is its own window, whatever the hour.
func TestUserScoresDailyOnTime(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	mustAdd(&c, ev("a2", "a", "red", 7, "2026-11-01T18:20:00Z"))
	mustAdd(&c, ev("a3", "a", "blue", 1, "2026-11-01T23:59:59Z")) // another team: another row
	mustAdd(&c, ev("b1", "b", "red", 2, "2026-11-02T00:00:00Z"))  // the next day
	mustWatermark(&c, "2026-11-02T00:00:00Z")
	mustWatermark(&c, "2026-11-03T00:00:00Z")
	c.AdvanceWatermarkToInfinity()
	dailyPanes(t, c,
		"2026-11-01 a/red score=12 events=2 ON_TIME #0 last=false",
		"2026-11-01 a/blue score=1 events=1 ON_TIME #0 last=false",
		"2026-11-02 b/red score=2 events=1 ON_TIME #0 last=false",
	)
}

// Speculative: EARLY panes 5 min of processing time after a pane's first
// event, accumulating, then the ON_TIME pane at midnight.
func TestUserScoresDailySpeculative(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	c.AdvanceProcessingTime(minutes(6)) // EARLY #0
	mustWatermark(&c, "2026-11-01T10:06:00Z")
	mustAdd(&c, ev("a2", "a", "red", 7, "2026-11-01T15:00:00Z"))
	c.AdvanceProcessingTime(minutes(6)) // EARLY #1
	mustWatermark(&c, "2026-11-01T15:10:00Z")
	mustWatermark(&c, "2026-11-02T00:00:00Z") // ON_TIME #2, nothing new
	c.AdvanceWatermarkToInfinity()
	dailyPanes(t, c,
		"2026-11-01 a/red score=5 events=1 EARLY #0 last=false",
		"2026-11-01 a/red score=12 events=2 EARLY #1 last=false",
		"2026-11-01 a/red score=12 events=2 ON_TIME #2 last=false",
	)
}

// Observably late: after midnight's ON_TIME pane, an event of that day
// within the allowed lateness (2 h) fires a LATE pane 10 min of processing
// time later, with the accumulated total.
func TestUserScoresDailyObservablyLate(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	mustWatermark(&c, "2026-11-02T00:00:00Z") // ON_TIME #0
	mustAdd(&c, ev("l1", "a", "red", 100, "2026-11-01T23:30:00Z"))
	c.AdvanceProcessingTime(minutes(11)) // LATE #1
	mustWatermark(&c, "2026-11-02T00:30:00Z")
	mustWatermark(&c, "2026-11-02T03:00:00Z")
	c.AdvanceWatermarkToInfinity()
	dailyPanes(t, c,
		"2026-11-01 a/red score=5 events=1 ON_TIME #0 last=false",
		"2026-11-01 a/red score=105 events=2 LATE #1 last=false",
	)
}

// Droppably late: an event for a day whose window expired (watermark past
// midnight + 2 h) changes nothing; the lake keeps it for batch.
func TestUserScoresDailyDroppablyLate(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	mustWatermark(&c, "2026-11-02T00:00:00Z") // ON_TIME #0
	mustWatermark(&c, "2026-11-02T02:00:01Z") // expired at 01:59:59.999
	mustAdd(&c, ev("x1", "a", "red", 100, "2026-11-01T23:00:00Z"))
	c.AdvanceProcessingTime(minutes(11))
	mustWatermark(&c, "2026-11-02T05:00:00Z")
	mustAdd(&c, ev("b1", "a", "red", 3, "2026-11-02T05:10:00Z")) // the stream goes on, next day
	c.AdvanceWatermarkToInfinity()
	dailyPanes(t, c,
		"2026-11-01 a/red score=5 events=1 ON_TIME #0 last=false",
		"2026-11-02 a/red score=3 events=1 ON_TIME #0 last=false",
	)
}

func isOnTimeDaily(r schemas.UserScoreDailyPane) bool { return r.Timing == schemas.TimingOnTime }

func dailyAsBatchRow(r schemas.UserScoreDailyPane) schemas.UserScoreDaily {
	return schemas.UserScoreDaily{Day: r.Day, User: r.User, Team: r.Team, Score: r.Score, Events: r.Events}
}

// TestUserScoresDailyStreamingOnTimeEqualsBatch feeds the package fixture
// through both paths: the ON_TIME panes are batch.user_scores_daily's rows.
func TestUserScoresDailyStreamingOnTimeEqualsBatch(t *testing.T) {
	c := teststream.NewConfig()
	for _, e := range fixture() {
		mustAdd(&c, e)
	}
	c.AdvanceWatermarkToInfinity()
	p, s := beam.NewPipelineWithRoot()
	events := teststream.Create(s, c)
	streaming := CalculateUserScoresDaily(s, events, TeamScoreOptions{})
	onTime := beam.ParDo(s, dailyAsBatchRow, filter.Include(s, streaming, isOnTimeDaily))
	batch := UserScoresDaily(s, events)
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), onTime), beam.WindowInto(s, window.NewGlobalWindows(), batch))
	passert.Count(s, beam.WindowInto(s, window.NewGlobalWindows(), streaming), "streaming panes", 11)
	ptest.RunAndValidate(t, p)
}
