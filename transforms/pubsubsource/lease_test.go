package pubsubsource

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/transforms"
)

// gates let a test hold a DoFn on its first element: the DoFn closes
// started and waits for release.
type gate struct {
	started, release chan struct{}
	once             sync.Once
}

var (
	gatesMu sync.Mutex
	gates   = map[string]*gate{}
)

func newGate(key string) *gate {
	g := &gate{started: make(chan struct{}), release: make(chan struct{})}
	gatesMu.Lock()
	gates[key] = g
	gatesMu.Unlock()
	return g
}

// holdFn holds the bundle on its first element until the test releases it
// (or a minute passes), then passes everything on.
type holdFn struct {
	Key string `json:"key"`
}

func (fn *holdFn) ProcessElement(r transforms.Raw, emit func(transforms.Raw)) {
	gatesMu.Lock()
	g := gates[fn.Key]
	gatesMu.Unlock()
	g.once.Do(func() {
		close(g.started)
		select {
		case <-g.release:
		case <-time.After(time.Minute):
		}
	})
	emit(r)
}

func init() {
	register.DoFn2x0[transforms.Raw, func(transforms.Raw)](&holdFn{})
	register.Emitter1[transforms.Raw]()
}

// TestDeadlinesExtendedWhileInFlight holds a bundle (a DoFn fused with the
// source blocks) for three times the subscription's 1 s ack deadline. The
// source keeps extending the deadlines of the messages it pulled, so a
// competing subscriber pulling meanwhile gets none of them; after the
// bundle completes each message is acked once, never redelivered.
func TestDeadlinesExtendedWhileInFlight(t *testing.T) {
	f := newFixture(t, time.Second)
	key := runKey(t)
	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i] = f.publish(fmt.Sprintf("m%d", i), nil)
	}
	g := newGate(key)
	cfg := f.config()
	cfg.AckDeadline = 2 * time.Second
	p, s := beam.NewPipelineWithRoot()
	held := beam.ParDo(s, &holdFn{Key: key}, Read(s, cfg))
	testkit.Collect(s, key, held)

	type result struct {
		res beam.PipelineResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := ptest.RunWithMetrics(p)
		done <- result{res, err}
	}()
	select {
	case <-g.started:
	case r := <-done:
		t.Fatalf("pipeline ended before the DoFn held: %v", r.err)
	case <-time.After(time.Minute):
		t.Fatal("the DoFn never got an element")
	}
	competing := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		competing += len(f.pullAll(t)) // waits up to 500 ms when empty
	}
	close(g.release)
	r := <-done
	if r.err != nil {
		t.Fatalf("pipeline: %v", r.err)
	}
	if competing != 0 {
		t.Errorf("a competing subscriber got %d message(s) while they were in flight", competing)
	}
	if got := len(testkit.Elements[transforms.Raw](t, key)); got != n {
		t.Errorf("read %d messages, want %d", got, n)
	}
	state := f.ackState()
	for _, id := range ids {
		m := state[id]
		if m.Acks != 1 || m.Deliveries != 1 {
			t.Errorf("message %s: %d acks, %d deliveries; want 1 and 1", id, m.Acks, m.Deliveries)
		}
		// One extension right after the Pull, then one every 2s/3 while held.
		if len(m.Modacks) < 4 {
			t.Errorf("message %s: %d deadline extension(s) in 3 s, want at least 4", id, len(m.Modacks))
		}
		for _, ma := range m.Modacks {
			if ma.AckDeadline != 2 {
				t.Errorf("message %s: modack to %ds, want 2s", id, ma.AckDeadline)
			}
		}
	}
	if got := counter(t, r.res, MetricDeadlineExtensions); got < 4*n {
		t.Errorf("counter %s = %d, want at least %d", MetricDeadlineExtensions, got, 4*n)
	}
}
