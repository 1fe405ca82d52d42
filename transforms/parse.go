package transforms

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	// From and To, when set, are the first and last event dates (UTC) a
	// batch run owns: a valid event outside them, from a file filed under
	// the wrong partition, is dead-lettered (ReasonOutsideRange) rather than
	// leak into another date's partition.
	From, To time.Time
	// CountLakeDates counts lines and dead letters per lake date partition
	// (the dt=YYYY-MM-DD in the record's Source), as the counters
	// MetricLakeDateLines and MetricLakeDateDeadLetters + the date, for the
	// batch ledger.
	CountLakeDates bool
}

// Per-partition counter name prefixes of ParseOptions.CountLakeDates.
const (
	MetricLakeDateLines       = "lake_date_lines/"
	MetricLakeDateDeadLetters = "lake_date_dead_letters/"
)

// ReasonOutsideRange is the dead-letter reason of valid events whose event
// date lies outside a batch run's dates.
const ReasonOutsideRange = "outside_partition"

// Parse decodes raw records into valid events and dead letters. Every input
// yields exactly one output on one of the two: read = valid + invalid, where
// invalid counts validation failures and, with From/To set, valid events
// outside the run's dates.
func Parse(s beam.Scope, raws beam.PCollection, opts ParseOptions) (events, deadLetters beam.PCollection) {
	s = s.Scope("Parse")
	fn := &parseFn{Pipeline: opts.Pipeline, RunID: opts.RunID, CountLakeDates: opts.CountLakeDates}
	if !opts.Now.IsZero() {
		fn.NowMillis = opts.Now.UnixMilli()
	}
	if !opts.From.IsZero() {
		fn.FromMillis = dayStart(opts.From).UnixMilli()
		fn.ToMillis = dayStart(opts.To).AddDate(0, 0, 1).UnixMilli()
	}
	return beam.ParDo2(s, fn, raws)
}

type parseFn struct {
	Pipeline             string
	RunID                string
	NowMillis            int64
	FromMillis, ToMillis int64 // [from, to); both 0 when unchecked
	CountLakeDates       bool

	reasons   map[schemas.Reason]beam.Counter
	dateLines map[string]beam.Counter
	dateDead  map[string]beam.Counter
}

func (fn *parseFn) Setup() {
	fn.reasons = map[schemas.Reason]beam.Counter{}
	for _, r := range append(schemas.Reasons, ReasonOutsideRange) {
		fn.reasons[r] = beam.NewCounter(MetricsNamespace, MetricInvalidPrefix+string(r))
	}
	fn.dateLines = map[string]beam.Counter{}
	fn.dateDead = map[string]beam.Counter{}
}

// lakeDate extracts the YYYY-MM-DD of a "…/dt=YYYY-MM-DD/…" source path.
func lakeDate(source string) string {
	i := strings.Index(source, "/dt=")
	if i < 0 || len(source) < i+4+len(time.DateOnly) {
		return ""
	}
	return source[i+4 : i+4+len(time.DateOnly)]
}

func (fn *parseFn) countDate(ctx context.Context, counters map[string]beam.Counter, prefix, source string) {
	date := lakeDate(source)
	if date == "" {
		return
	}
	c, ok := counters[date]
	if !ok {
		c = beam.NewCounter(MetricsNamespace, prefix+date)
		counters[date] = c
	}
	c.Inc(ctx, 1)
}

func (fn *parseFn) now() time.Time {
	if fn.NowMillis != 0 {
		return time.UnixMilli(fn.NowMillis).UTC()
	}
	return time.Now().UTC()
}

func (fn *parseFn) ProcessElement(ctx context.Context, r Raw, emitEvent func(schemas.GameEvent), emitDead func(schemas.DeadLetter)) {
	readCounter.Inc(ctx, 1)
	if fn.CountLakeDates {
		fn.countDate(ctx, fn.dateLines, MetricLakeDateLines, r.Source)
	}
	now := fn.now()
	e, err := schemas.DecodeLine(r.Payload, now)
	var reason schemas.Reason
	var detail string
	switch {
	case err != nil:
		reason = schemas.ReasonOf(err)
		detail = err.Error()
		if ve, ok := err.(*schemas.ValidationError); ok {
			detail = ve.Detail
			if ve.Field != "" {
				detail = ve.Field + ": " + ve.Detail
			}
		}
	case fn.FromMillis != 0 && (e.EventTime.UnixMilli() < fn.FromMillis || e.EventTime.UnixMilli() >= fn.ToMillis):
		reason = ReasonOutsideRange
		detail = fmt.Sprintf("event date %s is outside the run's dates %s..%s: the file is filed under the wrong partition",
			e.EventTime.UTC().Format(time.DateOnly), time.UnixMilli(fn.FromMillis).UTC().Format(time.DateOnly),
			time.UnixMilli(fn.ToMillis).UTC().AddDate(0, 0, -1).Format(time.DateOnly))
	default:
		validCounter.Inc(ctx, 1)
		emitEvent(e)
		return
	}
	invalidCounter.Inc(ctx, 1)
	if c, ok := fn.reasons[reason]; ok {
		c.Inc(ctx, 1)
	}
	if fn.CountLakeDates {
		fn.countDate(ctx, fn.dateDead, MetricLakeDateDeadLetters, r.Source)
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
