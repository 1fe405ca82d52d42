package transforms

import (
	"context"
	"encoding/json"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// StageParse is the dead-letter stage of Parse.
const StageParse = "parse"

// ParseOptions configure Parse.
type ParseOptions struct {
	// Pipeline and RunID label the dead letters.
	Pipeline string
	RunID    string
	// Now is the time of processing used to reject events from the future
	// and to stamp dead letters. Batch jobs fix it at the run's start so a
	// rerun makes the same decisions; zero means the wall clock at each
	// element, for streaming.
	Now time.Time
}

// Parse decodes raw records into valid events and dead letters. Every input
// yields exactly one output on one of the two: read = valid + invalid.
func Parse(s beam.Scope, raws beam.PCollection, opts ParseOptions) (events, deadLetters beam.PCollection) {
	s = s.Scope("Parse")
	fn := &parseFn{Pipeline: opts.Pipeline, RunID: opts.RunID}
	if !opts.Now.IsZero() {
		fn.NowMillis = opts.Now.UnixMilli()
	}
	return beam.ParDo2(s, fn, raws)
}

type parseFn struct {
	Pipeline  string
	RunID     string
	NowMillis int64

	reasons map[schemas.Reason]beam.Counter
}

func (fn *parseFn) Setup() {
	fn.reasons = map[schemas.Reason]beam.Counter{}
	for _, r := range schemas.Reasons {
		fn.reasons[r] = beam.NewCounter(MetricsNamespace, MetricInvalidPrefix+string(r))
	}
}

func (fn *parseFn) now() time.Time {
	if fn.NowMillis != 0 {
		return time.UnixMilli(fn.NowMillis).UTC()
	}
	return time.Now().UTC()
}

func (fn *parseFn) ProcessElement(ctx context.Context, r Raw, emitEvent func(schemas.GameEvent), emitDead func(schemas.DeadLetter)) {
	readCounter.Inc(ctx, 1)
	now := fn.now()
	e, err := schemas.DecodeLine(r.Payload, now)
	if err == nil {
		validCounter.Inc(ctx, 1)
		emitEvent(e)
		return
	}
	invalidCounter.Inc(ctx, 1)
	reason := schemas.ReasonOf(err)
	if c, ok := fn.reasons[reason]; ok {
		c.Inc(ctx, 1)
	}
	detail := err.Error()
	if ve, ok := err.(*schemas.ValidationError); ok {
		detail = ve.Detail
		if ve.Field != "" {
			detail = ve.Field + ": " + ve.Detail
		}
	}
	emitDead(schemas.DeadLetter{
		Time:       now,
		Pipeline:   fn.Pipeline,
		RunID:      fn.RunID,
		Stage:      StageParse,
		Reason:     string(reason),
		Detail:     detail,
		Source:     r.Source,
		Payload:    r.Payload,
		Attributes: AttributesJSON(r.Attributes),
	})
}

// AttributesJSON renders message attributes as a JSON object ("{}" when
// there are none), the form ops.dead_letters stores.
func AttributesJSON(attrs map[string]string) string {
	if len(attrs) == 0 {
		return "{}"
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func init() {
	register.DoFn4x0[context.Context, Raw, func(schemas.GameEvent), func(schemas.DeadLetter)](&parseFn{})
	register.Emitter1[schemas.GameEvent]()
	register.Emitter1[schemas.DeadLetter]()
}
