package pubsubsource

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/railyard-dev/railyard/transforms"
)

// Timing of the reader. A ProcessElement call is one bundle's worth of
// pulling: it returns (self-checkpoints) so that the runner commits the
// output and the finalization callback acks it.
const (
	// pullWait bounds one Pull. An empty Pull on Pub/Sub may otherwise
	// wait long for messages; pstest waits 500 ms.
	pullWait = 2 * time.Second
	// maxBundleDuration and maxBundlePulls bound the messages one bundle
	// holds in flight. Nothing a bundle reads goes downstream before the
	// bundle ends, so its duration is part of every message's latency:
	// at 10,000 messages/s, bundles of 1 s instead of 2 s brought
	// publish → row visible p99 from 6.4 s to 4.8 s (scripts/bench-speed.sh).
	maxBundleDuration = time.Second
	maxBundlePulls    = 50
	// idleResumeDelay is how long the reader sleeps (as a checkpoint)
	// after a Pull that returned nothing.
	idleResumeDelay = 250 * time.Millisecond
	// errorResumeDelay is how long it waits after a transient Pull error.
	errorResumeDelay = 2 * time.Second
	// idleAllowance is how far behind wall-clock time the watermark of a
	// quiet subscription stays.
	idleAllowance = time.Second
	// pendingHorizon is how long a running bundle's messages are kept
	// leased, finalizeWithin how long a finished bundle waits for its
	// finalization (the callback's expiry, and the leases' horizon then).
	pendingHorizon = 2 * time.Minute
	finalizeWithin = 10 * time.Minute
	// noopFinalizeWithin is the expiry of the callback of a bundle that
	// read nothing; the harness keeps its DoFn instance aside until then.
	noopFinalizeWithin = time.Minute
	// nackTimeout bounds handing messages back on failure.
	nackTimeout = 10 * time.Second
)

func init() {
	register.DoFn6x2[context.Context, *watermarkEstimator, beam.BundleFinalization, *sdf.LockRTracker, []byte,
		func(beam.EventTime, transforms.Raw), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, transforms.Raw]()
	beam.RegisterType(reflect.TypeOf((*readRestriction)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*readRestriction)(nil)).Elem(), encodeRestriction, decodeRestriction)
	beam.RegisterType(reflect.TypeOf((*watermarkEstimator)(nil)).Elem())
}

// Read reads cfg.Subscription as an unbounded PCollection of
// transforms.Raw, timestamped with each message's event time. It panics on
// an invalid cfg; see TryRead.
func Read(s beam.Scope, cfg Config) beam.PCollection {
	out, err := TryRead(s, cfg)
	if err != nil {
		panic(err)
	}
	return out
}

// TryRead is Read returning an invalid cfg as an error.
func TryRead(s beam.Scope, cfg Config) (beam.PCollection, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return beam.PCollection{}, err
	}
	s = s.Scope("pubsubsource.Read")
	imp := beam.Impulse(s)
	out, err := beam.TryParDo(s, &readFn{Cfg: cfg}, imp)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("pubsubsource: %w", err)
	}
	return out[0], nil
}

// readFn is the splittable DoFn that pulls. Its restriction is
// readRestriction (pull until stopped), its watermark estimator the manual
// watermarkEstimator.
type readFn struct {
	Cfg Config `json:"cfg"`

	sub    *subscriber
	leases *leases
	counts *pendingCounts
	label  string
	// tokens of the leases taken in the current bundle; an instance runs
	// one bundle at a time.
	bundleTokens []int64

	mu sync.Mutex
	// spent is the BundleFinalization whose callbacks the SDK has run
	// once and will not run again (see ackHandover).
	spent beam.BundleFinalization
}

// Setup connects to Pub/Sub.
func (fn *readFn) Setup(ctx context.Context) error {
	sub, err := acquireSubscriber(ctx, fn.Cfg)
	if err != nil {
		return err
	}
	fn.sub = sub
	fn.counts = pendingFor(fn.Cfg)
	if fn.Cfg.Pipeline != "" {
		fn.label = " [" + fn.Cfg.Pipeline + "]"
	}
	fn.leases = acquireLeases(fn.Cfg, sub, fn.counts, fn.label)
	return nil
}

