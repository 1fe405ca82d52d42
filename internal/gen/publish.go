package gen

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/railyard-dev/railyard/schemas"
)

// Message attributes the ingest gateway sets on every event it publishes
// (package schemas), and that Publish sets the same way.
const (
	AttrEventID       = schemas.AttrEventID
	AttrEventTime     = schemas.AttrEventTime
	AttrSchemaVersion = schemas.AttrSchemaVersion
)

// EventTimeLayout is how the event_time attribute is written.
const EventTimeLayout = schemas.EventTimeAttrLayout

// Attributes are the message attributes of a generated line as the ingest
// gateway would publish it: event_id and event_time when the line has them
// (invalid lines may lack either), and schema_version 1.
func (r Record) Attributes() map[string]string {
	attrs := map[string]string{AttrSchemaVersion: strconv.Itoa(1)}
	if r.EventID != "" {
		attrs[AttrEventID] = r.EventID
	}
	if !r.EventTime.IsZero() {
		attrs[AttrEventTime] = r.EventTime.UTC().Format(EventTimeLayout)
	}
	return attrs
}

// PublishOptions configures Publish.
type PublishOptions struct {
	// Rate, when > 0, paces publishing at about this many lines per second;
	// 0 publishes as fast as the topic takes them.
	Rate float64
	// Progress, when set, is called after every confirmed publish with the
	// number of lines published so far.
	Progress func(published int64)
	// OnPublish, when set, is called with each line's record and the time
	// its publish was confirmed (benchmarks measure latency from it).
	OnPublish func(r Record, confirmed time.Time)
}

// Publish publishes the generator's remaining lines to pub in arrival order,
// each line as the message data with Record.Attributes, and waits for every
// publish to be confirmed. It returns the summary of what it published.
func Publish(ctx context.Context, g *Generator, pub *pubsub.Publisher, opts PublishOptions) (Summary, error) {
	type pending struct {
		rec Record
		res *pubsub.PublishResult
	}
	const inFlight = 1000
	queue := make([]pending, 0, inFlight)
	var published int64
	wait := func(n int) error {
		for len(queue) > n {
			p := queue[0]
			queue = queue[1:]
			if _, err := p.res.Get(ctx); err != nil {
				return fmt.Errorf("gen: publishing line %d: %w", p.rec.Seq, err)
			}
			published++
			if opts.OnPublish != nil {
				opts.OnPublish(p.rec, time.Now())
			}
			if opts.Progress != nil {
				opts.Progress(published)
			}
		}
		return nil
	}
	start := time.Now()
	for r := range g.Records() {
		if opts.Rate > 0 {
			due := start.Add(time.Duration(float64(r.Seq) / opts.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				if err := wait(0); err != nil {
					return g.Summary(), err
				}
				select {
				case <-ctx.Done():
					return g.Summary(), ctx.Err()
				case <-time.After(d):
				}
			}
		}
		res := pub.Publish(ctx, &pubsub.Message{Data: r.Line, Attributes: r.Attributes()})
		queue = append(queue, pending{rec: r, res: res})
		if err := wait(inFlight - 1); err != nil {
			return g.Summary(), err
		}
	}
	if err := wait(0); err != nil {
		return g.Summary(), err
	}
	pub.Flush()
	return g.Summary(), nil
}
