package pubsubsource

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/transforms"
)

// TestReadEmitsMessagesAndAcksOnFinalize reads messages with every kind of
// event time attribute, checks each Raw (source, payload, attributes,
// element timestamp) and that pstest saw every message acked exactly once,
// after the pipeline, and never redelivered.
func TestReadEmitsMessagesAndAcksOnFinalize(t *testing.T) {
	testReadEmitsMessagesAndAcks(t, newFixture(t, 10*time.Second))
}

func testReadEmitsMessagesAndAcks(t *testing.T, f *fixture) {
	var want []string
	var ids []string
	add := func(payload string, attrs map[string]string, ts func(id string) time.Time) {
		id := f.publish(payload, attrs)
		ids = append(ids, id)
		want = append(want, line(f.source(id), payload, attrs, ts(id)))
	}
	at := func(s string) func(string) time.Time {
		return func(string) time.Time {
			v, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	published := func(id string) time.Time { return f.publishTime(t, id) }

	add("rfc3339", map[string]string{"event_time": "2026-11-01T10:00:00Z", "event_id": "e1"}, at("2026-11-01T10:00:00Z"))
	add("rfc3339-fraction", map[string]string{"event_time": "2026-11-01T10:00:00.250Z"}, at("2026-11-01T10:00:00.25Z"))
	add("rfc3339-offset", map[string]string{"event_time": "2026-11-01T11:00:00.5+01:00"}, at("2026-11-01T10:00:00.5Z"))
	add("millis", map[string]string{"event_time": "1761991200123"}, func(string) time.Time { return time.UnixMilli(1761991200123) })
	add("no-event-time", map[string]string{"event_id": "e5", "source": "mqtt"}, published)
	add("no-attributes", nil, published)
	add("bad-event-time", map[string]string{"event_time": "yesterday"}, published)
	add("empty-event-time", map[string]string{"event_time": ""}, published)
	add("", map[string]string{"event_time": "2026-11-01T10:00:01Z"}, at("2026-11-01T10:00:01Z")) // empty payload
	add("binary\x00\xff", nil, published)
	// Enough more to need several Pulls and bundles.
	for i := range 250 {
		ts := time.Date(2026, 11, 1, 10, i%60, i%7, 0, time.UTC)
		add(fmt.Sprintf("bulk-%03d", i), map[string]string{"event_time": ts.Format(time.RFC3339)}, func(string) time.Time { return ts })
	}

	p, s := beam.NewPipelineWithRoot()
	cfg := f.config()
	cfg.MaxMessages = 40
	raws := Read(s, cfg)
	// testkit.Collect rather than passert: passert's side inputs fail the
	// first checkpoint on Flink (see the README's Known limits).
	testkit.Collect(s, t.Name()+"/lines", beam.ParDo(s, rawLine, raws))
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	got := testkit.Take[string](t, t.Name()+"/lines")
	slices.Sort(got)
	wantSorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, wantSorted) {
		t.Errorf("read %d lines, want %d; first difference: %s", len(got), len(wantSorted), firstDiff(got, wantSorted))
	}

	n := int64(len(ids))
	for name, want := range map[string]int64{MetricPulled: n, MetricAcked: n, MetricNacked: 0, MetricBadEventTime: 2} {
		got := counter(t, res, name)
		// Acks happen in finalization callbacks, outside any bundle; the
		// reader counts them in its next bundle. prism finalizes every
		// bundle before the next one starts; Flink finalizes when a
		// checkpoint completes, after the last bundles have run, so its
		// counter can come up short. pstest's ack state below is exact on
		// every runner.
		if r := flag.Lookup("runner").Value.String(); name == MetricAcked && r != "" && r != "prism" {
			if got > want {
				t.Errorf("counter %s = %d, more than the %d messages", name, got, want)
			}
			continue
		}
		if got != want {
			t.Errorf("counter %s = %d, want %d", name, got, want)
		}
	}
	// Every pulled message was extended once right after its Pull (the
	// later rounds come every AckDeadline/3 = 20 s, longer than the run).
	if got := counter(t, res, MetricDeadlineExtensions); got < n {
		t.Errorf("counter %s = %d, want at least %d", MetricDeadlineExtensions, got, n)
	}
	state := f.ackState()
	for _, id := range ids {
		m := state[id]
		if m.Acks != 1 || m.Deliveries != 1 {
			t.Errorf("message %s (%q): %d acks, %d deliveries; want 1 and 1", id, m.Data, m.Acks, m.Deliveries)
		}
		for _, ma := range m.Modacks {
			if ma.AckDeadline != int32(DefaultAckDeadline/time.Second) {
				t.Errorf("message %s: modack to %ds, want only extensions to %v", id, ma.AckDeadline, DefaultAckDeadline)
			}
		}
	}
	if left := f.pullAll(t); len(left) != 0 {
		t.Errorf("a Pull after the pipeline got %d message(s); all should have been acked", len(left))
	}
}

// firstDiff describes where two sorted lists first differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d got %q, want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// TestReadEmptySubscriptionStops: StopAfterIdle ends a read that never
// gets a message, with an empty output.
func TestReadEmptySubscriptionStops(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	p, s := beam.NewPipelineWithRoot()
	passert.Empty(s, Read(s, f.config()))
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := counter(t, res, MetricPulled); got != 0 {
		t.Errorf("pulled %d", got)
	}
}

// TestReadUnknownSubscriptionFails: a subscription that does not exist
// fails the pipeline with an error naming it.
func TestReadUnknownSubscriptionFails(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	cfg := f.config()
	cfg.Subscription = "projects/" + testProject + "/subscriptions/nope"
	p, s := beam.NewPipelineWithRoot()
	Read(s, cfg)
	err := ptest.Run(p)
	if err == nil {
		t.Fatal("pipeline succeeded reading a missing subscription")
	}
	if msg := err.Error(); !strings.Contains(msg, "pubsubsource: pull projects/railyard-test/subscriptions/nope") || !strings.Contains(msg, "NotFound") {
		t.Errorf("error does not name the subscription and NotFound: %.2000s", msg)
	}
}

func TestTryReadRefusesInvalidConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Subscription is required"},
		{Config{Subscription: "my-sub"}, `Subscription "my-sub" is not of the form projects/P/subscriptions/S`},
		{Config{Subscription: "projects/p/topics/t"}, "not of the form"},
		{Config{Subscription: "projects/p/subscriptions/s", MaxMessages: -1}, "MaxMessages -1 is outside 1..10000"},
		{Config{Subscription: "projects/p/subscriptions/s", AckDeadline: 601 * time.Second}, "AckDeadline 10m1s must be whole seconds within 1s..10m0s"},
		{Config{Subscription: "projects/p/subscriptions/s", AckDeadline: 1500 * time.Millisecond}, "AckDeadline 1.5s"},
		{Config{Subscription: "projects/p/subscriptions/s", IdleAdvance: -time.Second}, "IdleAdvance -1s is negative"},
		{Config{Subscription: "projects/p/subscriptions/s", StopAfterIdle: -time.Second}, "StopAfterIdle -1s is negative"},
		{Config{Subscription: "projects/p/subscriptions/s", AckMode: 7}, "unknown AckMode 7"},
		{Config{MaxMessages: -1}, "Subscription is required; MaxMessages -1"},
	}
	for _, tc := range tests {
		_, s := beam.NewPipelineWithRoot()
		_, err := TryRead(s, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("TryRead(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	_, s := beam.NewPipelineWithRoot()
	if _, err := TryRead(s, Config{Subscription: "projects/p/subscriptions/s"}); err != nil {
		t.Errorf("minimal config refused: %v", err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "Subscription is required") {
			t.Errorf("Read(Config{}) recovered %v, want a panic naming the problem", r)
		}
	}()
	Read(s, Config{})
}

// failing DoFns of the at-least-once tests fail on their first element and
// tell the test how many they saw.
var (
	failMu   sync.Mutex
	failSeen = map[string]int{}
)

type failFn struct {
	Key string `json:"key"`
}

func (fn *failFn) ProcessElement(r transforms.Raw) error {
	failMu.Lock()
	defer failMu.Unlock()
	failSeen[fn.Key]++
	return fmt.Errorf("failFn: refusing %s", r.Source)
}

func ungroupRaws(_ int, raws func(*transforms.Raw) bool, emit func(transforms.Raw)) {
	var r transforms.Raw
	for raws(&r) {
		emit(r)
	}
}

func init() {
	register.DoFn1x1[transforms.Raw, error](&failFn{})
	register.Function3x0(ungroupRaws)
	register.Iter1[transforms.Raw]()
}

// TestFailedBundleHandsMessagesBack: when a DoFn fused with the source
// fails, the bundle is never finalized, so nothing is acked; the source
// nacks what it pulled and every message comes back on the next Pull.
// With 10 messages per Pull, the next Pull is in flight when the first
// element fails: its messages, never emitted, come back too.
func TestFailedBundleHandsMessagesBack(t *testing.T) {
	for _, maxMessages := range []int{DefaultMaxMessages, 10} {
		t.Run(fmt.Sprintf("max_messages=%d", maxMessages), func(t *testing.T) {
			testFailedBundleHandsMessagesBack(t, maxMessages)
		})
	}
}

func testFailedBundleHandsMessagesBack(t *testing.T, maxMessages int) {
	f := newFixture(t, 60*time.Second)
	key := runKey(t)
	const n = 30
	ids := map[string]bool{}
	for i := range n {
		ids[f.publish(fmt.Sprintf("m%d", i), map[string]string{"event_time": "2026-11-01T10:00:00Z"})] = true
	}
	p, s := beam.NewPipelineWithRoot()
	cfg := f.config()
	cfg.MaxMessages = maxMessages
	beam.ParDo0(s, &failFn{Key: key}, Read(s, cfg))
	err := ptest.Run(p)
	if err == nil || !strings.Contains(err.Error(), "failFn: refusing") {
		t.Fatalf("pipeline error %v, want the DoFn's failure", err)
	}
	failMu.Lock()
	seen := failSeen[key]
	failMu.Unlock()
	if seen == 0 {
		t.Fatal("the failing DoFn saw no element")
	}
	state := f.ackState()
	nacked := 0
	for id := range ids {
		m := state[id]
		if m.Acks != 0 {
			t.Errorf("message %s acked %d time(s) by a failed pipeline", id, m.Acks)
		}
		for _, ma := range m.Modacks {
			if ma.AckDeadline == 0 {
				nacked++
			}
		}
	}
	// The subscription's deadline is 60 s: only a nack makes them come
	// back now.
	got := map[string]bool{}
	for _, rm := range f.pullAll(t) {
		got[rm.GetMessage().GetMessageId()] = true
	}
	for id := range ids {
		if !got[id] {
			t.Errorf("message %s not redelivered after the failure", id)
		}
	}
	if nacked == 0 {
		t.Errorf("no message was nacked")
	}
	if 2*maxMessages <= n && nacked < 2*maxMessages {
		// The first Pull's messages and those of the Pull in flight.
		t.Errorf("%d message(s) nacked, want at least %d: the Pull in flight was not handed back", nacked, 2*maxMessages)
	}
	t.Logf("failing DoFn saw %d element(s); %d message(s) nacked; %d redelivered", seen, nacked, len(got))
}

// TestUnfinalizedMessagesExpireForRedelivery: without a nack (a failure
// the source could not see), messages come back once the subscription's
// ack deadline passes; pstest's clock is moved forward to get there.
func TestUnfinalizedMessagesExpireForRedelivery(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	key := runKey(t)
	ids := map[string]bool{}
	for i := range 5 {
		ids[f.publish(fmt.Sprintf("m%d", i), nil)] = true
	}
	// A Pull that is never acked, like a bundle that died with its worker.
	if got := f.pullAll(t); len(got) != len(ids) {
		t.Fatalf("pulled %d, want %d", len(got), len(ids))
	}
	if got := f.pullAll(t); len(got) != 0 {
		t.Fatalf("leased messages delivered again at once: %d", len(got))
	}
	f.srv.SetTimeNowFunc(func() time.Time { return time.Now().Add(11 * time.Second) })
	p, s := beam.NewPipelineWithRoot()
	raws := Read(s, f.config())
	testkit.Collect(s, key, raws)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range testkit.Elements[transforms.Raw](t, key) {
		got[strings.TrimPrefix(r.Source, f.subscription+"/messages/")] = true
	}
	if len(got) != len(ids) {
		t.Errorf("redelivered %v, want %v", got, ids)
	}
	for id := range ids {
		if m := f.ackState()[id]; m.Acks != 1 || m.Deliveries != 2 {
			t.Errorf("message %s: %d acks, %d deliveries; want 1 and 2", id, m.Acks, m.Deliveries)
		}
	}
}

// TestEveryBundleIsAcked publishes in rounds, each only after the pipeline
// read and acked the one before, so that the reader acks over many bundles. Every
// message is read once and acked once. In Beam Go v2.77 only the first
// finalization of a DoFn instance runs its callbacks; the later bundles'
// messages are acked by the resumed reader they were handed to.
func TestEveryBundleIsAcked(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	key := runKey(t)
	const rounds, perRound = 4, 30
	byCallback, byHandover := ackedByCallback.Load(), ackedByHandover.Load()
	cfg := f.config()
	cfg.StopAfterIdle = 3 * time.Second
	p, s := beam.NewPipelineWithRoot()
	testkit.Collect(s, key, Read(s, cfg))
	type result struct {
		res beam.PipelineResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := ptest.RunWithMetrics(p)
		done <- result{res, err}
	}()
	ids := map[string]bool{}
	for r := range rounds {
		for i := range perRound {
			ids[f.publish(fmt.Sprintf("r%d-%d", r, i), nil)] = true
		}
		// Wait until the round is read and acked, so the next one comes
		// in a later bundle.
		for deadline := time.Now().Add(time.Minute); f.ackedCount() < len(ids); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: read %d and acked %d of %d messages in a minute", r, len(testkit.Elements[transforms.Raw](t, key)), f.ackedCount(), len(ids))
			}
		}
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("pipeline: %v", res.err)
	}
	seen := map[string]int{}
	for _, r := range testkit.Elements[transforms.Raw](t, key) {
		seen[r.Source]++
	}
	if len(seen) != len(ids) {
		t.Errorf("read %d distinct messages, want %d", len(seen), len(ids))
	}
	state := f.ackState()
	for id := range ids {
		if seen[f.source(id)] != 1 {
			t.Errorf("message %s read %d times", id, seen[f.source(id)])
		}
		if m := state[id]; m.Acks != 1 || m.Deliveries != 1 {
			t.Errorf("message %s: %d acks, %d deliveries; want 1 and 1", id, m.Acks, m.Deliveries)
		}
	}
	if got := counter(t, res.res, MetricAcked); got != int64(len(ids)) {
		t.Errorf("counter %s = %d, want %d", MetricAcked, got, len(ids))
	}
	cb, ho := ackedByCallback.Load()-byCallback, ackedByHandover.Load()-byHandover
	t.Logf("acked by finalization callbacks: %d, by the resumed reader: %d", cb, ho)
	if cb+ho != int64(len(ids)) {
		t.Errorf("acks by callback %d + by handover %d != %d messages", cb, ho, len(ids))
	}
}

