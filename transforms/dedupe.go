package transforms

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// DedupeBuckets is how many keys Dedupe spreads event ids over.
const DedupeBuckets = 1024

// Dedupe keeps one event per event_id: valid = unique + duplicates. When
// copies differ, the copy whose normalised JSON line (MarshalLine) is
// lexicographically smallest is kept, so the choice does not depend on the
// order in which a runner delivers them.
//
// Event ids are hashed into DedupeBuckets keys and each key's combiner keeps
// a map from event id to the copy kept so far. With combiner lifting, a
// bundle sends one map per bucket to the GroupByKey instead of one element
// per event: the runner moves about a thousand times fewer, larger elements
// (on prism, whose cost is per element, that is most of a batch run's time
// and memory). In the global window (batch) it deduplicates across the whole
// input; in streaming, within each window of the input.
func Dedupe(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Dedupe")
	keyed := beam.ParDo(s, keyByBucket, events)
	picked := beam.CombinePerKey(s, &bucketDedupeFn{}, keyed)
	return beam.ParDo(s, emitUnique, picked)
}

func keyByBucket(e schemas.GameEvent) (int, schemas.GameEvent) {
	h := fnv.New32a()
	h.Write([]byte(e.EventID))
	return int(h.Sum32() % DedupeBuckets), e
}

// kept is the copy of one event id kept so far and the copies seen.
type kept struct {
	Event  schemas.GameEvent
	Copies int64
}

// bucketAcc maps event id to the copy kept so far. It travels with a
// compact binary coder (encodeBucketAcc).
type bucketAcc struct {
	Kept map[string]kept
}

type bucketDedupeFn struct{}

func (*bucketDedupeFn) CreateAccumulator() bucketAcc { return bucketAcc{Kept: map[string]kept{}} }

func (*bucketDedupeFn) AddInput(a bucketAcc, e schemas.GameEvent) bucketAcc {
	if a.Kept == nil {
		a.Kept = map[string]kept{}
	}
	a.Kept[e.EventID] = pick(a.Kept[e.EventID], kept{Event: e, Copies: 1})
	return a
}

func (*bucketDedupeFn) MergeAccumulators(a, b bucketAcc) bucketAcc {
	if len(a.Kept) < len(b.Kept) {
		a, b = b, a
	}
	if a.Kept == nil {
		a.Kept = map[string]kept{}
	}
	for id, k := range b.Kept {
		a.Kept[id] = pick(a.Kept[id], k)
	}
	return a
}

func (*bucketDedupeFn) ExtractOutput(a bucketAcc) bucketAcc { return a }

// pick merges two partial results for one event id.
func pick(a, b kept) kept {
	switch {
	case a.Copies == 0:
		return b
	case b.Copies == 0:
		return a
	}
	return kept{Event: KeptCopy(a.Event, b.Event), Copies: a.Copies + b.Copies}
}

// KeptCopy is Dedupe's rule between two copies of one event id: the copy
// whose normalised JSON line (MarshalLine) is lexicographically smallest,
// a when they are equal. The rule is commutative and associative, so the
// copy kept does not depend on the order copies are seen in.
func KeptCopy(a, b schemas.GameEvent) schemas.GameEvent {
	// Comparing encodings only when copies differ keeps the common case
	// (identical copies) cheap.
	if a != b && bytes.Compare(b.MarshalLine(), a.MarshalLine()) < 0 {
		return b
	}
	return a
}

func emitUnique(ctx context.Context, _ int, a bucketAcc, emit func(schemas.GameEvent)) {
	for _, k := range a.Kept {
		uniqueCounter.Inc(ctx, 1)
		duplicateCounter.Inc(ctx, k.Copies-1)
		emit(k.Event)
	}
}

// encodeBucketAcc writes the accumulator as a count followed by, per event
// id, the copies and the event (schemas.AppendEvent).
func encodeBucketAcc(a bucketAcc) []byte {
	b := binary.AppendUvarint(nil, uint64(len(a.Kept)))
	for _, k := range a.Kept {
		b = binary.AppendUvarint(b, uint64(k.Copies))
		b = schemas.AppendEvent(b, k.Event)
	}
	return b
}

func decodeBucketAcc(b []byte) (bucketAcc, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return bucketAcc{}, errors.New("transforms: corrupt dedupe accumulator")
	}
	b = b[w:]
	a := bucketAcc{Kept: make(map[string]kept, n)}
	for i := uint64(0); i < n; i++ {
		copies, w := binary.Uvarint(b)
		if w <= 0 {
			return bucketAcc{}, errors.New("transforms: corrupt dedupe accumulator")
		}
		e, rest, err := schemas.ReadEvent(b[w:])
		if err != nil {
			return bucketAcc{}, err
		}
		b = rest
		a.Kept[e.EventID] = kept{Event: e, Copies: int64(copies)}
	}
	return a, nil
}

// WithEventTime sets each event's element timestamp to its event time, so
// that windows and triggers work in event time. Apply it where the events
// enter the pipeline: after a GroupByKey (such as Dedupe's in the global
// window) timestamps cannot be moved back without the runner treating the
// elements as late.
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
	beam.RegisterCoder(reflect.TypeOf((*bucketAcc)(nil)).Elem(), encodeBucketAcc, decodeBucketAcc)
	register.Function1x2(keyByBucket)
	register.Combiner2[bucketAcc, schemas.GameEvent](&bucketDedupeFn{})
	register.Function4x0(emitUnique)
	register.Function1x2(stampEventTime)
	register.Emitter1[schemas.GameEvent]()
}