// Teardown releases the leases and the client.
func (fn *readFn) Teardown() {
	releaseLeases(fn.leases)
	fn.leases = nil
	releaseSubscriber(fn.sub)
	fn.sub = nil
}

// StartBundle starts a new list of the bundle's leases. (The Go SDK wants
// ProcessElement's emitter here too.)
func (fn *readFn) StartBundle(_ context.Context, _ func(beam.EventTime, transforms.Raw)) {
	fn.bundleTokens = fn.bundleTokens[:0]
}

// FinishBundle: the bundle succeeded as far as this DoFn can tell; keep its
// messages leased until its finalization callback expires.
func (fn *readFn) FinishBundle(_ context.Context, _ func(beam.EventTime, transforms.Raw)) {
	if len(fn.bundleTokens) > 0 {
		fn.leases.extendUntil(fn.bundleTokens, time.Now().Add(finalizeWithin))
	}
	fn.bundleTokens = fn.bundleTokens[:0]
}

// CreateInitialRestriction starts one reader per Read.
func (fn *readFn) CreateInitialRestriction(_ []byte) readRestriction {
	return readRestriction{}
}

// SplitRestriction keeps the one reader.
func (fn *readFn) SplitRestriction(_ []byte, rest readRestriction) []readRestriction {
	return []readRestriction{rest}
}

// RestrictionSize is 1 for a running reader, 0 for a stopped one.
func (fn *readFn) RestrictionSize(_ []byte, rest readRestriction) float64 {
	if rest.Stopped {
		return 0
	}
	return 1
}

// CreateTracker wraps a pullTracker in a lock: the runner may checkpoint
// while ProcessElement runs.
func (fn *readFn) CreateTracker(rest readRestriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(newPullTracker(rest))
}

// TruncateRestriction is called when a streaming job drains: the reader
// stops (after acking what the last bundle handed over); unread messages
// stay in the subscription.
func (fn *readFn) TruncateRestriction(rt *sdf.LockRTracker, _ []byte) readRestriction {
	rest := rt.GetRestriction().(readRestriction)
	return readRestriction{Stopped: true, PendingToken: rest.PendingToken, PendingAckIDs: rest.PendingAckIDs}
}

// InitialWatermarkEstimatorState starts at the impulse's timestamp (-inf).
func (fn *readFn) InitialWatermarkEstimatorState(et beam.EventTime, _ readRestriction, _ []byte) int64 {
	return et.Milliseconds()
}

// CreateWatermarkEstimator restores an estimator.
func (fn *readFn) CreateWatermarkEstimator(state int64) *watermarkEstimator {
	return &watermarkEstimator{State: state}
}

// WatermarkEstimatorState saves an estimator.
func (fn *readFn) WatermarkEstimatorState(e *watermarkEstimator) int64 {
	return e.State
}

// ProcessElement pulls until the bundle is full, the subscription is
// empty, or the runner checkpoints, emitting each message at its event
// time. In AckOnFinalize mode the messages are leased (ack deadlines
// extended) until the bundle is finalized, then acked; they are handed
// back (nacked) if the bundle fails in this DoFn or downstream of it.
func (fn *readFn) ProcessElement(ctx context.Context, we *watermarkEstimator, bf beam.BundleFinalization,
	rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, transforms.Raw)) (sdf.ProcessContinuation, error) {
	return fn.process(ctx, we, bf, rt, emit, nil)
}

