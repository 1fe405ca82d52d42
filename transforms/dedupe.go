package transforms

import (
	"bytes"
	"context"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// Dedupe keeps one event per event_id: valid = unique + duplicates. When
// copies differ, the copy whose normalised JSON line (MarshalLine) is
// lexicographically smallest is kept, so the choice does not depend on the
// order in which a runner delivers them.
//
// In the global window (batch) it deduplicates across the whole input; in
// streaming, within each window of the input.
func Dedupe(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Dedupe")
	keyed := beam.ParDo(s, keyByEventID, events)
	picked := beam.CombinePerKey(s, &pickFn{}, keyed)
	return beam.ParDo(s, emitUnique, picked)
}

func keyByEventID(e schemas.GameEvent) (string, schemas.GameEvent) { return e.EventID, e }

// pickAcc is the copy kept so far and the number of copies seen.
type pickAcc struct {
	Event  schemas.GameEvent `beam:"event"`
	Copies int64             `beam:"copies"`
}

type pickFn struct{}

func (*pickFn) CreateAccumulator() pickAcc { return pickAcc{} }

func (*pickFn) AddInput(a pickAcc, e schemas.GameEvent) pickAcc {
	return merge(a, pickAcc{Event: e, Copies: 1})
}

func (*pickFn) MergeAccumulators(a, b pickAcc) pickAcc { return merge(a, b) }

func (*pickFn) ExtractOutput(a pickAcc) pickAcc { return a }

func merge(a, b pickAcc) pickAcc {
	switch {
	case a.Copies == 0:
		return b
	case b.Copies == 0:
		return a
	}
	kept := a.Event
	// Comparing the encodings only when copies differ keeps the common case
	// (identical copies) cheap.
	if a.Event != b.Event && bytes.Compare(b.Event.MarshalLine(), a.Event.MarshalLine()) < 0 {
		kept = b.Event
	}
	return pickAcc{Event: kept, Copies: a.Copies + b.Copies}
}

func emitUnique(ctx context.Context, _ string, a pickAcc, emit func(schemas.GameEvent)) {
	uniqueCounter.Inc(ctx, 1)
	duplicateCounter.Inc(ctx, a.Copies-1)
	emit(a.Event)
}

// WithEventTime sets each event's element timestamp to its event time, so
// that windows and triggers work in event time.
func WithEventTime(s beam.Scope, events beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("WithEventTime"), stampEventTime, events)
}

func stampEventTime(e schemas.GameEvent) (beam.EventTime, schemas.GameEvent) {
	return mtime.FromTime(e.EventTime), e
}

func dayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func init() {
	beam.RegisterType(reflect.TypeOf((*pickAcc)(nil)).Elem())
	register.Function1x2(keyByEventID)
	register.Combiner2[pickAcc, schemas.GameEvent](&pickFn{})
	register.Function4x0(emitUnique)
	register.Function1x2(stampEventTime)
	register.Emitter1[schemas.GameEvent]()
}
