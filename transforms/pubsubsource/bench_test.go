package pubsubsource

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/transforms"
)

// benchMessages is the number of messages each benchmark reads.
const benchMessages = 100_000

// publishBench publishes benchMessages game-event-sized messages with an
// event_time attribute.
func publishBench(f *fixture) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i := range benchMessages {
		ts := at.Add(time.Duration(i) * time.Millisecond)
		payload := fmt.Sprintf(`{"event_id":"e-%d","user":"user%d_Team%d","team":"Team%d","score":%d,"event_time":%q}`,
			i, i%500, i%20, i%20, i%100, ts.Format(time.RFC3339Nano))
		f.publish(payload, map[string]string{"event_time": ts.Format(time.RFC3339Nano), "event_id": fmt.Sprintf("e-%d", i)})
	}
}

// countFn counts elements and notes when the last expected one arrived.
type countFn struct {
	Key string `json:"key"`
}

type benchCount struct {
	n    atomic.Int64
	want int64
	last atomic.Int64 // UnixNano of the element that made n reach want
}

var (
	benchCountsMu sync.Mutex
	benchCounts   = map[string]*benchCount{}
)

// ProcessElement counts; it emits one element, after the last expected
// one, so that its stage has an output: prism busy-waits through the
// bundles of a stage without outputs (see the package doc).
func (fn *countFn) ProcessElement(_ transforms.Raw, emit func(int64)) {
	benchCountsMu.Lock()
	c := benchCounts[fn.Key]
	benchCountsMu.Unlock()
	if n := c.n.Add(1); n == c.want {
		c.last.Store(time.Now().UnixNano())
		emit(n)
	}
}

func discardCount(int64) {}

func init() {
	register.DoFn2x0[transforms.Raw, func(int64)](&countFn{})
	register.Emitter1[int64]()
	register.Function1x0(discardCount)
}

// BenchmarkRead reads benchMessages from pstest with Read on prism (acks
// by bundle finalization) and reports messages per second over the whole
// run (job submission, reading, acking, and the StopAfterIdle tail) and up
// to the moment the last message reached the DoFn after the source.
// Run it with -benchtime=1x.
func BenchmarkRead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b, 60*time.Second)
		publishBench(f)
		key := fmt.Sprintf("%s-%d", b.Name(), i)
		c := &benchCount{want: benchMessages}
		benchCountsMu.Lock()
		benchCounts[key] = c
		benchCountsMu.Unlock()
		cfg := f.config()
		cfg.StopAfterIdle = time.Second
		p, s := beam.NewPipelineWithRoot()
		counted := beam.ParDo(s, &countFn{Key: key}, Read(s, cfg))
		beam.ParDo0(s, discardCount, beam.Reshuffle(s, counted))

		b.StartTimer()
		start := time.Now()
		res, err := ptest.RunWithMetrics(p)
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("pipeline: %v", err)
		}
		if got := c.n.Load(); got != benchMessages {
			b.Fatalf("read %d messages, want %d", got, benchMessages)
		}
		if got := f.ackedCount(); got != benchMessages {
			b.Fatalf("%d messages acked, want %d", got, benchMessages)
		}
		toLast := time.Unix(0, c.last.Load()).Sub(start)
		b.ReportMetric(benchMessages/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(benchMessages/toLast.Seconds(), "msgs/s-to-last-element")
		b.Logf("%d messages: run %v, last element after %v; pulled %d, acked %d, deadline extensions %d",
			benchMessages, elapsed.Round(time.Millisecond), toLast.Round(time.Millisecond),
			counter(b, res, MetricPulled), counter(b, res, MetricAcked), counter(b, res, MetricDeadlineExtensions))
	}
}

// BenchmarkPullAckBaseline is the floor BenchmarkRead compares with: a
// plain loop of unary Pull and Acknowledge on the same pstest, without
// Beam, at the old default of 1000 messages per Pull and the current one.
// pstest scans every message the subscription holds on each Pull, so
// fewer, larger Pulls drain a backlog faster.
func BenchmarkPullAckBaseline(b *testing.B) {
	for _, maxMessages := range []int{1000, DefaultMaxMessages} {
		b.Run(fmt.Sprintf("max_messages=%d", maxMessages), func(b *testing.B) {
			benchmarkPullAck(b, maxMessages)
		})
	}
}

func benchmarkPullAck(b *testing.B, maxMessages int) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b, 60*time.Second)
		publishBench(f)
		sub := f.client.SubscriptionAdminClient
		ctx := context.Background()
		b.StartTimer()
		start := time.Now()
		got := 0
		for got < benchMessages {
			resp, err := sub.Pull(ctx, &pubsubpb.PullRequest{Subscription: f.subscription, MaxMessages: int32(maxMessages)})
			if err != nil {
				b.Fatal(err)
			}
			ids := receivedAckIDs(resp.GetReceivedMessages())
			if err := sub.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: f.subscription, AckIds: ids}); err != nil {
				b.Fatal(err)
			}
			got += len(ids)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if n := f.ackedCount(); n != benchMessages {
			b.Fatalf("%d acked, want %d", n, benchMessages)
		}
		b.ReportMetric(benchMessages/elapsed.Seconds(), "msgs/s")
	}
}
