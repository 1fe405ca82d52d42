package transforms

import (
	"context"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// DefaultDedupeHorizon is DedupeStream's horizon when none is given: the
// team score window plus its allowed lateness (1 h + 2 h), after which a
// copy of an event could no longer change any windowed view anyway.
const DefaultDedupeHorizon = 3 * time.Hour

// DedupeStreamOptions configure DedupeStream.
type DedupeStreamOptions struct {
	// Horizon is how long, in event time, an event id is remembered: a copy
	// whose first copy's event time is more than Horizon behind the
	// watermark is no longer recognised (default DefaultDedupeHorizon).
	Horizon time.Duration
}

// DedupeStream is Dedupe for unbounded input: it keeps the first copy of
// each event_id it sees and drops later copies, counting events_unique and
// events_duplicate (namespace "railyard") so that valid = unique +
// duplicates, as Dedupe does.
//
// It is a stateful DoFn keyed by event_id in the global window: a "seen"
// flag per id, and an event-time timer at the first copy's timestamp plus
// the horizon that clears it, so state does not grow forever. Kept events
// leave with their own element timestamps (event time, from WithEventTime),
// so downstream event-time windows treat them exactly as if DedupeStream
// were not there; the timer's output timestamp is its own firing time, so
// it holds no watermark back.
//
// Differences from the batch Dedupe, which the batch views correct:
//   - when copies of an id differ, the first to arrive is kept (batch keeps
//     the one with the smallest normalised JSON line);
//   - a copy that arrives after the watermark passed its first copy's event
//     time plus the horizon counts again as unique. With the default
//     horizon such a copy is droppably late for the team score windows, but
//     the counters and views without lateness bounds (user scores) count it.
func DedupeStream(s beam.Scope, events beam.PCollection, opts DedupeStreamOptions) beam.PCollection {
	s = s.Scope("DedupeStream")
	if opts.Horizon <= 0 {
		opts.Horizon = DefaultDedupeHorizon
	}
	// One state cell per id for the whole run, whatever windows the input
	// is in; timestamps are unchanged by re-windowing.
	global := beam.WindowInto(s, window.NewGlobalWindows(), events)
	keyed := beam.ParDo(s, keyByEventID, global)
	return beam.ParDo(s, newFirstCopyFn(opts.Horizon), keyed)
}

func keyByEventID(e schemas.GameEvent) (string, schemas.GameEvent) { return e.EventID, e }

// firstCopyFn emits the first copy of each key and forgets the key Horizon
// after that copy's timestamp.
type firstCopyFn struct {
	Seen          state.Value[bool]
	Forget        timers.EventTime
	HorizonMillis int64
}

func newFirstCopyFn(horizon time.Duration) *firstCopyFn {
	return &firstCopyFn{
		Seen:          state.MakeValueState[bool]("seen"),
		Forget:        timers.InEventTime("forget"),
		HorizonMillis: horizon.Milliseconds(),
	}
}

func (fn *firstCopyFn) ProcessElement(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, _ string, e schemas.GameEvent, emit func(schemas.GameEvent)) error {
	seen, _, err := fn.Seen.Read(sp)
	if err != nil {
		return err
	}
	if seen {
		duplicateCounter.Inc(ctx, 1)
		return nil
	}
	if err := fn.Seen.Write(sp, true); err != nil {
		return err
	}
	// The timer only frees state and emits nothing. Its output timestamp is
	// its firing time rather than none (WithNoOutputTimestamp), which Flink
	// rejects ("TimestampCombiner moved element from TIMESTAMP_MAX_VALUE");
	// a hold at the firing time never holds the output watermark behind the
	// input watermark, which must pass that time for the timer to fire.
	forget := ts.ToTime().Add(time.Duration(fn.HorizonMillis) * time.Millisecond)
	fn.Forget.Set(tp, forget, timers.WithOutputTimestamp(forget))
	uniqueCounter.Inc(ctx, 1)
	emit(e)
	return nil
}

func (fn *firstCopyFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, _ string, _ timers.Context, emit func(schemas.GameEvent)) error {
	return fn.Seen.Clear(sp)
}

func init() {
	register.Function1x2(keyByEventID)
	register.DoFn7x1[context.Context, beam.EventTime, state.Provider, timers.Provider, string, schemas.GameEvent, func(schemas.GameEvent), error](&firstCopyFn{})
}
