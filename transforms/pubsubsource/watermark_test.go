package pubsubsource

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/transforms"
)

// windowReport is one fired pane of a fixed window, as windowReportFn saw
// it.
type windowReport struct {
	start  time.Time
	count  int
	timing typex.PaneTiming
}

var (
	reportsMu sync.Mutex
	reports   = map[string][]windowReport{}
	firstPane = map[string]chan struct{}{}
)

// windowReportFn records each grouped window's count and pane timing, and
// closes the test's firstPane channel on the first.
type windowReportFn struct {
	Key string `json:"key"`
}

func (fn *windowReportFn) ProcessElement(pane typex.PaneInfo, w typex.Window, _ int, payloads func(*string) bool) {
	n := 0
	var p string
	for payloads(&p) {
		n++
	}
	reportsMu.Lock()
	defer reportsMu.Unlock()
	reports[fn.Key] = append(reports[fn.Key], windowReport{
		start: w.(window.IntervalWindow).Start.ToTime().UTC(), count: n, timing: pane.Timing})
	if ch := firstPane[fn.Key]; ch != nil {
		close(ch)
		delete(firstPane, fn.Key)
	}
}

func payloadOf(r transforms.Raw) string { return string(r.Payload) }

func init() {
	register.DoFn4x0[typex.PaneInfo, typex.Window, int, func(*string) bool](&windowReportFn{})
	register.Iter1[string]()
	register.Function1x1(payloadOf)
}

// TestIdleAdvanceFiresWindowsWhileRunning reads events into fixed
// one-minute windows. The first batch has event times in a window ten
// minutes ago; once the subscription is quiet for IdleAdvance the
// watermark moves to about now and that window fires — while the read
// still runs: the test only publishes the second batch (event times in a
// window two minutes ahead) after it saw that pane, and the same pipeline
// reads it, fires its window when StopAfterIdle ends the read, and ends.
// Windows are assigned from the event_time attributes.
func TestIdleAdvanceFiresWindowsWhileRunning(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	key := runKey(t)
	now := time.Now().UTC()
	past := now.Truncate(time.Minute).Add(-10 * time.Minute)
	future := now.Truncate(time.Minute).Add(2 * time.Minute)
	const n1, n2 = 12, 7
	for i := range n1 {
		f.publish(fmt.Sprintf("past-%d", i), map[string]string{"event_time": past.Add(time.Duration(i) * 4 * time.Second).Format(time.RFC3339)})
	}

	first := make(chan struct{})
	reportsMu.Lock()
	firstPane[key] = first
	reportsMu.Unlock()

	cfg := f.config()
	cfg.IdleAdvance = 500 * time.Millisecond
	cfg.StopAfterIdle = 8 * time.Second // time for the test to publish the second batch
	p, s := beam.NewPipelineWithRoot()
	payloads := beam.ParDo(s, payloadOf, Read(s, cfg))
	windowed := beam.WindowInto(s, window.NewFixedWindows(time.Minute), payloads)
	beam.ParDo0(s, &windowReportFn{Key: key}, beam.GroupByKey(s, beam.AddFixedKey(s, windowed)))

	done := make(chan error, 1)
	go func() { done <- ptest.Run(p) }()
	select {
	case <-first:
	case err := <-done:
		t.Fatalf("pipeline ended (%v) before any window fired: the idle watermark did not advance", err)
	case <-time.After(time.Minute):
		t.Fatal("no window fired within a minute of reading the first batch")
	}
	for i := range n2 {
		f.publish(fmt.Sprintf("future-%d", i), map[string]string{"event_time": strconvMillis(future.Add(time.Duration(i) * time.Second))})
	}
	if err := <-done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}

	reportsMu.Lock()
	got := slices.Clone(reports[key])
	reportsMu.Unlock()
	want := []windowReport{{start: past, count: n1, timing: typex.PaneOnTime}, {start: future, count: n2, timing: typex.PaneOnTime}}
	if !slices.Equal(got, want) {
		t.Errorf("fired panes %+v, want %+v", got, want)
	}
	for id, m := range f.ackState() {
		if m.Acks != 1 {
			t.Errorf("message %s (%s): %d acks", id, m.Data, m.Acks)
		}
	}
}

func strconvMillis(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }
