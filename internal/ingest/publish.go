package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/railyard-dev/railyard/internal/pubsubcodec"
	"github.com/railyard-dev/railyard/schemas"
)

// Event message attributes: the contract with every subscriber, defined in
// package schemas; AttrGame is the MQTT topic's game.
const (
	AttrEventID       = schemas.AttrEventID
	AttrEventTime     = schemas.AttrEventTime
	AttrSchemaVersion = schemas.AttrSchemaVersion
	AttrGame          = "game"
)

// EventTimeLayout is the layout of the event_time attribute.
const EventTimeLayout = schemas.EventTimeAttrLayout

// Dead letters written by the gateway.
const (
	DeadLetterPipeline = "ingest"
	DeadLetterStage    = "validate"
)

// publisher publishes a request's events and dead letters and waits for
// Pub/Sub to confirm them, with a bound on the messages outstanding at once.
type publisher struct {
	events, deadLetters *pubsub.Publisher
	// eventsTopic, publishRPC and directMin serve requests with at least
	// directMin valid events, which publish them in their own RPCs.
	eventsTopic string
	publishRPC  func(context.Context, *pubsubpb.PublishRequest, ...gax.CallOption) (*pubsubpb.PublishResponse, error)
	directMin   int
	runID       string
	capacity    int64
	sem         *semaphore.Weighted
	outstanding atomic.Int64
	wait        time.Duration
	timeout     time.Duration
	metrics     *Metrics
	now         func() time.Time

	accepted, deadLettered, failures atomic.Int64
	// directEvents counts the events handed to direct RPCs.
	directEvents atomic.Int64
}

// batch is what one HTTP request or MQTT message asks to publish.
type batch struct {
	requestID string
	transport string
	items     []Item
	// attrs are added to every event message (the MQTT game).
	attrs map[string]string
	// metadata is the request metadata as a JSON object, the Attributes of
	// its dead letters.
	metadata string
}

// failure is an item whose publish failed or was not confirmed in time.
type failure struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// outcome is what became of a batch.
type outcome struct {
	accepted int       // valid events confirmed by Pub/Sub
	rejected []Item    // invalid events; dead-lettered unless in failed
	failed   []failure // events or dead letters not confirmed
	// settled is false when publishes were still pending when the wait
	// ended: their payloads must stay untouched until they finish.
	settled bool
}

// publish publishes every item of b, valid ones to the events topic and
// invalid ones as dead letters, and waits until Pub/Sub confirmed or failed
// each (or the publish timeout passed). The only error is a refusal before
// anything was published: capacity not available within the wait (429).
func (p *publisher) publish(ctx context.Context, b batch) (outcome, *RequestError) {
	n := len(b.items)
	weight := min(int64(n), p.capacity)
	if !p.sem.TryAcquire(weight) {
		wctx, cancel := context.WithTimeout(ctx, p.wait)
		err := p.sem.Acquire(wctx, weight)
		cancel()
		if err != nil {
			return outcome{}, &RequestError{Status: http.StatusTooManyRequests, Reason: ReasonOverloaded,
				Message:    "too many publishes outstanding; retry later",
				RetryAfter: time.Second}
		}
	}
	start := time.Now()
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	valid := 0
	for i := range b.items {
		if r := b.items[i].Err; r != nil {
			p.metrics.rejected.WithLabelValues(b.transport, string(r.Reason)).Inc()
		} else {
			valid++
		}
	}
	// Direct when the request is big enough to fill an RPC, or when so few
	// messages are in flight that the bundler would mostly add its delay.
	direct := p.directMin > 0 && valid > 0 && (valid >= p.directMin || p.outstanding.Load() < directWhenFewerOutstanding)
	p.outstanding.Add(int64(n))
	results := make([]*pubsub.PublishResult, n)
	now := p.now().UTC()
	// The Pub/Sub client must not stop publishing when the client of the
	// gateway goes away: the answer is lost, but the publish completes.
	bg := context.Background()
	for i := range b.items {
		it := &b.items[i]
		switch {
		case it.Err != nil:
			results[i] = p.deadLetters.Publish(bg, deadLetterMessage(it, b, p.runID, now))
		case !direct:
			results[i] = p.events.Publish(bg, &pubsub.Message{Data: it.Payload, Attributes: eventAttributes(it.Event, b.attrs)})
		}
	}
	var directErrs []error
	if direct {
		p.directEvents.Add(int64(valid))
		directErrs = p.publishDirect(b, valid)
	}

	out := outcome{settled: true}
	var pending []*pubsub.PublishResult
	expired := false
	for i, r := range results {
		it := &b.items[i]
		if r == nil {
			p.outstanding.Add(-1)
			p.record(&out, it, b.transport, directErrs[i])
			continue
		}
		if !expired {
			select {
			case <-r.Ready():
			case <-timer.C:
				expired = true
			}
		}
		select {
		case <-r.Ready():
			p.outstanding.Add(-1)
			_, err := r.Get(bg)
			p.record(&out, it, b.transport, err)
		default:
			out.settled = false
			pending = append(pending, r)
			p.record(&out, it, b.transport, errPublishTimedOut)
		}
	}
	p.metrics.publishLatency.Observe(time.Since(start).Seconds())
	if out.settled {
		p.sem.Release(weight)
		return out, nil
	}
	// Keep the capacity until the stragglers finish, so that the bound on
	// outstanding publishes holds even when nobody waits for them.
	go func() {
		for _, r := range pending {
			<-r.Ready()
			p.outstanding.Add(-1)
		}
		p.sem.Release(weight)
	}()
	return out, nil
}

