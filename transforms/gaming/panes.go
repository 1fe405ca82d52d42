package gaming

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// The streaming views with early and late firings (CalculateTeamScores,
// CalculateUserScores) have accumulating panes, as in Beam's LeaderBoard:
// every pane carries the total so far. They are not built with an
// accumulating GroupByKey, because of two faults (see "What readers must
// tolerate" in the package doc):
//
//   - In accumulating mode prism keeps every fired element pending until the
//     window expires, and those elements hold the stage's input watermark
//     back, so its triggers never see the end of the window: late data then
//     fires through the early trigger (after EarlyDelay, labelled EARLY) and
//     the next watermark advance fires a second ON_TIME pane.
//   - After a CombinePerKey every pane reads as EARLY with index 0: the Go
//     SDK's combine executors drop the pane when they build their output.
//
// So the runner groups with discarding panes (each pane holds only what
// arrived since the previous one) and sumPaneDelta reads the pane straight
// after the GroupByKey; accumulatePanesFn then keeps the running total per
// key and window in state, numbers the panes it emits and makes their timing
// monotonic. The rows are those of an accumulating trigger, on every runner.
// CalculateGameStats fires each window once, but goes through the same
// step, so that a pane a runner fires for data it should have dropped as
// late still yields a complete row.

// paneDelta is what one pane of a discarding GroupByKey adds to a key's
// window, with the pane as the runner reported it.
type paneDelta struct {
	WindowStart int64 `beam:"window_start"` // Unix ms; 0 with Global
	WindowEnd   int64 `beam:"window_end"`
	Global      bool  `beam:"global"`
	Score       int64 `beam:"score"`
	Events      int64 `beam:"events"`
	Timing      int32 `beam:"timing"` // typex.PaneTiming
	IsLast      bool  `beam:"is_last"`
}

// paneTotal is an accumulated pane of one key and window.
type paneTotal struct {
	Key         string `beam:"key"`
	WindowStart int64  `beam:"window_start"`
	WindowEnd   int64  `beam:"window_end"`
	Score       int64  `beam:"score"`
	Events      int64  `beam:"events"`
	PaneIndex   int64  `beam:"pane_index"`
	Timing      string `beam:"timing"`
	IsLast      bool   `beam:"is_last"`
}

// sumPaneDelta sums one discarding pane of a key's ScoreCount values.
func sumPaneDelta(pane typex.PaneInfo, w typex.Window, key string, values func(*ScoreCount) bool) (string, paneDelta) {
	var total, sc ScoreCount
	for values(&sc) {
		total = addScoreCounts(total, sc)
	}
	return newPaneDelta(pane, w, key, total)
}

// newPaneDelta is the delta of one pane of key in w. The key goes on with
// the window start, because accumulatePanesFn runs in the global window and
// keys its state by both.
func newPaneDelta(pane typex.PaneInfo, w typex.Window, key string, total ScoreCount) (string, paneDelta) {
	d := paneDelta{Score: total.Score, Events: total.Events, Timing: int32(pane.Timing), IsLast: pane.IsLast}
	switch w := w.(type) {
	case window.IntervalWindow:
		d.WindowStart, d.WindowEnd = w.Start.Milliseconds(), w.End.Milliseconds()
	case window.GlobalWindow:
		d.Global = true
	default:
		panic(fmt.Sprintf("gaming: unexpected window type %T", w))
	}
	return joinKey(key, strconv.FormatInt(d.WindowStart, 10)), d
}

// accumulatePanesFn turns discarding panes into accumulating ones. Per key
// and window it keeps the total so far and emits, for each pane, the total
// with its own pane index (0, 1, 2, … in the order it emits them, so a
// higher index always carries every earlier pane's events even if the
// runner delivered two panes out of order) and a timing that never goes
// back: once an ON_TIME or LATE pane was emitted, later panes are LATE, as
// Beam's PaneInfoTracker rules.
//
// It also restores the ON_TIME pane that an accumulating trigger fires when
// the watermark passes the end of a window (Beam's default on-time
// behaviour, FIRE_ALWAYS): a discarding GroupByKey has nothing to fire then
// if early panes already took every element, and runners emit no empty
// panes. So when a window's first pane is EARLY, a timer at the window's
// end emits an ON_TIME pane with the total unless one was emitted already.
type accumulatePanesFn struct {
	Total state.Value[paneTotal]
	// Timer fires at the window end (tag "end") and when the total can be
	// dropped (tag "cleanup"). One family with two tags: with two timer
	// families prism never completed this stage's bundles.
	Timer timers.EventTime
	// RetainMillis is how long after the window end the total is kept
	// (0: forever, for the global window). It must exceed the allowed
	// lateness, the last time a pane can fire.
	RetainMillis int64
}

