package gaming

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// TeamScoreOptions configure CalculateTeamScores. Zero durations take the
// defaults of Beam's LeaderBoard example.
type TeamScoreOptions struct {
	// Window is the fixed event-time window length (default 60 min).
	Window time.Duration
	// AllowedLateness is how long after a window's end late data still
	// updates it (default 120 min); later data is dropped.
	AllowedLateness time.Duration
	// EarlyDelay is the processing-time delay after the first element of a
	// pane before a speculative EARLY firing (default 5 min).
	EarlyDelay time.Duration
	// LateDelay is the processing-time delay after the first late element
	// before a LATE firing (default 10 min).
	LateDelay time.Duration
	// Batch computes the batch view instead: one final ON_TIME pane per
	// window (Beam's default trigger) and processing_time set to the window
	// end, so reruns write identical rows. The delays and lateness are
	// ignored.
	Batch bool
}

func (o TeamScoreOptions) withDefaults() TeamScoreOptions {
	if o.Window <= 0 {
		o.Window = time.Hour
	}
	if o.AllowedLateness <= 0 {
		o.AllowedLateness = 2 * time.Hour
	}
	if o.EarlyDelay <= 0 {
		o.EarlyDelay = 5 * time.Minute
	}
	if o.LateDelay <= 0 {
		o.LateDelay = 10 * time.Minute
	}
	return o
}

// CalculateTeamScores sums each team's scores in fixed event-time windows:
// Beam's HourlyTeamScore in batch (opts.Batch) and LeaderBoard's team scores
// in streaming (early, on-time and late accumulating panes). The input is
// schemas.GameEvent timestamped by event time (transforms.WithEventTime);
// the output is schemas.TeamScore with the pane's timing and index.
//
// Scores are summed after a GroupByKey rather than with CombinePerKey,
// because prism has been seen to report wrong pane metadata after a
// CombinePerKey, and the pane fields are part of the output.
func CalculateTeamScores(s beam.Scope, events beam.PCollection, opts TeamScoreOptions) beam.PCollection {
	s = s.Scope("CalculateTeamScores")
	opts = opts.withDefaults()
	fixed := window.NewFixedWindows(opts.Window)
	var windowed beam.PCollection
	if opts.Batch {
		windowed = beam.WindowInto(s, fixed, events)
	} else {
		windowed = beam.WindowInto(s, fixed, events,
			beam.Trigger(trigger.AfterEndOfWindow().
				EarlyFiring(trigger.AfterProcessingTime().PlusDelay(opts.EarlyDelay)).
				LateFiring(trigger.AfterProcessingTime().PlusDelay(opts.LateDelay))),
			beam.AllowedLateness(opts.AllowedLateness),
			beam.PanesAccumulate(),
		)
	}
	keyed := beam.ParDo(s, keyByTeam, windowed)
	grouped := beam.GroupByKey(s, keyed)
	return beam.ParDo(s, &teamScoreFn{Batch: opts.Batch}, grouped)
}

func keyByTeam(e schemas.GameEvent) (string, ScoreCount) {
	return e.Team, ScoreCount{Score: e.Score, Events: 1}
}

type teamScoreFn struct {
	Batch bool
}

func (fn *teamScoreFn) ProcessElement(pane typex.PaneInfo, w typex.Window, team string, values func(*ScoreCount) bool) schemas.TeamScore {
	var total ScoreCount
	var sc ScoreCount
	for values(&sc) {
		total = addScoreCounts(total, sc)
	}
	iw := w.(window.IntervalWindow)
	start, end := iw.Start.ToTime().UTC(), iw.End.ToTime().UTC()
	row := schemas.TeamScore{
		Team: team, Score: total.Score, Events: total.Events,
		WindowStart: start, WindowEnd: end,
		Timing:         paneTiming(pane),
		PaneIndex:      pane.Index,
		IsLast:         pane.IsLast,
		ProcessingTime: time.Now().UTC(),
	}
	if fn.Batch {
		// The single firing of the default trigger is the window's final,
		// on-time result, whatever pane metadata the runner attaches.
		row.Timing, row.PaneIndex, row.IsLast = schemas.TimingOnTime, 0, true
		row.ProcessingTime = end
	}
	return row
}

func paneTiming(p typex.PaneInfo) string {
	switch p.Timing {
	case typex.PaneEarly:
		return schemas.TimingEarly
	case typex.PaneLate:
		return schemas.TimingLate
	default:
		return schemas.TimingOnTime
	}
}

func init() {
	register.Function1x2(keyByTeam)
	register.DoFn4x1[typex.PaneInfo, typex.Window, string, func(*ScoreCount) bool, schemas.TeamScore](&teamScoreFn{})
	register.Iter1[ScoreCount]()
}
