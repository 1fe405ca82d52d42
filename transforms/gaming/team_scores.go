package gaming

import (
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
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
	// Batch computes the batch view instead: exactly the rows of each
	// window's final ON_TIME pane, with processing_time set to the window
	// end so that reruns write identical rows. The delays and lateness are
	// ignored. In batch the windows are computed from each event's
	// EventTime field rather than from element timestamps, because the
	// batch input comes out of a run-wide deduplication (a GroupByKey in the
	// global window), after which element timestamps no longer carry event
	// time, and re-stamping them earlier makes prism drop them as late.
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
// Beam's HourlyTeamScore in batch (opts.Batch) and LeaderBoard's
// CalculateTeamScores in streaming. The input is schemas.GameEvent
// timestamped by event time (transforms.WithEventTime); the output is
// schemas.TeamScore, one row per pane with the pane's timing and index (see
// the package doc for the exact trigger and what each row holds).
//
// In streaming the panes accumulate: each row holds the window's total so
// far. The runner groups with discarding panes and accumulatePanes keeps the
// totals (see panes.go for why), and the sums are taken after a GroupByKey
// rather than a CombinePerKey, whose output loses the pane in the Go SDK;
// each bundle's events are summed per team and window before the
// GroupByKey (bundle.go).
func CalculateTeamScores(s beam.Scope, events beam.PCollection, opts TeamScoreOptions) beam.PCollection {
	s = s.Scope("CalculateTeamScores")
	opts = opts.withDefaults()
	if opts.Batch {
		global := beam.WindowInto(s, window.NewGlobalWindows(), events)
		keyed := beam.ParDo(s, &keyByWindowTeamFn{WindowMillis: opts.Window.Milliseconds()}, global)
		return beam.ParDo(s, toOnTimeTeamScore, beam.CombinePerKey(s, addScoreCounts, keyed))
	}
	// Summed per bundle before the shuffle (bundle.go), then windowed.
	partials := bundleSums(s, beam.ParDo(s, keyByTeam, events), opts.Window.Milliseconds())
	windowed := beam.WindowInto(s, window.NewFixedWindows(opts.Window), partials,
		beam.Trigger(trigger.AfterEndOfWindow().
			EarlyFiring(trigger.AfterProcessingTime().PlusDelay(opts.EarlyDelay)).
			LateFiring(trigger.AfterProcessingTime().PlusDelay(opts.LateDelay))),
		beam.AllowedLateness(opts.AllowedLateness),
		beam.PanesDiscard(),
	)
	grouped := beam.GroupByKey(s, windowed)
	// Totals are kept one window length past the last possible pane.
	totals := accumulatePanes(s, beam.ParDo(s, sumPaneDelta, grouped), opts.AllowedLateness+opts.Window)
	return beam.ParDo(s, toTeamScore, totals)
}

// keyByWindowTeamFn keys an event by the epoch-aligned fixed window of its
// event time (as Beam's FixedWindows assigns it) and its team.
type keyByWindowTeamFn struct {
	WindowMillis int64
}

func (fn *keyByWindowTeamFn) ProcessElement(e schemas.GameEvent) (string, ScoreCount) {
	ms := e.EventTime.UnixMilli()
	start := ms - ms%fn.WindowMillis
	if ms < 0 && ms%fn.WindowMillis != 0 {
		start -= fn.WindowMillis
	}
	return joinKey(strconv.FormatInt(start, 10), strconv.FormatInt(start+fn.WindowMillis, 10), e.Team), ScoreCount{Score: e.Score, Events: 1}
}

// toOnTimeTeamScore is the row of a window's final ON_TIME pane.
func toOnTimeTeamScore(key string, total ScoreCount) schemas.TeamScore {
	p := splitKey(key)
	start, _ := strconv.ParseInt(p[0], 10, 64)
	end, _ := strconv.ParseInt(p[1], 10, 64)
	windowEnd := time.UnixMilli(end).UTC()
	return schemas.TeamScore{
		Team: p[2], Score: total.Score, Events: total.Events,
		WindowStart: time.UnixMilli(start).UTC(), WindowEnd: windowEnd,
		Timing: schemas.TimingOnTime, PaneIndex: 0, IsLast: true,
		ProcessingTime: windowEnd,
	}
}

func keyByTeam(e schemas.GameEvent) (string, ScoreCount) {
	return e.Team, ScoreCount{Score: e.Score, Events: 1}
}

// toTeamScore is the row of one accumulated pane, stamped with the time it
// is emitted.
func toTeamScore(t paneTotal) schemas.TeamScore {
	return schemas.TeamScore{
		Team: t.Key, Score: t.Score, Events: t.Events,
		WindowStart: time.UnixMilli(t.WindowStart).UTC(), WindowEnd: time.UnixMilli(t.WindowEnd).UTC(),
		Timing: t.Timing, PaneIndex: t.PaneIndex, IsLast: t.IsLast,
		ProcessingTime: time.Now().UTC(),
	}
}

func init() {
	register.Function1x2(keyByTeam)
	register.Function1x1(toTeamScore)
	register.DoFn1x2[schemas.GameEvent, string, ScoreCount](&keyByWindowTeamFn{})
	register.Function2x1(toOnTimeTeamScore)
	register.Iter1[ScoreCount]()
}