// Tags of accumulatePanesFn's timers.
const (
	tagWindowEnd = "end"
	tagCleanup   = "cleanup"
)

func newAccumulatePanesFn(retain time.Duration) *accumulatePanesFn {
	return &accumulatePanesFn{
		Total:        state.MakeValueState[paneTotal]("total"),
		Timer:        timers.InEventTime("timer"),
		RetainMillis: retain.Milliseconds(),
	}
}

func (fn *accumulatePanesFn) ProcessElement(sp state.Provider, tp timers.Provider, key string, d paneDelta, emit func(paneTotal)) error {
	t, ok, err := fn.Total.Read(sp)
	if err != nil {
		return err
	}
	if !ok {
		t = paneTotal{Key: splitKey(key)[0], WindowStart: d.WindowStart, WindowEnd: d.WindowEnd, PaneIndex: -1}
		if !d.Global && typex.PaneTiming(d.Timing) == typex.PaneEarly {
			// Fires once the watermark is past the window's last
			// millisecond, the timestamp the runner gives the window's
			// panes: prism fires a timer as soon as the watermark reaches
			// its time, when a pane at that time may still be on its way.
			// The pane it emits has that timestamp too, and holds the
			// output watermark there until then.
			end := time.UnixMilli(d.WindowEnd)
			fn.Timer.Set(tp, end, timers.WithTag(tagWindowEnd), timers.WithOutputTimestamp(end.Add(-time.Millisecond)))
		}
		if fn.RetainMillis > 0 && !d.Global {
			// The timer only frees state. Its output timestamp is its firing
			// time, which holds nothing back (the input watermark must pass
			// it first); Flink rejects WithNoOutputTimestamp.
			cleanup := time.UnixMilli(d.WindowEnd + fn.RetainMillis)
			fn.Timer.Set(tp, cleanup, timers.WithTag(tagCleanup), timers.WithOutputTimestamp(cleanup))
		}
	}
	t.Score += d.Score
	t.Events += d.Events
	t.PaneIndex++
	switch {
	case t.PaneIndex > 0 && t.Timing != schemas.TimingEarly:
		t.Timing = schemas.TimingLate
	default:
		t.Timing = paneTiming(typex.PaneTiming(d.Timing))
	}
	t.IsLast = t.IsLast || d.IsLast
	if err := fn.Total.Write(sp, t); err != nil {
		return err
	}
	emit(t)
	return nil
}

func (fn *accumulatePanesFn) OnTimer(sp state.Provider, tp timers.Provider, key string, timer timers.Context, emit func(paneTotal)) error {
	if timer.Tag == tagCleanup {
		return fn.Total.Clear(sp)
	}
	t, ok, err := fn.Total.Read(sp)
	if err != nil || !ok || t.Timing != schemas.TimingEarly {
		return err
	}
	t.PaneIndex++
	t.Timing = schemas.TimingOnTime
	if err := fn.Total.Write(sp, t); err != nil {
		return err
	}
	emit(t)
	return nil
}

// accumulatePanes runs accumulatePanesFn over the deltas (sumPaneDelta or
// newPaneDelta) of a discarding GroupByKey.
func accumulatePanes(s beam.Scope, deltas beam.PCollection, retain time.Duration) beam.PCollection {
	// The state must outlive the windows it counts; element timestamps (the
	// window's end) are kept.
	global := beam.WindowInto(s, window.NewGlobalWindows(), deltas)
	return beam.ParDo(s, newAccumulatePanesFn(retain), global)
}

func paneTiming(p typex.PaneTiming) string {
	switch p {
	case typex.PaneEarly:
		return schemas.TimingEarly
	case typex.PaneLate:
		return schemas.TimingLate
	default:
		return schemas.TimingOnTime
	}
}

func init() {
	beam.RegisterType(reflect.TypeOf((*paneDelta)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*paneTotal)(nil)).Elem())
	register.Function4x2(sumPaneDelta)
	register.DoFn5x1[state.Provider, timers.Provider, string, paneDelta, func(paneTotal), error](&accumulatePanesFn{})
	register.Emitter1[paneTotal]()
}