// TestPrismAcksBeforeLaterStagesRun pins what prism's in-memory state
// means for delivery: once the source's bundle is committed (in prism's
// memory) its messages are acked, so when a stage after a GroupByKey fails
// and the job dies, those messages are gone from the subscription. On
// Flink and Dataflow the runner's checkpoint holds them instead.
func TestPrismAcksBeforeLaterStagesRun(t *testing.T) {
	f := newFixture(t, 60*time.Second)
	key := runKey(t)
	const n = 10
	for i := range n {
		f.publish(fmt.Sprintf("m%d", i), nil)
	}
	p, s := beam.NewPipelineWithRoot()
	// The global window's GroupByKey fires once the read has stopped.
	grouped := beam.GroupByKey(s, beam.AddFixedKey(s, Read(s, f.config())))
	beam.ParDo0(s, &failFn{Key: key}, beam.ParDo(s, ungroupRaws, grouped))
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), "failFn: refusing") {
		t.Fatalf("pipeline error %v, want the DoFn's failure", err)
	}
	if got := f.ackedCount(); got != n {
		t.Errorf("%d of %d messages acked; prism was expected to have finalized the source's bundles", got, n)
	}
	if left := f.pullAll(t); len(left) != 0 {
		t.Errorf("%d message(s) still in the subscription", len(left))
	}
}
