package transforms

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms/idset"
)

// DefaultDedupeHorizon is DedupeStream's horizon when none is given: the
// team score window plus its allowed lateness (1 h + 2 h), after which a
// copy of an event could no longer change any windowed view anyway.
const DefaultDedupeHorizon = 3 * time.Hour

// DefaultDedupeBuckets is how many keys DedupeStream spreads event ids
// over when DedupeStreamOptions.Buckets is 0.
const DefaultDedupeBuckets = 16

// DedupeStreamOptions configure DedupeStream.
type DedupeStreamOptions struct {
	// Horizon is how long, in event time, an event id is remembered: a copy
	// whose first copy's event time is more than Horizon behind the
	// watermark is no longer recognised (default DefaultDedupeHorizon).
	Horizon time.Duration
	// Buckets is the number of state keys the ids are hashed to (default
	// DefaultDedupeBuckets): the parallelism of the dedupe step, and what
	// one batch of state requests covers. It does not change the results.
	Buckets int
}

// DedupeStream is Dedupe for unbounded input: it keeps the first copy of
// each event_id it sees and drops later copies, counting events_unique and
// events_duplicate (namespace "railyard") so that valid = unique +
// duplicates, as Dedupe does.
//
// An id is remembered from its first copy until the watermark reaches that
// copy's timestamp plus the horizon, rounded up to the whole second (see
// dedupeBucketFn); a copy arriving after that counts as unique again (and
// is remembered anew). Kept events leave with their own
// element timestamps (event time, from WithEventTime) in the global window,
// so downstream event-time windows treat them exactly as if DedupeStream
// were not there.
//
// Differences from the batch Dedupe, which the batch views correct:
//   - when copies of an id differ, the first to arrive is kept (batch keeps
//     the one with the smallest normalised JSON line);
//   - a copy that arrives after the watermark passed its first copy's event
//     time plus the horizon (rounded up to the second) counts again as
//     unique. With the default horizon such a copy is droppably late for
//     the team score windows, but the counters and views without lateness
//     bounds (user scores) count it.
//
// How: the events of a bundle are batched per hash bucket of their id
// (bucketBatchFn), and a stateful DoFn keyed by bucket (dedupeBucketFn)
// decides a whole batch against the bucket's id set (package idset) with a
// few state requests, where one state cell and timer per id cost three
// synchronous state round trips per event and a runner key, timer and
// watermark hold per id. The set lives in worker memory and is persisted as
// an append-only log in the bucket's bag state; a version number in the
// bucket's value state tells a worker whether its copy is the runner's
// (see dedupeBucketFn). Event-time timers per bucket, at the earliest
// and the latest expiry (to the second), forget the ids that are due.
func DedupeStream(s beam.Scope, events beam.PCollection, opts DedupeStreamOptions) beam.PCollection {
	s = s.Scope("DedupeStream")
	if opts.Horizon <= 0 {
		opts.Horizon = DefaultDedupeHorizon
	}
	if opts.Buckets <= 0 {
		opts.Buckets = DefaultDedupeBuckets
	}
	// One id set for the whole run, whatever windows the input is in;
	// timestamps are unchanged by re-windowing.
	global := beam.WindowInto(s, window.NewGlobalWindows(), events)
	batches := beam.ParDo(s, &bucketBatchFn{Buckets: opts.Buckets}, global)
	return beam.ParDo(s, newDedupeBucketFn(opts.Horizon), batches)
}

// eventBatch is events of one bucket in the order they arrived, with their
// element timestamps (Unix ms).
type eventBatch struct {
	Events []schemas.GameEvent
	Times  []int64
}

// encodeEventBatch is eventBatch's coder: a count, then per event its
// timestamp and schemas.AppendEvent. A coder of the Go SDK's own is opaque
// to the runner (Flink's Java side would decode a schema row itself).
func encodeEventBatch(b eventBatch) []byte {
	out := binary.AppendUvarint(make([]byte, 0, 64*len(b.Events)+8), uint64(len(b.Events)))
	for i, e := range b.Events {
		out = binary.AppendVarint(out, b.Times[i])
		out = schemas.AppendEvent(out, e)
	}
	return out
}

