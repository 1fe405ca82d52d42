package pubsubsource

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/transforms"
)

// Progress is a reader's report of how far it has got: the watermark it
// set (the event time up to which it has read the subscription; an event
// for an earlier time that comes later is late) and the messages it has
// emitted. Only the reader knows its watermark — Beam gives no DoFn
// downstream a way to read one — so the source reports it itself.
type Progress struct {
	// Time is when the report was made (processing time, UTC).
	Time time.Time `beam:"time"`
	// Watermark is the reader's watermark then, capped at Time (a clock
	// ahead on the clients cannot make it claim the future). A reader
	// reports only once it has a watermark: after its first messages, or
	// once the subscription has been idle for Config.IdleAdvance.
	Watermark time.Time `beam:"watermark"`
	// MessagesRead is the number of messages the reader has emitted since
	// it started, across its checkpoints.
	MessagesRead int64 `beam:"messages_read"`
	// Seq numbers the reader's reports from 0.
	Seq int64 `beam:"seq"`
	// Final is set on the report of a reader that stops (StopAfterIdle):
	// it has read everything published before Time.
	Final bool `beam:"final"`
}

// ReadWithProgress is Read that also reports the reader's progress: a
// Progress at most every `every` of processing time (the first as soon as
// the reader has a watermark; a reader reports only while it runs, which
// is every 250 ms when the subscription is idle and every few seconds
// under load), and a final one when StopAfterIdle ends it. The reports are
// timestamped with the watermark the reporting bundle started from and
// windowed globally. It panics on an invalid cfg or a non-positive every.
func ReadWithProgress(s beam.Scope, cfg Config, every time.Duration) (raws, progress beam.PCollection) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	if every <= 0 {
		panic(fmt.Sprintf("pubsubsource: progress interval %v must be positive", every))
	}
	s = s.Scope("pubsubsource.ReadWithProgress")
	imp := beam.Impulse(s)
	return beam.ParDo2(s, &progressReadFn{readFn: readFn{Cfg: cfg}, EveryMillis: every.Milliseconds()}, imp)
}

// progressReadFn is readFn with a second output, its progress reports.
type progressReadFn struct {
	readFn
	EveryMillis int64 `json:"every_millis"`
}

// StartBundle and FinishBundle take both outputs' emitters, as
// ProcessElement does.
func (fn *progressReadFn) StartBundle(ctx context.Context, emit func(beam.EventTime, transforms.Raw), _ func(beam.EventTime, Progress)) {
	fn.readFn.StartBundle(ctx, emit)
}

func (fn *progressReadFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, transforms.Raw), _ func(beam.EventTime, Progress)) {
	fn.readFn.FinishBundle(ctx, emit)
}

// ProcessElement is readFn's, reporting progress through report.
func (fn *progressReadFn) ProcessElement(ctx context.Context, we *watermarkEstimator, bf beam.BundleFinalization,
	rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, transforms.Raw), report func(beam.EventTime, Progress)) (sdf.ProcessContinuation, error) {
	rep := &reporter{every: time.Duration(fn.EveryMillis) * time.Millisecond, startWatermark: we.State, emit: report}
	return fn.process(ctx, we, bf, rt, emit, rep)
}

// reporter emits the progress reports of one bundle.
type reporter struct {
	every time.Duration
	// startWatermark (Unix ms) is the watermark the bundle started from,
	// the reports' element timestamp: no earlier than anything the reader
	// has said about its output, so the reports are never late.
	startWatermark int64
	emit           func(beam.EventTime, Progress)
}

// maybeReport emits a report if one is due (or final), and claims it so
// that its time and number survive the next checkpoint. A nil reporter
// (plain Read) does nothing.
func (r *reporter) maybeReport(rt *sdf.LockRTracker, we *watermarkEstimator, now time.Time, final bool) {
	if r == nil {
		return
	}
	rest := rt.GetRestriction().(readRestriction)
	if rest.Stopped {
		return // checkpointed or stopped: the residual reports next
	}
	if !final && now.UnixMilli()-rest.ReportedAtMillis < r.every.Milliseconds() {
		return
	}
	wm := we.State
	if final {
		wm = now.UnixMilli()
	}
	if wm <= mtime.MinTimestamp.Milliseconds() {
		return // no watermark yet
	}
	if wm > now.UnixMilli() {
		wm = now.UnixMilli()
	}
	done, _ := rt.GetProgress() // the messages claimed by this bundle
	if !rt.TryClaim(reportClaim{AtMillis: now.UnixMilli()}) {
		return
	}
	r.emit(mtime.FromMilliseconds(r.startWatermark), Progress{
		Time:         now.UTC(),
		Watermark:    time.UnixMilli(wm).UTC(),
		MessagesRead: rest.MessagesRead + int64(done),
		Seq:          rest.Reports,
		Final:        final,
	})
}

func init() {
	register.DoFn7x2[context.Context, *watermarkEstimator, beam.BundleFinalization, *sdf.LockRTracker, []byte,
		func(beam.EventTime, transforms.Raw), func(beam.EventTime, Progress), sdf.ProcessContinuation, error](&progressReadFn{})
	register.Emitter2[beam.EventTime, Progress]()
	beam.RegisterType(reflect.TypeOf((*Progress)(nil)).Elem())
}
