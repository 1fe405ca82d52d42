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
	lp := NewLineParser(opts)
	fn := &parseFn{Pipeline: lp.Pipeline, RunID: lp.RunID, NowMillis: lp.NowMillis,
		FromMillis: lp.FromMillis, ToMillis: lp.ToMillis, CountLakeDates: opts.CountLakeDates}
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

func (fn *parseFn) ProcessElement(ctx context.Context, r Raw, emitEvent func(schemas.GameEvent), emitDead func(schemas.DeadLetter)) {
	readCounter.Inc(ctx, 1)
	if fn.CountLakeDates {
		fn.countDate(ctx, fn.dateLines, MetricLakeDateLines, r.Source)
	}
	e, dead, ok := fn.parser().Parse(r)
	if ok {
		validCounter.Inc(ctx, 1)
		emitEvent(e)
		return
	}
	invalidCounter.Inc(ctx, 1)
	if c, ok := fn.reasons[schemas.Reason(dead.Reason)]; ok {
		c.Inc(ctx, 1)
	}
	if fn.CountLakeDates {
		fn.countDate(ctx, fn.dateDead, MetricLakeDateDeadLetters, r.Source)
	}
	emitDead(dead)
}

func (fn *parseFn) parser() LineParser {
	return LineParser{Pipeline: fn.Pipeline, RunID: fn.RunID, NowMillis: fn.NowMillis, FromMillis: fn.FromMillis, ToMillis: fn.ToMillis}
}

// LineParser is Parse's decision for one record in plain Go, for code that
// parses inside its own DoFn (the batch job's hour-staged plan) and must
// classify every record exactly as Parse does. NewLineParser builds it
// from the same options.
type LineParser struct {
	Pipeline             string
	RunID                string
	NowMillis            int64 // 0: the wall clock at each record
	FromMillis, ToMillis int64 // [from, to); both 0 when unchecked
}

// NewLineParser is the LineParser of Parse with these options.
func NewLineParser(opts ParseOptions) LineParser {
	p := LineParser{Pipeline: opts.Pipeline, RunID: opts.RunID}
	if !opts.Now.IsZero() {
		p.NowMillis = opts.Now.UnixMilli()
	}
	if !opts.From.IsZero() {
		p.FromMillis = dayStart(opts.From).UnixMilli()
		p.ToMillis = dayStart(opts.To).AddDate(0, 0, 1).UnixMilli()
	}
	return p
}

func (p LineParser) now() time.Time {
	if p.NowMillis != 0 {
		return time.UnixMilli(p.NowMillis).UTC()
	}
	return time.Now().UTC()
}

// Parse decodes one record: its valid event (ok), or else the dead letter
// that keeps it, whose Reason is a schemas.Reason or ReasonOutsideRange.
func (p LineParser) Parse(r Raw) (e schemas.GameEvent, dead schemas.DeadLetter, ok bool) {
	now := p.now()
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
	case p.FromMillis != 0 && (e.EventTime.UnixMilli() < p.FromMillis || e.EventTime.UnixMilli() >= p.ToMillis):
		reason = ReasonOutsideRange
		detail = fmt.Sprintf("event date %s is outside the run's dates %s..%s: the file is filed under the wrong partition",
			e.EventTime.UTC().Format(time.DateOnly), time.UnixMilli(p.FromMillis).UTC().Format(time.DateOnly),
			time.UnixMilli(p.ToMillis).UTC().AddDate(0, 0, -1).Format(time.DateOnly))
	default:
		return e, schemas.DeadLetter{}, true
	}
	return schemas.GameEvent{}, schemas.DeadLetter{
		Time:       now,
		Pipeline:   p.Pipeline,
		RunID:      p.RunID,
		Stage:      StageParse,
		Reason:     string(reason),
		Detail:     detail,
		Source:     r.Source,
		Payload:    r.Payload,
		Attributes: AttributesJSON(r.Attributes),
	}, false
}

// ParseCounts tallies, in plain Go, the counters Parse keeps per record
// (read, valid, invalid, invalid per reason and, with CountLakeDates, lines
// and dead letters per lake date), and Flush adds them to the Beam counters
// of the same names at once: for code that parses many records in one
// DoFn invocation with LineParser.
type ParseCounts struct {
	CountLakeDates       bool
	Read, Valid, Invalid int64
	InvalidByReason      map[string]int64
	LakeDateLines        map[string]int64
	LakeDateDeadLetters  map[string]int64
}

// Count records the outcome of one record from source: valid when reason
// is empty, else dead-lettered with that reason.
func (c *ParseCounts) Count(source, reason string) {
	c.Read++
	date := ""
	if c.CountLakeDates {
		date = lakeDate(source)
		if date != "" {
			if c.LakeDateLines == nil {
				c.LakeDateLines = map[string]int64{}
			}
			c.LakeDateLines[date]++
		}
	}
	if reason == "" {
		c.Valid++
		return
	}
	c.Invalid++
	if c.InvalidByReason == nil {
		c.InvalidByReason = map[string]int64{}
	}
	c.InvalidByReason[reason]++
	if date != "" {
		if c.LakeDateDeadLetters == nil {
			c.LakeDateDeadLetters = map[string]int64{}
		}
		c.LakeDateDeadLetters[date]++
	}
}

// Flush adds the tallies to the Beam counters and resets them.
func (c *ParseCounts) Flush(ctx context.Context) {
	inc := func(name string, n int64) {
		if n != 0 {
			beam.NewCounter(MetricsNamespace, name).Inc(ctx, n)
		}
	}
	inc(MetricRead, c.Read)
	inc(MetricValid, c.Valid)
	inc(MetricInvalid, c.Invalid)
	for r, n := range c.InvalidByReason {
		inc(MetricInvalidPrefix+r, n)
	}
	for d, n := range c.LakeDateLines {
		inc(MetricLakeDateLines+d, n)
	}
	for d, n := range c.LakeDateDeadLetters {
		inc(MetricLakeDateDeadLetters+d, n)
	}
	*c = ParseCounts{CountLakeDates: c.CountLakeDates}
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