func decodeEventBatch(b []byte) (eventBatch, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return eventBatch{}, errors.New("transforms: corrupt event batch")
	}
	b = b[w:]
	batch := eventBatch{Events: make([]schemas.GameEvent, 0, n), Times: make([]int64, 0, n)}
	for range n {
		t, w := binary.Varint(b)
		if w <= 0 {
			return eventBatch{}, errors.New("transforms: corrupt event batch")
		}
		e, rest, err := schemas.ReadEvent(b[w:])
		if err != nil {
			return eventBatch{}, err
		}
		batch.Events, batch.Times, b = append(batch.Events, e), append(batch.Times, t), rest
	}
	if len(b) != 0 {
		return eventBatch{}, errors.New("transforms: corrupt event batch (trailing bytes)")
	}
	return batch, nil
}

// maxBatchEvents bounds what bucketBatchFn holds before it emits early.
const maxBatchEvents = 50_000

// bucketBatchFn collects a bundle's events per bucket of their id and
// emits each bucket's batch, at the earliest timestamp in it, when the
// bundle finishes (or when it holds maxBatchEvents). Its input is in the
// global window, where FinishBundle emits.
type bucketBatchFn struct {
	Buckets int

	batches []eventBatch
	held    int
}

// StartBundle takes ProcessElement's emitter, as the Go SDK wants.
func (fn *bucketBatchFn) StartBundle(_ func(beam.EventTime, int, eventBatch)) {
	if len(fn.batches) != fn.Buckets {
		fn.batches = make([]eventBatch, fn.Buckets)
	}
	fn.held = 0
}

func (fn *bucketBatchFn) ProcessElement(ts beam.EventTime, e schemas.GameEvent, emit func(beam.EventTime, int, eventBatch)) {
	b := &fn.batches[bucketOf(e.EventID, fn.Buckets)]
	b.Events = append(b.Events, e)
	b.Times = append(b.Times, int64(ts))
	if fn.held++; fn.held >= maxBatchEvents {
		fn.flush(emit)
	}
}

func (fn *bucketBatchFn) FinishBundle(emit func(beam.EventTime, int, eventBatch)) {
	fn.flush(emit)
}

func (fn *bucketBatchFn) flush(emit func(beam.EventTime, int, eventBatch)) {
	for i := range fn.batches {
		b := fn.batches[i]
		if len(b.Events) == 0 {
			continue
		}
		earliest := b.Times[0]
		for _, t := range b.Times[1:] {
			earliest = min(earliest, t)
		}
		emit(mtime.Time(earliest), i, b)
		fn.batches[i] = eventBatch{}
	}
	fn.held = 0
}

// bucketOf spreads ids over n buckets (FNV-1a).
func bucketOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// dedupeMeta is a bucket's value state: Version names the content of the
// bucket's log as last written (a random number per write), Entries and
// Bytes measure the log, TimerAt and LastAt are when the bucket's forget
// timer and its "all" tag are set (0: not set).
type dedupeMeta struct {
	Version int64
	Entries int64
	Bytes   int64
	TimerAt int64
	LastAt  int64
}