// errPublishTimedOut is the outcome of a publish not confirmed within the
// publish timeout: it may still arrive.
var errPublishTimedOut = errors.New("publish not confirmed in time")

// record books the outcome of an item's publish: err is nil when Pub/Sub
// confirmed it.
func (p *publisher) record(out *outcome, it *Item, transport string, err error) {
	valid := it.Err == nil
	if err != nil {
		topic := "events"
		if !valid {
			topic = "dead_letters"
		}
		reason, detail := ReasonPublishFailed, err.Error()
		if errors.Is(err, errPublishTimedOut) {
			reason, detail = ReasonPublishTimeout, "Pub/Sub did not confirm the publish within "+p.timeout.String()+"; it may still arrive"
		}
		p.metrics.publishFailures.WithLabelValues(topic, reason).Inc()
		p.failures.Add(1)
		out.failed = append(out.failed, failure{Index: it.Index, Reason: reason, Detail: detail})
		if !valid {
			out.rejected = append(out.rejected, *it)
		}
		return
	}
	if valid {
		out.accepted++
		p.accepted.Add(1)
		p.metrics.accepted.WithLabelValues(transport).Inc()
		return
	}
	out.rejected = append(out.rejected, *it)
	p.deadLettered.Add(1)
	p.metrics.deadLetters.WithLabelValues(transport).Inc()
}

// directWhenFewerOutstanding: a request finding fewer messages than this
// in flight publishes in its own RPC whatever its size, because the
// bundler's 1 ms delay dominates an idle gateway's latency. Measured with
// scripts/bench-ingest.sh on single-event requests at concurrency 1, 8 and
// 32: 2,169, 7,313 and 10,999 events/s with this rule, 513, 3,450 and
// 10,303 with the bundler only, 1,692, 5,923 and 8,256 always direct (under
// load the bundler gathers more per RPC).
const directWhenFewerOutstanding = 8

// Bounds of one Publish RPC. Pub/Sub takes at most 1000 messages and 10 MB
// per request; the byte bound is the client's own batch bound (1 MB), which
// also stays under the 4 MiB that gRPC servers receive by default (pstest).
const (
	maxRPCMessages = pubsub.MaxPublishRequestCount
	maxRPCBytes    = 1_000_000
	// maxSendBytes lifts gRPC's default 4 MiB send limit, as the Pub/Sub
	// client does for its own batches.
	maxSendBytes = 20 << 20
)

