package pubsubsource

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn2x1[context.Context, string, error](&ackFn{})
}

// Acknowledge acks the ack IDs of ackIDs (a PCollection<string>, the
// Attributes[AckIDAttribute] values of messages read in AckByCaller mode)
// on cfg.Subscription: in calls of at most 1000 IDs, retried on transient
// errors, counted in pubsub_acked. Place it after the step that makes the
// messages durable. A permanent error (unknown subscription, no
// permission, an empty ID) fails the bundle; its IDs are then not acked
// and Pub/Sub redelivers those messages. It panics on an invalid cfg or a
// PCollection that is not of strings.
func Acknowledge(s beam.Scope, cfg Config, ackIDs beam.PCollection) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	if t := ackIDs.Type().Type(); t != reflect.TypeOf("") {
		panic(fmt.Sprintf("pubsubsource.Acknowledge: ackIDs must be a PCollection<string>, got %v", t))
	}
	s = s.Scope("pubsubsource.Acknowledge")
	beam.ParDo0(s, &ackFn{Cfg: cfg}, ackIDs)
}

// ackFn acks in batches of maxAckBatch, flushing the rest at the end of
// each bundle.
type ackFn struct {
	Cfg Config `json:"cfg"`

	sub *subscriber
	buf []string
}

// Setup connects to Pub/Sub.
func (fn *ackFn) Setup(ctx context.Context) error {
	sub, err := acquireSubscriber(ctx, fn.Cfg)
	if err != nil {
		return err
	}
	fn.sub = sub
	return nil
}

// Teardown releases the client.
func (fn *ackFn) Teardown() {
	releaseSubscriber(fn.sub)
	fn.sub = nil
}

// StartBundle empties the buffer (left over only by a failed bundle).
func (fn *ackFn) StartBundle(_ context.Context) {
	fn.buf = fn.buf[:0]
}

// ProcessElement buffers one ack ID.
func (fn *ackFn) ProcessElement(ctx context.Context, ackID string) error {
	if ackID == "" {
		return errors.New("pubsubsource.Acknowledge: empty ack ID (was the message read with AckMode AckByCaller?)")
	}
	fn.buf = append(fn.buf, ackID)
	if len(fn.buf) >= maxAckBatch {
		return fn.flush(ctx)
	}
	return nil
}

// FinishBundle acks what is buffered.
func (fn *ackFn) FinishBundle(ctx context.Context) error {
	return fn.flush(ctx)
}

func (fn *ackFn) flush(ctx context.Context) error {
	if len(fn.buf) == 0 {
		return nil
	}
	n, err := fn.sub.acknowledge(ctx, fn.Cfg.Subscription, fn.buf)
	ackedCounter.Inc(ctx, int64(n))
	fn.buf = fn.buf[:0]
	return err
}