func encodeDedupeMeta(m dedupeMeta) []byte {
	b := make([]byte, 0, 40)
	for _, v := range [...]int64{m.Version, m.Entries, m.Bytes, m.TimerAt, m.LastAt} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func decodeDedupeMeta(b []byte) (dedupeMeta, error) {
	var vs [5]int64
	for i := range vs {
		v, w := binary.Varint(b)
		if w <= 0 {
			return dedupeMeta{}, errors.New("transforms: corrupt dedupe state")
		}
		vs[i], b = v, b[w:]
	}
	if len(b) != 0 {
		return dedupeMeta{}, errors.New("transforms: corrupt dedupe state (trailing bytes)")
	}
	return dedupeMeta{Version: vs[0], Entries: vs[1], Bytes: vs[2], TimerAt: vs[3], LastAt: vs[4]}, nil
}

// dedupeBucketFn decides batches of one bucket against the bucket's id set.
//
// State per bucket: Log (bag) holds idset log blocks — an Adds block per
// batch with new ids, a Forget block per timer firing — and Meta (value)
// the log's version and size and the timer's time. The id set itself is
// kept in worker memory (dedupeCaches, shared by the DoFn instances of one
// transform in the process). A worker trusts its copy only while the
// version it last wrote is the one in Meta: it reads Meta once per bucket
// per bundle (the runner gives a key to one bundle at a time, so the state
// cannot change under it within the bundle), and rebuilds the set by
// replaying Log otherwise — on a new or restarted worker, after a failed
// bundle whose writes the runner discarded, or when another worker wrote
// the bucket meanwhile. Every write picks a new version before touching the
// set, so a bundle that fails halfway leaves a copy that no longer matches.
//
// Timers: two event-time timers per bucket in the one family "forget" (a
// second timer family on the DoFn stalls prism v2.77 for good, even when
// it is never set), each with its firing time as its output timestamp
// (which holds nothing back: the input watermark must pass it first; Flink
// rejects WithNoOutputTimestamp). The untagged timer is at the earliest
// expiry in the set rounded up to the whole second, the one tagged "all"
// (forgetAllTag) at the latest expiry added (rounded up likewise). When
// either fires at t, every id with an expiry at or before t is forgotten —
// what the per-id timers of those ids would have done — and the untagged
// timer moves to the next expiry. Rounding to the second makes a firing cover every id expiring in
// that second (one firing per id would cost as many bundles and state
// requests as the per-id design); an id is thus remembered until the
// watermark has passed its expiry by up to a second more. The "all" timer
// covers a watermark that jumps far ahead (a drain moves it to the end of
// time): one firing forgets the whole bucket where "forget" would step
// through it second by second, a bundle each. An id whose expiry the
// watermark has passed while an earlier second's timer was firing is
// forgotten one firing later: the runner may deliver a due timer after
// elements of its key, so that order was always possible.
//
// The log is compacted (rewritten from the set) when forgotten ids make up
// most of it.
type dedupeBucketFn struct {
	Meta          state.Value[dedupeMeta]
	Log           state.Bag[[]byte]
	Forget        timers.EventTime
	HorizonMillis int64
	// ID names this transform's caches in a worker process: a random
	// value set at construction.
	ID string

	cache *dedupeCache
	// checked are the buckets whose copy this bundle has validated.
	checked map[int]bool
}

func newDedupeBucketFn(horizon time.Duration) *dedupeBucketFn {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic(err)
	}
	return &dedupeBucketFn{
		Meta:          state.MakeValueState[dedupeMeta]("meta"),
		Log:           state.MakeBagState[[]byte]("log"),
		Forget:        timers.InEventTime("forget"),
		HorizonMillis: horizon.Milliseconds(),
		ID:            hex.EncodeToString(id[:]),
	}
}

func (fn *dedupeBucketFn) Setup() {
	fn.cache = acquireDedupeCache(fn.ID)
}

func (fn *dedupeBucketFn) Teardown() {
	releaseDedupeCache(fn.ID)
}

func (fn *dedupeBucketFn) StartBundle(_ func(beam.EventTime, schemas.GameEvent)) {
	clear(fn.checked)
	if fn.checked == nil {
		fn.checked = map[int]bool{}
	}
}

func (fn *dedupeBucketFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket int, batch eventBatch, emit func(beam.EventTime, schemas.GameEvent)) error {
	b, err := fn.bucket(sp, bucket)
	if err != nil {
		return err
	}
	defer b.mu.Unlock()
	b.meta.Version = newVersion() // before the set changes: see dedupeBucketFn
	var adds idset.Adds
	var unique, dups, latest int64
	for i, e := range batch.Events {
		t := batch.Times[i]
		exp := t + fn.HorizonMillis
		if !b.ids.Add(e.EventID, exp) {
			dups++
			continue
		}
		adds.Add(e.EventID, exp)
		if unique == 0 || exp > latest {
			latest = exp
		}
		unique++
		emit(mtime.Time(t), e)
	}
	uniqueCounter.Inc(ctx, unique)
	duplicateCounter.Inc(ctx, dups)
	if block := adds.Block(); block != nil {
		if err := fn.Log.Add(sp, block); err != nil {
			return err
		}
		b.meta.Entries += unique
		b.meta.Bytes += int64(len(block))
		dedupeStats.add(unique, int64(len(block)))
	}
	fn.setTimer(tp, b)
	if unique > 0 {
		if last := forgetSecond(latest); last > b.meta.LastAt {
			at := time.UnixMilli(last)
			fn.Forget.Set(tp, at, timers.WithTag(forgetAllTag), timers.WithOutputTimestamp(at))
			b.meta.LastAt = last
		}
	}
	return fn.Meta.Write(sp, b.meta)
}

