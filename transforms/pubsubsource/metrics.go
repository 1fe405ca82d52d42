package pubsubsource

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/railyard-dev/railyard/transforms"
)

// Counter names (namespace transforms.MetricsNamespace, "railyard").
const (
	// MetricPulled counts messages received from Pull.
	MetricPulled = "pubsub_pulled"
	// MetricAcked counts acknowledged messages (by finalization callbacks,
	// or by Acknowledge in AckByCaller mode).
	MetricAcked = "pubsub_acked"
	// MetricNacked counts messages handed back (ack deadline 0) because
	// their bundle failed or was checkpointed before they were emitted.
	MetricNacked = "pubsub_nacked"
	// MetricDeadlineExtensions counts per-message ack deadline extensions.
	MetricDeadlineExtensions = "pubsub_deadline_extensions"
	// MetricBadEventTime counts messages whose event time attribute could
	// not be parsed; they got their publish time.
	MetricBadEventTime = "pubsub_bad_event_time"
)

var (
	pulledCounter       = beam.NewCounter(transforms.MetricsNamespace, MetricPulled)
	ackedCounter        = beam.NewCounter(transforms.MetricsNamespace, MetricAcked)
	nackedCounter       = beam.NewCounter(transforms.MetricsNamespace, MetricNacked)
	extensionsCounter   = beam.NewCounter(transforms.MetricsNamespace, MetricDeadlineExtensions)
	badEventTimeCounter = beam.NewCounter(transforms.MetricsNamespace, MetricBadEventTime)
)

// pendingCounts holds counts of work done outside any bundle — acks in
// finalization callbacks, extensions by the lease goroutine, nacks of a
// failing bundle — until a bundle reports them. Beam counters only reach
// the runner from a bundle's own context, and a finalization callback runs
// after its bundle reported its metrics, so the reader's next
// ProcessElement call adds them to its counters. (The last bundle of a
// StopAfterIdle read pulls nothing and reports everything before it.)
type pendingCounts struct {
	acked, nacked, extended atomic.Int64
}

// Pending counts are kept per subscription and pipeline label in the
// process, not per DoFn instance: the Go harness parks an instance whose
// bundle awaits finalization and runs the next bundle on another one.
var (
	pendingMu sync.Mutex
	pending   = map[string]*pendingCounts{}
)

func pendingFor(cfg Config) *pendingCounts {
	key := cfg.Subscription + "|" + cfg.Pipeline
	pendingMu.Lock()
	defer pendingMu.Unlock()
	p := pending[key]
	if p == nil {
		p = &pendingCounts{}
		pending[key] = p
	}
	return p
}

// flush adds the pending counts to the bundle's counters.
func (p *pendingCounts) flush(ctx context.Context) {
	if n := p.acked.Swap(0); n != 0 {
		ackedCounter.Inc(ctx, n)
	}
	if n := p.nacked.Swap(0); n != 0 {
		nackedCounter.Inc(ctx, n)
	}
	if n := p.extended.Swap(0); n != 0 {
		extensionsCounter.Inc(ctx, n)
	}
}