// process is ProcessElement; rep, when not nil, also reports the reader's
// progress (ReadWithProgress).
func (fn *readFn) process(ctx context.Context, we *watermarkEstimator, bf beam.BundleFinalization,
	rt *sdf.LockRTracker, emit func(beam.EventTime, transforms.Raw), rep *reporter) (sdf.ProcessContinuation, error) {
	// Report what finalization callbacks and the lease goroutine did since
	// the last bundle; and, for the last bundle, what happened during it.
	fn.counts.flush(ctx)
	defer fn.counts.flush(ctx)

	cfg := fn.Cfg
	byCaller := cfg.AckMode == AckByCaller
	rest := rt.GetRestriction().(readRestriction)
	if len(rest.PendingAckIDs) > 0 {
		fn.ackHandedOver(ctx, rest.PendingToken, rest.PendingAckIDs)
	}
	if rest.Stopped {
		return sdf.StopProcessing(), nil // drained
	}
	callbacksRun := !fn.finalizerSpent(bf)
	start := time.Now()
	token := newLeaseToken()
	var ackIDs []string // this call's messages, in AckOnFinalize mode
	succeeded := false
	// next is the Pull in flight, if any: the following Pull runs while the
	// current one's messages go downstream (see prefetch).
	var next <-chan pullResult
	defer func() {
		// Runs on an error return and while a panic from downstream (an
		// emit into a failing DoFn) unwinds through here.
		if next != nil {
			// Read but never emitted: nobody else will ack them.
			if r := <-next; len(r.msgs) > 0 {
				fn.handBack(receivedAckIDs(r.msgs), "bundle ended before emitting them")
			}
		}
		if !succeeded && len(ackIDs) > 0 && fn.leases.settle(token) {
			fn.handBack(ackIDs, "bundle failed")
		}
	}()
	finish := func(c sdf.ProcessContinuation) (sdf.ProcessContinuation, error) {
		rep.maybeReport(rt, we, time.Now(), false)
		succeeded = true
		switch {
		case len(ackIDs) == 0:
			if callbacksRun {
				// Runners (prism) finalize every bundle of a DoFn that
				// asks for finalization; the Go harness answers one that
				// registered no callback with an error, logged each time.
				// It also tells this instance when its finalizer is spent.
				bf.RegisterCallback(noopFinalizeWithin, func() error {
					fn.markSpent(bf)
					return nil
				})
			}
		case callbacksRun:
			fn.bundleTokens = append(fn.bundleTokens, token)
			fn.registerAck(bf, token, ackIDs)
		case c.ShouldResume() && rt.TryClaim(handoverClaim{Token: token, AckIDs: ackIDs}):
			fn.bundleTokens = append(fn.bundleTokens, token)
		default:
			// Nothing can ack them: they are redelivered once their
			// leases lapse (a duplicate, not a loss).
			fn.bundleTokens = append(fn.bundleTokens, token)
			log.Warnf(ctx, "pubsubsource%s: %d message(s) read by a bundle that cannot be finalized and has no residual; "+
				"they will be redelivered after %v", fn.label, len(ackIDs), finalizeWithin)
		}
		return c, nil
	}

	next = fn.prefetch(ctx)
	for pulls := 1; ; pulls++ {
		r := <-next
		next = nil
		msgs, err := r.msgs, r.err
		if err != nil {
			if isTransient(err) && ctx.Err() == nil {
				log.Warnf(ctx, "pubsubsource%s: pull %s: %v; retrying in %v", fn.label, cfg.Subscription, err, errorResumeDelay)
				return finish(sdf.ResumeProcessingIn(errorResumeDelay))
			}
			return nil, fmt.Errorf("pubsubsource: pull %s: %w", cfg.Subscription, err)
		}
		now := time.Now()
		if !rt.TryClaim(pullClaim{Messages: len(msgs), At: now}) {
			// The runner checkpointed meanwhile: these were not emitted.
			if !byCaller && len(msgs) > 0 {
				fn.handBack(receivedAckIDs(msgs), "reader checkpointed before emitting them")
			}
			if err := rt.GetError(); err != nil {
				return nil, err
			}
			return finish(sdf.StopProcessing())
		}
		if len(msgs) == 0 {
			if pulls > 1 {
				// Commit what this bundle read now that the subscription
				// is empty.
				return finish(sdf.ResumeProcessingIn(0))
			}
			quietSince := time.UnixMilli(rt.GetRestriction().(readRestriction).QuietSinceMillis)
			quiet := now.Sub(quietSince)
			if cfg.StopAfterIdle > 0 && quiet >= cfg.StopAfterIdle {
				rep.maybeReport(rt, we, now, true) // before the stop claim, which ends all claims
				rt.TryClaim(stopClaim{})
				we.advanceTo(mtime.MaxTimestamp)
				log.Infof(ctx, "pubsubsource%s: %s empty for %v: stopping (StopAfterIdle)", fn.label, cfg.Subscription, quiet.Round(time.Millisecond))
				return finish(sdf.StopProcessing())
			}
			if quiet >= cfg.IdleAdvance {
				we.advanceTo(mtime.FromTime(now.Add(-idleAllowance)))
			}
			return finish(sdf.ResumeProcessingIn(idleResumeDelay))
		}

		// The bundle pulls again unless it is full; that Pull runs while
		// these messages are emitted, so that Pub/Sub serving one and the
		// pipeline processing the other overlap (the time bound is checked
		// here: a Pull started is always emitted in this bundle).
		more := pulls < maxBundlePulls && time.Since(start) < maxBundleDuration
		if more {
			next = fn.prefetch(ctx)
		}
		pulledCounter.Inc(ctx, int64(len(msgs)))
		if !byCaller {
			ids := receivedAckIDs(msgs)
			ackIDs = append(ackIDs, ids...)
			fn.leases.add(token, ids, now.Add(pendingHorizon))
		}
		earliest := mtime.MaxTimestamp
		for _, m := range msgs {
			et, raw := fn.toRaw(ctx, m, byCaller)
			if et < earliest {
				earliest = et
			}
			emit(et, raw)
		}
		// The watermark follows the earliest event time of each Pull, so
		// that one event with a clock far ahead cannot make the rest late.
		we.advanceTo(earliest)
		if !more {
			return finish(sdf.ResumeProcessingIn(0))
		}
	}
}