// forgetAllTag tags the timer at the bucket's latest expiry.
const forgetAllTag = "all"

// forgetSecond rounds an expiry up to the whole second: the time of the
// timer that forgets it.
func forgetSecond(exp int64) int64 {
	const second = 1000
	r := exp % second
	switch {
	case r > 0:
		return exp - r + second
	case r < 0:
		return exp - r
	}
	return exp
}

func (fn *dedupeBucketFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket int, timer timers.Context, _ func(beam.EventTime, schemas.GameEvent)) error {
	b, err := fn.bucket(sp, bucket)
	if err != nil {
		return err
	}
	defer b.mu.Unlock()
	b.meta.Version = newVersion()
	// The timer's output timestamp is its firing time.
	at := int64(ts)
	forgotten := b.ids.Forget(at)
	dedupeStats.add(-int64(forgotten), 0)
	// The timer that fired is no longer set. After the "all" timer the set
	// is normally empty (an id added since with a later expiry moved that
	// timer there, so this firing was not it); ids left after it, if any,
	// are covered by the untagged timer.
	if timer.Tag == forgetAllTag {
		b.meta.LastAt = 0
	} else {
		b.meta.TimerAt = 0
	}
	if b.ids.Len() == 0 {
		b.meta.LastAt = 0
	}
	live := int64(b.ids.Len())
	if b.meta.Entries > 2*live+1024 {
		// Mostly forgotten ids: rewrite the log from the set.
		if err := fn.Log.Clear(sp); err != nil {
			return err
		}
		dedupeStats.add(0, -b.meta.Bytes)
		b.meta.Entries, b.meta.Bytes = 0, 0
		for _, block := range b.ids.Snapshot(compactBlockBytes) {
			if err := fn.Log.Add(sp, block); err != nil {
				return err
			}
			b.meta.Bytes += int64(len(block))
		}
		b.meta.Entries = live
		dedupeStats.add(0, b.meta.Bytes)
	} else if forgotten > 0 {
		block := idset.ForgetBlock(at)
		if err := fn.Log.Add(sp, block); err != nil {
			return err
		}
		b.meta.Bytes += int64(len(block))
		dedupeStats.add(0, int64(len(block)))
	}
	fn.setTimer(tp, b)
	return fn.Meta.Write(sp, b.meta)
}

// compactBlockBytes bounds the blocks of a compacted log (runners cap a
// state request's size; gRPC's default is 4 MiB).
const compactBlockBytes = 512 << 10

// setTimer points the bucket's forget timer at its earliest expiry
// (rounded up to the second), if it is not there already.
func (fn *dedupeBucketFn) setTimer(tp timers.Provider, b *dedupeBucket) {
	next, ok := b.ids.Next()
	if !ok {
		return
	}
	if next = forgetSecond(next); next == b.meta.TimerAt {
		return
	}
	at := time.UnixMilli(next)
	fn.Forget.Set(tp, at, timers.WithOutputTimestamp(at))
	b.meta.TimerAt = next
}

// bucket returns the bucket's copy, locked and valid for this bundle.
func (fn *dedupeBucketFn) bucket(sp state.Provider, bucket int) (*dedupeBucket, error) {
	b := fn.cache.get(bucket)
	b.mu.Lock()
	if fn.checked[bucket] && b.ids != nil {
		return b, nil
	}
	meta, _, err := fn.Meta.Read(sp)
	if err != nil {
		b.mu.Unlock()
		return nil, err
	}
	if b.ids == nil || meta.Version != b.meta.Version {
		if err := fn.reload(sp, b, meta); err != nil {
			b.mu.Unlock()
			return nil, err
		}
	}
	fn.checked[bucket] = true
	return b, nil
}

// reload rebuilds the bucket's set from its log.
func (fn *dedupeBucketFn) reload(sp state.Provider, b *dedupeBucket, meta dedupeMeta) error {
	blocks, _, err := fn.Log.Read(sp)
	if err != nil {
		return err
	}
	ids := idset.New()
	for _, block := range blocks {
		if _, err := ids.Replay(block); err != nil {
			return fmt.Errorf("transforms: DedupeStream state: %w", err)
		}
	}
	if b.ids != nil {
		dedupeStats.add(-int64(b.ids.Len()), -b.meta.Bytes)
	}
	b.ids, b.meta = ids, meta
	dedupeStats.add(int64(ids.Len()), meta.Bytes)
	return nil
}