// publishDirect publishes the valid events of b (valid of them) in Publish
// RPCs of their own, concurrently, each bounded by the publish timeout,
// and returns the outcome of each item's publish, indexed like b.items.
// The RPCs run on a background context, like the client's bundler: a
// gateway client that goes away does not cancel a publish half-way.
func (p *publisher) publishDirect(b batch, valid int) []error {
	errs := make([]error, len(b.items))
	// One allocation for all the messages of the request.
	msgs := make([]pubsubpb.PubsubMessage, valid)
	type rpc struct {
		items []int
		msgs  []*pubsubpb.PubsubMessage
	}
	var rpcs []rpc
	cur, curBytes, m := rpc{}, 0, 0
	for i := range b.items {
		it := &b.items[i]
		if it.Err != nil {
			continue
		}
		msg := &msgs[m]
		m++
		msg.Data = it.Payload
		msg.Attributes = eventAttributes(it.Event, b.attrs)
		// The message's encoded size, give or take a few bytes of framing.
		size := len(msg.Data) + 8
		for k, v := range msg.Attributes {
			size += len(k) + len(v) + 8
		}
		if len(cur.msgs) == maxRPCMessages || (len(cur.msgs) > 0 && curBytes+size > maxRPCBytes) {
			rpcs = append(rpcs, cur)
			cur, curBytes = rpc{}, 0
		}
		cur.items = append(cur.items, i)
		cur.msgs = append(cur.msgs, msg)
		curBytes += size
	}
	if len(cur.msgs) > 0 {
		rpcs = append(rpcs, cur)
	}

	send := func(r rpc) {
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		defer cancel()
		resp, err := p.publishRPC(ctx, &pubsubpb.PublishRequest{Topic: p.eventsTopic, Messages: r.msgs},
			gax.WithGRPCOptions(grpc.MaxCallSendMsgSize(maxSendBytes), grpc.ForceCodecV2(pubsubcodec.Codec{})))
		switch {
		case err != nil && (ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded):
			err = errPublishTimedOut
		case err == nil && len(resp.GetMessageIds()) != len(r.msgs):
			err = fmt.Errorf("Pub/Sub returned %d message ids for %d messages", len(resp.GetMessageIds()), len(r.msgs))
		}
		for _, i := range r.items {
			errs[i] = err
		}
	}
	if len(rpcs) == 1 {
		send(rpcs[0])
		return errs
	}
	var wg sync.WaitGroup
	for _, r := range rpcs {
		wg.Go(func() { send(r) })
	}
	wg.Wait()
	return errs
}

func eventAttributes(e schemas.GameEvent, extra map[string]string) map[string]string {
	attrs := make(map[string]string, 3+len(extra))
	attrs[AttrEventID] = e.EventID
	attrs[AttrEventTime] = e.EventTime.UTC().Format(EventTimeLayout)
	attrs[AttrSchemaVersion] = strconv.FormatInt(e.SchemaVersion, 10)
	for k, v := range extra {
		attrs[k] = v
	}
	return attrs
}

// deadLetterMessage is the dead-letter topic's message for a rejected item:
// a schemas.DeadLetter as JSON, with its routing fields as attributes too
// so that subscriptions can filter on them.
func deadLetterMessage(it *Item, b batch, runID string, now time.Time) *pubsub.Message {
	source := b.requestID + "#" + strconv.Itoa(it.Index)
	detail := it.Err.Detail
	if it.Err.Field != "" {
		detail = it.Err.Field + ": " + detail
	}
	dl := schemas.DeadLetter{
		Time:       now,
		Pipeline:   DeadLetterPipeline,
		RunID:      runID,
		Stage:      DeadLetterStage,
		Reason:     string(it.Err.Reason),
		Detail:     detail,
		Source:     source,
		Payload:    it.Raw,
		Attributes: b.metadata,
	}
	data, err := json.Marshal(dl)
	if err != nil {
		// DeadLetter has only strings, bytes and a time: Marshal cannot fail.
		panic("ingest: marshal dead letter: " + err.Error())
	}
	return &pubsub.Message{Data: data, Attributes: map[string]string{
		"pipeline": DeadLetterPipeline,
		"stage":    DeadLetterStage,
		"reason":   dl.Reason,
		"source":   source,
	}}
}

// stop flushes and stops both Pub/Sub publishers.
func (p *publisher) stop() {
	p.events.Stop()
	p.deadLetters.Stop()
}
