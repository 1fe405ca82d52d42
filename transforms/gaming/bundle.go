package gaming

import (
	"encoding/binary"
	"errors"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/schemas"
)

// Partial aggregation per bundle, before the streaming views' shuffles.
//
// prism's cost (and much of any portable runner's) is per element moved
// between stages: each one is encoded, sent to the runner, sorted into its
// key and window, and sent back. The Go SDK lifts CombinePerKey, but the
// streaming views cannot use it (it loses the pane, see panes.go), so their
// GroupByKeys took one element per event. bundleSumFn and bundleSessionsFn
// lift by hand: within a bundle they add up the values of each key and
// window and emit one element per key and window when the bundle finishes.
//
// The rows do not change. A window is assigned from an element's
// timestamp, and each partial carries the earliest timestamp of the
// elements it sums, so it lands in their window; what a GroupByKey does
// with an element — drop it when its window has expired, count it in the
// pane being built, start the early-firing delay — depends on its window
// and on when it arrives, and runners hand a bundle's output downstream
// when the bundle commits, so the partial arrives when its elements would
// have. FinishBundle emits into the global window, so these steps run
// before the views' WindowInto, and compute the fixed window themselves
// as FixedWindows does (epoch-aligned).

// windowStart is the start of the epoch-aligned window of size
// windowMillis holding ts (0 for windowMillis 0: one window).
func windowStart(ts, windowMillis int64) int64 {
	if windowMillis <= 0 {
		return 0
	}
	start := ts - ts%windowMillis
	if ts < 0 && ts%windowMillis != 0 {
		start -= windowMillis
	}
	return start
}

// bundleSumFn adds up a bundle's ScoreCounts per key and window of
// WindowMillis (0: the whole bundle per key).
type bundleSumFn struct {
	WindowMillis int64

	sums map[bundleKey]*bundleSum
}

type bundleKey struct {
	key   string
	start int64
}

type bundleSum struct {
	sc       ScoreCount
	earliest int64
}

// maxBundleKeys bounds what the partial aggregators hold before they emit
// early (each key and window once more, which changes nothing downstream).
const maxBundleKeys = 100_000

func (fn *bundleSumFn) StartBundle(_ func(beam.EventTime, string, ScoreCount)) {
	if fn.sums == nil {
		fn.sums = map[bundleKey]*bundleSum{}
	}
}

func (fn *bundleSumFn) ProcessElement(ts beam.EventTime, key string, sc ScoreCount, emit func(beam.EventTime, string, ScoreCount)) {
	t := int64(ts)
	k := bundleKey{key: key, start: windowStart(t, fn.WindowMillis)}
	if s := fn.sums[k]; s != nil {
		s.sc = addScoreCounts(s.sc, sc)
		s.earliest = min(s.earliest, t)
		return
	}
	fn.sums[k] = &bundleSum{sc: sc, earliest: t}
	if len(fn.sums) >= maxBundleKeys {
		fn.FinishBundle(emit)
	}
}

func (fn *bundleSumFn) FinishBundle(emit func(beam.EventTime, string, ScoreCount)) {
	for k, s := range fn.sums {
		emit(mtime.Time(s.earliest), k.key, s.sc)
	}
	clear(fn.sums)
}

// bundleSums applies bundleSumFn.
func bundleSums(s beam.Scope, keyed beam.PCollection, windowMillis int64) beam.PCollection {
	return beam.ParDo(s, &bundleSumFn{WindowMillis: windowMillis}, keyed)
}

// bundleSessionsFn merges each user's events of a bundle into session
// windows (each event opens [t, t+gap), overlapping windows merge) and
// emits them per user, at the user's earliest event: userSessionsFn merges
// them into the user's open sessions as it would the events one by one
// (merging is associative and commutative).
type bundleSessionsFn struct {
	GapMillis int64

	users map[string]*bundleSessionsOf
}

type bundleSessionsOf struct {
	windows  []Interval
	earliest int64
}

func (fn *bundleSessionsFn) StartBundle(_ func(beam.EventTime, string, Sessions)) {
	if fn.users == nil {
		fn.users = map[string]*bundleSessionsOf{}
	}
}

func (fn *bundleSessionsFn) ProcessElement(ts beam.EventTime, e schemas.GameEvent, emit func(beam.EventTime, string, Sessions)) {
	t := int64(ts)
	w := Interval{Start: t, End: t + fn.GapMillis}
	if u := fn.users[e.User]; u != nil {
		u.windows = append(u.windows, w)
		u.earliest = min(u.earliest, t)
		return
	}
	fn.users[e.User] = &bundleSessionsOf{windows: []Interval{w}, earliest: t}
	if len(fn.users) >= maxBundleKeys {
		fn.FinishBundle(emit)
	}
}

func (fn *bundleSessionsFn) FinishBundle(emit func(beam.EventTime, string, Sessions)) {
	for user, u := range fn.users {
		emit(mtime.Time(u.earliest), user, Sessions{Windows: mergeWindows(u.windows)})
	}
	clear(fn.users)
}

// encodeSessions is Sessions' coder: the count, then each window's start
// and length as varints. Sessions cross the streaming shuffle to
// userSessionsFn and are its state; a coder of the Go SDK's own keeps
// Flink's Java side from decoding a schema row with a nested list itself.
func encodeSessions(s Sessions) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 1+8*len(s.Windows)), uint64(len(s.Windows)))
	for _, w := range s.Windows {
		b = binary.AppendVarint(b, w.Start)
		b = binary.AppendVarint(b, w.End-w.Start)
	}
	return b
}

var errCorruptSessions = errors.New("gaming: corrupt Sessions encoding")

func decodeSessions(b []byte) (Sessions, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return Sessions{}, errCorruptSessions
	}
	b = b[w:]
	var s Sessions
	if n > 0 {
		s.Windows = make([]Interval, 0, n)
	}
	for range n {
		start, w1 := binary.Varint(b)
		if w1 <= 0 {
			return Sessions{}, errCorruptSessions
		}
		length, w2 := binary.Varint(b[w1:])
		if w2 <= 0 {
			return Sessions{}, errCorruptSessions
		}
		b = b[w1+w2:]
		s.Windows = append(s.Windows, Interval{Start: start, End: start + length})
	}
	if len(b) != 0 {
		return Sessions{}, errCorruptSessions
	}
	return s, nil
}

func init() {
	register.DoFn4x0[beam.EventTime, string, ScoreCount, func(beam.EventTime, string, ScoreCount)](&bundleSumFn{})
	register.Emitter3[beam.EventTime, string, ScoreCount]()
	register.DoFn3x0[beam.EventTime, schemas.GameEvent, func(beam.EventTime, string, Sessions)](&bundleSessionsFn{})
	register.Emitter3[beam.EventTime, string, Sessions]()
}
