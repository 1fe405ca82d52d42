package gaming

import (
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// Day is the window of CalculateUserScoresDaily: one UTC calendar date.
const Day = 24 * time.Hour

// CalculateUserScoresDaily is the streaming counterpart of UserScoresDaily:
// each (user, team)'s score per event date (UTC), in fixed one-day
// event-time windows with CalculateTeamScores's trigger, allowed lateness
// and accumulating panes (opts.Window is ignored: the window is a day;
// opts.Batch is ignored too, UserScoresDaily is the batch view). The input
// is schemas.GameEvent timestamped by event time; the output is
// schemas.UserScoreDailyPane, one row per pane per (day, user, team), with
// the day's total so far, the pane's timing and index. See the package doc
// for the exact definition.
//
// It runs the same machinery as CalculateTeamScores: sums per bundle
// (bundle.go), a discarding GroupByKey summed per pane, then
// accumulatePanes for the running totals and pane numbering (see panes.go
// for why).
func CalculateUserScoresDaily(s beam.Scope, events beam.PCollection, opts TeamScoreOptions) beam.PCollection {
	s = s.Scope("CalculateUserScoresDaily")
	opts.Window = Day
	opts.Batch = false
	opts = opts.withDefaults()
	// Summed per bundle before the shuffle (bundle.go), then windowed.
	partials := bundleSums(s, beam.ParDo(s, keyByUserTeam, events), Day.Milliseconds())
	windowed := beam.WindowInto(s, window.NewFixedWindows(Day), partials,
		beam.Trigger(trigger.AfterEndOfWindow().
			EarlyFiring(trigger.AfterProcessingTime().PlusDelay(opts.EarlyDelay)).
			LateFiring(trigger.AfterProcessingTime().PlusDelay(opts.LateDelay))),
		beam.AllowedLateness(opts.AllowedLateness),
		beam.PanesDiscard(),
	)
	grouped := beam.GroupByKey(s, windowed)
	totals := accumulatePanes(s, beam.ParDo(s, sumPaneDelta, grouped), opts.AllowedLateness+Day)
	return beam.ParDo(s, toUserScoreDailyPane, totals)
}

// toUserScoreDailyPane is the row of one accumulated pane of a day,
// stamped with the time it is emitted.
func toUserScoreDailyPane(t paneTotal) schemas.UserScoreDailyPane {
	p := splitKey(t.Key)
	return schemas.UserScoreDailyPane{
		Day:  civil.DateOf(time.UnixMilli(t.WindowStart).UTC()),
		User: p[0], Team: p[1], Score: t.Score, Events: t.Events,
		Timing: t.Timing, PaneIndex: t.PaneIndex, IsLast: t.IsLast,
		ProcessingTime: time.Now().UTC(),
	}
}

func init() {
	register.Function1x1(toUserScoreDailyPane)
}