// pullResult is the outcome of one Pull.
type pullResult struct {
	msgs []*pubsubpb.ReceivedMessage
	err  error
}

// prefetch starts a Pull and returns where its result arrives.
func (fn *readFn) prefetch(ctx context.Context) <-chan pullResult {
	ch := make(chan pullResult, 1)
	go func() {
		msgs, err := fn.pull(ctx)
		ch <- pullResult{msgs, err}
	}()
	return ch
}

// pull makes one unary Pull; a Pull that ends by pullWait is empty.
func (fn *readFn) pull(ctx context.Context) ([]*pubsubpb.ReceivedMessage, error) {
	pctx, cancel := context.WithTimeout(ctx, pullWait)
	defer cancel()
	resp, err := fn.sub.admin.Pull(pctx, &pubsubpb.PullRequest{
		Subscription: fn.Cfg.Subscription,
		MaxMessages:  int32(fn.Cfg.MaxMessages),
	})
	if err != nil {
		if ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded) {
			return nil, nil
		}
		return nil, err
	}
	return resp.GetReceivedMessages(), nil
}

// toRaw converts a received message.
func (fn *readFn) toRaw(ctx context.Context, m *pubsubpb.ReceivedMessage, byCaller bool) (mtime.Time, transforms.Raw) {
	msg := m.GetMessage()
	var attrs map[string]string
	if n := len(msg.GetAttributes()); n > 0 || byCaller {
		attrs = make(map[string]string, n+1)
		for k, v := range msg.GetAttributes() {
			attrs[k] = v
		}
	}
	et, err := EventTimeOf(msg.GetAttributes(), fn.Cfg.EventTimeAttribute, msg.GetPublishTime().AsTime())
	if err != nil {
		badEventTimeCounter.Inc(ctx, 1)
	}
	if byCaller {
		attrs[AckIDAttribute] = m.GetAckId()
	}
	return mtime.FromTime(et), transforms.Raw{
		Source:     MessageSource(fn.Cfg.Subscription, msg.GetMessageId()),
		Payload:    msg.GetData(),
		Attributes: attrs,
	}
}

