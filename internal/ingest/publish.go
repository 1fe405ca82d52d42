package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"golang.org/x/sync/semaphore"

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
	runID               string
	capacity            int64
	sem                 *semaphore.Weighted
	outstanding         atomic.Int64
	wait                time.Duration
	timeout             time.Duration
	metrics             *Metrics
	now                 func() time.Time

	accepted, deadLettered, failures atomic.Int64
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
	for i := range b.items {
		if r := b.items[i].Err; r != nil {
			p.metrics.rejected.WithLabelValues(b.transport, string(r.Reason)).Inc()
		}
	}
	p.outstanding.Add(int64(n))
	results := make([]*pubsub.PublishResult, n)
	now := p.now().UTC()
	// The Pub/Sub client must not stop publishing when the client of the
	// gateway goes away: the answer is lost, but the publish completes.
	bg := context.Background()
	for i := range b.items {
		it := &b.items[i]
		if it.Err == nil {
			results[i] = p.events.Publish(bg, &pubsub.Message{Data: it.Payload, Attributes: eventAttributes(it.Event, b.attrs)})
		} else {
			results[i] = p.deadLetters.Publish(bg, deadLetterMessage(it, b, p.runID, now))
		}
	}

	out := outcome{settled: true}
	var pending []*pubsub.PublishResult
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	expired := false
	for i, r := range results {
		if !expired {
			select {
			case <-r.Ready():
			case <-timer.C:
				expired = true
			}
		}
		it := &b.items[i]
		select {
		case <-r.Ready():
			p.outstanding.Add(-1)
			p.record(&out, it, b.transport, r)
		default:
			out.settled = false
			pending = append(pending, r)
			topic := "events"
			if it.Err != nil {
				topic = "dead_letters"
			}
			p.metrics.publishFailures.WithLabelValues(topic, ReasonPublishTimeout).Inc()
			p.failures.Add(1)
			out.failed = append(out.failed, failure{Index: it.Index, Reason: ReasonPublishTimeout,
				Detail: "Pub/Sub did not confirm the publish within " + p.timeout.String() + "; it may still arrive"})
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

// record books a finished publish.
func (p *publisher) record(out *outcome, it *Item, transport string, r *pubsub.PublishResult) {
	_, err := r.Get(context.Background())
	valid := it.Err == nil
	if err != nil {
		topic := "events"
		if !valid {
			topic = "dead_letters"
		}
		p.metrics.publishFailures.WithLabelValues(topic, ReasonPublishFailed).Inc()
		p.failures.Add(1)
		out.failed = append(out.failed, failure{Index: it.Index, Reason: ReasonPublishFailed, Detail: err.Error()})
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
