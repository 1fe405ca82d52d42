package pubsubsource

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/transforms"
)

func ungroup(_ int, ids func(*string) bool, emit func(string)) {
	var id string
	for ids(&id) {
		emit(id)
	}
}

func init() {
	register.Function3x0(ungroup)
	register.Emitter1[string]()
}

// TestAckByCallerAcksOnlyThroughAcknowledge reads in AckByCaller mode,
// groups the ack IDs (a stand-in for "after the file is written") and acks
// them with Acknowledge. The source itself sends no ack, extension or
// nack; each message is acked once, by Acknowledge, and counted.
func TestAckByCallerAcksOnlyThroughAcknowledge(t *testing.T) {
	f := newFixture(t, 60*time.Second)
	key := runKey(t)
	const n = 2500 // more than two Acknowledge batches
	var want []any
	ids := map[string]bool{}
	for i := range n {
		attrs := map[string]string{"event_time": "2026-11-01T10:00:00Z", "event_id": fmt.Sprint(i)}
		id := f.publish(fmt.Sprintf("m%d", i), attrs)
		ids[id] = true
		want = append(want, line(f.source(id), fmt.Sprintf("m%d", i), attrs, time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)))
	}
	cfg := f.config()
	cfg.AckMode = AckByCaller
	p, s := beam.NewPipelineWithRoot()
	raws := Read(s, cfg)
	passert.Equals(s, beam.ParDo(s, rawLine, raws), want...)
	testkit.Collect(s, key, raws)
	grouped := beam.GroupByKey(s, beam.AddFixedKey(s, beam.ParDo(s, ackIDOf, raws)))
	Acknowledge(s, cfg, beam.ParDo(s, ungroup, grouped))
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	for _, r := range testkit.Elements[transforms.Raw](t, key) {
		id := strings.TrimPrefix(r.Source, f.subscription+"/messages/")
		// pstest's ack IDs are "<message id>:<delivery>".
		if got := r.Attributes[AckIDAttribute]; got != id+":1" {
			t.Errorf("%s: ack ID attribute %q, want %q", r.Source, got, id+":1")
		}
	}
	for name, want := range map[string]int64{MetricPulled: n, MetricAcked: n, MetricNacked: 0, MetricDeadlineExtensions: 0} {
		if got := counter(t, res, name); got != want {
			t.Errorf("counter %s = %d, want %d", name, got, want)
		}
	}
	state := f.ackState()
	for id := range ids {
		if m := state[id]; m.Acks != 1 || m.Deliveries != 1 || len(m.Modacks) != 0 {
			t.Errorf("message %s: %d acks, %d deliveries, %d modacks; want 1, 1, 0", id, m.Acks, m.Deliveries, len(m.Modacks))
		}
	}
	if left := f.pullAll(t); len(left) != 0 {
		t.Errorf("%d message(s) left unacked", len(left))
	}
}

// TestAckByCallerWithoutAcknowledgeRedelivers: when the pipeline never
// acks, nothing is acked, and once the subscription's ack deadline has
// passed (pstest's clock is moved forward) every message is delivered
// again.
func TestAckByCallerWithoutAcknowledgeRedelivers(t *testing.T) {
	f := newFixture(t, 30*time.Second)
	const n = 40
	ids := map[string]bool{}
	for i := range n {
		ids[f.publish(fmt.Sprintf("m%d", i), nil)] = true
	}
	cfg := f.config()
	cfg.AckMode = AckByCaller
	p, s := beam.NewPipelineWithRoot()
	raws := Read(s, cfg)
	passert.Count(s, raws, "raws", n)
	if err := ptest.Run(p); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	state := f.ackState()
	for id := range ids {
		if m := state[id]; m.Acks != 0 || len(m.Modacks) != 0 {
			t.Errorf("message %s: %d acks, %d modacks without Acknowledge", id, m.Acks, len(m.Modacks))
		}
	}
	if got := f.pullAll(t); len(got) != 0 {
		t.Fatalf("%d message(s) redelivered before the ack deadline", len(got))
	}
	f.srv.SetTimeNowFunc(func() time.Time { return time.Now().Add(31 * time.Second) })
	got := map[string]bool{}
	for _, rm := range f.pullAll(t) {
		got[rm.GetMessage().GetMessageId()] = true
	}
	for id := range ids {
		if !got[id] {
			t.Errorf("message %s not redelivered after the ack deadline", id)
		}
	}
}

func TestAcknowledgeRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(s beam.Scope)
		want  string
	}{
		{"invalid config", func(s beam.Scope) { Acknowledge(s, Config{}, beam.Create(s, "a")) }, "Subscription is required"},
		{"not strings", func(s beam.Scope) {
			Acknowledge(s, Config{Subscription: "projects/p/subscriptions/s"}, beam.Create(s, 1))
		}, "ackIDs must be a PCollection<string>, got int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Errorf("recovered %v, want a panic containing %q", r, tc.want)
				}
			}()
			_, s := beam.NewPipelineWithRoot()
			tc.build(s)
		})
	}
}

// TestAcknowledgeEmptyIDFails: an empty ack ID (a Raw not read in
// AckByCaller mode) fails the pipeline with a reason.
func TestAcknowledgeEmptyIDFails(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	p, s := beam.NewPipelineWithRoot()
	Acknowledge(s, f.config(), beam.Create(s, ""))
	err := ptest.Run(p)
	if err == nil || !strings.Contains(err.Error(), "empty ack ID (was the message read with AckMode AckByCaller?)") {
		t.Errorf("pipeline error %v, want the empty ack ID reason", err)
	}
}

// failingCalls is a pstest reactor that fails the first fail calls of a
// method with code and records the ack ID count of every request.
type failingCalls struct {
	mu    sync.Mutex
	code  codes.Code
	fail  int
	sizes []int
}

func (r *failingCalls) React(req any) (bool, any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ar, ok := req.(*pubsubpb.AcknowledgeRequest); ok {
		r.sizes = append(r.sizes, len(ar.AckIds))
	}
	if r.fail > 0 {
		r.fail--
		return true, nil, status.Error(r.code, "injected by the test")
	}
	return false, nil, nil
}

// TestAcknowledgeBatchesAndRetries: Acknowledge sends at most 1000 IDs per
// call and retries a transient error (INTERNAL, which the client library
// itself does not retry for Acknowledge).
func TestAcknowledgeBatchesAndRetries(t *testing.T) {
	acks := &failingCalls{code: codes.Internal, fail: 2}
	f := newFixture(t, 60*time.Second, pstest.ServerReactorOption{FuncName: "Acknowledge", Reactor: acks})
	const n = 2300
	var ackIDs []string
	for i := range n {
		f.publish(fmt.Sprintf("m%d", i), nil)
	}
	for len(ackIDs) < n {
		for _, rm := range f.pullAll(t) {
			ackIDs = append(ackIDs, rm.GetAckId())
		}
	}
	p, s := beam.NewPipelineWithRoot()
	Acknowledge(s, f.config(), beam.CreateList(s, ackIDs))
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if got := counter(t, res, MetricAcked); got != n {
		t.Errorf("counter %s = %d, want %d", MetricAcked, got, n)
	}
	acks.mu.Lock()
	sizes := slices.Clone(acks.sizes)
	acks.mu.Unlock()
	sent := 0
	for _, sz := range sizes {
		if sz > 1000 {
			t.Errorf("an Acknowledge call carried %d IDs", sz)
		}
		sent += sz
	}
	if len(sizes) < 5 || sent < n {
		t.Errorf("Acknowledge calls %v: want at least 3 batches plus the 2 failed attempts, covering %d IDs", sizes, n)
	}
	for _, m := range f.ackState() {
		if m.Acks != 1 {
			t.Errorf("message %s: %d acks", m.ID, m.Acks)
		}
	}
}

// TestReadRetriesTransientPullErrors: a Pull failing with a transient code
// (RESOURCE_EXHAUSTED, not retried by the client library) makes the reader
// checkpoint and try again; nothing fails and nothing is lost.
func TestReadRetriesTransientPullErrors(t *testing.T) {
	pulls := &failingCalls{code: codes.ResourceExhausted, fail: 2}
	f := newFixture(t, 60*time.Second, pstest.ServerReactorOption{FuncName: "Pull", Reactor: pulls})
	const n = 50
	for i := range n {
		f.publish(fmt.Sprintf("m%d", i), nil)
	}
	p, s := beam.NewPipelineWithRoot()
	passert.Count(s, Read(s, f.config()), "raws", n)
	if err := ptest.Run(p); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	pulls.mu.Lock()
	unused := pulls.fail
	pulls.mu.Unlock()
	if unused != 0 {
		t.Errorf("%d injected failures left unused", unused)
	}
	for _, m := range f.ackState() {
		if m.Acks != 1 {
			t.Errorf("message %s: %d acks", m.ID, m.Acks)
		}
	}
}