// registerAck registers the bundle finalization callback that acks
// exactly these messages. The ack IDs belong to the closure alone.
func (fn *readFn) registerAck(bf beam.BundleFinalization, token int64, ackIDs []string) {
	sub, ls, counts, subscription, label := fn.sub, fn.leases, fn.counts, fn.Cfg.Subscription, fn.label
	bf.RegisterCallback(finalizeWithin, func() error {
		fn.markSpent(bf)
		if !ls.settle(token) {
			return nil // handed back, or acked by the resumed reader
		}
		ctx, cancel := context.WithTimeout(context.Background(), retryBudget)
		defer cancel()
		n, err := sub.acknowledge(ctx, subscription, ackIDs)
		counts.acked.Add(int64(n))
		ackedByCallback.Add(int64(n))
		if err != nil {
			// The bundle's output is committed; the unacked rest is
			// redelivered once its deadline passes (a duplicate, never a
			// loss). Not returned: the Go harness would then keep the
			// DoFn instance parked until the callback expires.
			log.Errorf(ctx, "pubsubsource%s: %v; %d message(s) will be redelivered", label, err, len(ackIDs)-n)
		}
		return nil
	})
}

// ackHandover works around a bug of the Beam Go SDK (v2.77): a plan (a
// DoFn instance and its bundle finalizer) is reused after its first
// finalization, but Plan.Finalize then swaps in a new finalizer that the
// DoFns never see. Callbacks registered in any later bundle of that
// instance are never run, and the harness tells the runner the bundle
// needs no finalization. A reader instance notices this when the
// BundleFinalization it is handed already had its callbacks run
// (finalizerSpent); such a bundle hands its ack IDs to its residual
// restriction instead (handoverClaim), and ackHandedOver acks them when
// the runner resumes the reader, which it does only after committing the
// bundle that checkpointed.
//
// ackHandedOver acks ack IDs handed over by the bundle before, unless
// that bundle's callback did it already.
func (fn *readFn) ackHandedOver(ctx context.Context, token int64, ackIDs []string) {
	if !fn.leases.settle(token) {
		return
	}
	actx, cancel := context.WithTimeout(ctx, retryBudget)
	defer cancel()
	n, err := fn.sub.acknowledge(actx, fn.Cfg.Subscription, ackIDs)
	ackedCounter.Inc(ctx, int64(n))
	ackedByHandover.Add(int64(n))
	if err != nil {
		log.Errorf(ctx, "pubsubsource%s: %v; %d message(s) will be redelivered", fn.label, err, len(ackIDs)-n)
	}
}

// finalizerSpent reports whether bf's callbacks have been run once, so
// that (Go SDK v2.77, see ackHandover) callbacks registered on it now will
// never run.
func (fn *readFn) finalizerSpent(bf beam.BundleFinalization) bool {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return fn.spent != nil && fn.spent == bf
}

// How many messages each path acked in this process (for tests and
// debugging; the pubsub_acked counter has the sum).
var ackedByCallback, ackedByHandover atomic.Int64

func (fn *readFn) markSpent(bf beam.BundleFinalization) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.spent = bf
}

// handBack nacks messages so that Pub/Sub redelivers them at once.
func (fn *readFn) handBack(ackIDs []string, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), nackTimeout)
	defer cancel()
	n, err := fn.sub.modifyAckDeadline(ctx, fn.Cfg.Subscription, ackIDs, 0)
	fn.counts.nacked.Add(int64(n))
	if err != nil {
		log.Warnf(ctx, "pubsubsource%s: handing back %d message(s) (%s): %v; they are redelivered when their ack deadline passes",
			fn.label, len(ackIDs), why, err)
		return
	}
	log.Infof(ctx, "pubsubsource%s: handed back %d message(s) for redelivery: %s", fn.label, n, why)
}

func receivedAckIDs(msgs []*pubsubpb.ReceivedMessage) []string {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.GetAckId()
	}
	return ids
}