// newVersion returns a random, non-zero version (zero is the version of a
// bucket that has no state).
func newVersion() int64 {
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		if v := int64(binary.LittleEndian.Uint64(b[:])); v != 0 {
			return v
		}
	}
}

// dedupeCache is one DedupeStream transform's buckets in this process.
type dedupeCache struct {
	mu      sync.Mutex
	users   int
	buckets map[int]*dedupeBucket
}

// dedupeBucket is a worker's copy of one bucket: the id set and the Meta it
// corresponds to. ids is nil until loaded.
type dedupeBucket struct {
	mu   sync.Mutex
	ids  *idset.Set
	meta dedupeMeta
}

func (c *dedupeCache) get(bucket int) *dedupeBucket {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buckets[bucket]
	if b == nil {
		b = &dedupeBucket{}
		c.buckets[bucket] = b
	}
	return b
}

var (
	dedupeCachesMu sync.Mutex
	dedupeCaches   = map[string]*dedupeCache{}
)

func acquireDedupeCache(id string) *dedupeCache {
	dedupeCachesMu.Lock()
	defer dedupeCachesMu.Unlock()
	c := dedupeCaches[id]
	if c == nil {
		c = &dedupeCache{buckets: map[int]*dedupeBucket{}}
		dedupeCaches[id] = c
	}
	c.users++
	return c
}

// releaseDedupeCache drops a DoFn instance's reference; the last one frees
// the copies (a later instance rebuilds them from state).
func releaseDedupeCache(id string) {
	dedupeCachesMu.Lock()
	defer dedupeCachesMu.Unlock()
	c := dedupeCaches[id]
	if c == nil {
		return
	}
	if c.users--; c.users > 0 {
		return
	}
	delete(dedupeCaches, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.buckets {
		b.mu.Lock()
		if b.ids != nil {
			dedupeStats.add(-int64(b.ids.Len()), -b.meta.Bytes)
		}
		b.mu.Unlock()
	}
}

// DedupeStateStats are DedupeStream's figures in this process (the SDK
// workers of a prism or LOOPBACK job run in the job's process): event ids
// retained and bytes of runner state (the buckets' logs) now, and at the
// moment the most ids were retained.
type DedupeStateStats struct {
	IDs, Bytes int64
	// PeakIDs is the most ids retained at once, PeakBytes the log bytes at
	// that moment.
	PeakIDs, PeakBytes int64
}

// BytesPerID is the state bytes per retained id at the peak (0 if none).
func (s DedupeStateStats) BytesPerID() float64 {
	if s.PeakIDs == 0 {
		return 0
	}
	return float64(s.PeakBytes) / float64(s.PeakIDs)
}

// DedupeStats returns DedupeStream's state figures in this process.
func DedupeStats() DedupeStateStats {
	dedupeStats.mu.Lock()
	defer dedupeStats.mu.Unlock()
	return dedupeStats.s
}

// stateStats is updated once per batch or timer firing, not per event.
type stateStats struct {
	mu sync.Mutex
	s  DedupeStateStats
}

var dedupeStats stateStats

func (st *stateStats) add(ids, bytes int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.IDs += ids
	st.s.Bytes += bytes
	if st.s.IDs > st.s.PeakIDs {
		st.s.PeakIDs, st.s.PeakBytes = st.s.IDs, st.s.Bytes
	}
}

func init() {
	beam.RegisterType(reflect.TypeOf((*eventBatch)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*eventBatch)(nil)).Elem(), encodeEventBatch, decodeEventBatch)
	beam.RegisterType(reflect.TypeOf((*dedupeMeta)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*dedupeMeta)(nil)).Elem(), encodeDedupeMeta, decodeDedupeMeta)
	register.DoFn3x0[beam.EventTime, schemas.GameEvent, func(beam.EventTime, int, eventBatch)](&bucketBatchFn{})
	register.Emitter3[beam.EventTime, int, eventBatch]()
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, int, eventBatch, func(beam.EventTime, schemas.GameEvent), error](&dedupeBucketFn{})
	register.Emitter2[beam.EventTime, schemas.GameEvent]()
}
