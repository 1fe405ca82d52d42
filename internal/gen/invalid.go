package gen

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/railyard-dev/railyard/schemas"
)

// jsonFields are the raw JSON values of an event's keys, in MarshalLine's
// order; an empty value leaves the key out.
type jsonFields struct {
	eventID, user, team, score, eventTime, platform, schemaVersion string
}

func (f jsonFields) appendTo(b []byte) []byte {
	b = append(b, '{')
	first := true
	for _, kv := range [...]struct{ k, v string }{
		{"event_id", f.eventID}, {"user", f.user}, {"team", f.team}, {"score", f.score},
		{"event_time", f.eventTime}, {"platform", f.platform}, {"schema_version", f.schemaVersion},
	} {
		if kv.v == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendQuote(b, kv.k)
		b = append(b, ':')
		b = append(b, kv.v...)
	}
	return append(b, '}')
}

// csvFields are the fields of a mobile-gaming CSV line.
type csvFields []string

func (f csvFields) appendTo(b []byte) []byte {
	for i, s := range f {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return b
}

// An invalidVariant turns an event into a line that fails validation with
// reason. usableTime says whether the line still carries the event's event
// time (which then partitions it).
type invalidVariant[F any] struct {
	reason     schemas.Reason
	usableTime bool
	what       string
	apply      func(g *Generator, f *F)
}

// tooLong pads s to 129..192 bytes, over schemas.MaxStringBytes.
func (g *Generator) tooLong(s string) string {
	n := schemas.MaxStringBytes + 1 + g.rng.IntN(64)
	if len(s)+1 >= n {
		return s
	}
	return s + "-" + strings.Repeat("x", n-len(s)-1)
}

func quote(s string) string { return strconv.Quote(s) }

// tooOld is an event time before schemas.EarliestEventTime.
func (g *Generator) tooOld() time.Time {
	return schemas.EarliestEventTime.Add(-time.Duration(1+g.rng.Int64N(10*365*24)) * time.Hour)
}

// jsonInvalid are the invalid JSON lines, used in turn.
var jsonInvalid = []invalidVariant[jsonFields]{
	{schemas.ReasonMalformedJSON, false, "line cut short", nil}, // handled by invalid
	{schemas.ReasonMissingField, true, "user key absent", func(_ *Generator, f *jsonFields) { f.user = "" }},
	{schemas.ReasonMissingField, true, "team is the empty string", func(_ *Generator, f *jsonFields) { f.team = `""` }},
	{schemas.ReasonInvalidType, true, "user is a number", func(g *Generator, f *jsonFields) { f.user = strconv.Itoa(g.rng.IntN(100000)) }},
	{schemas.ReasonScoreNotInteger, true, "score is a fraction", func(_ *Generator, f *jsonFields) { f.score += ".5" }},
	{schemas.ReasonScoreOutOfRange, true, "score is negative", func(_ *Generator, f *jsonFields) { f.score = "-" + f.score }},
	{schemas.ReasonEventTimeUnparseable, false, "event_time is not RFC 3339", func(g *Generator, f *jsonFields) {
		t, _ := strconv.Unquote(f.eventTime)
		pt, _ := time.Parse(time.RFC3339Nano, t)
		f.eventTime = quote(pt.Format("02/01/2006 15:04:05"))
	}},
	{schemas.ReasonEventTimeTooOld, false, "event_time before 2000", func(g *Generator, f *jsonFields) {
		f.eventTime = quote(g.tooOld().Format(time.RFC3339Nano))
	}},
	{schemas.ReasonFieldTooLong, true, "user longer than 128 bytes", func(g *Generator, f *jsonFields) {
		u, _ := strconv.Unquote(f.user)
		f.user = quote(g.tooLong(u))
	}},
	{schemas.ReasonUnknownSchemaVersion, true, "schema_version 2", func(_ *Generator, f *jsonFields) { f.schemaVersion = "2" }},
	{schemas.ReasonMalformedJSON, false, "trailing garbage", nil}, // handled by invalid
	{schemas.ReasonMissingField, true, "event_id is null", func(_ *Generator, f *jsonFields) { f.eventID = "null" }},
	{schemas.ReasonScoreNotInteger, true, "score is a string", func(_ *Generator, f *jsonFields) { f.score = quote(f.score) }},
	{schemas.ReasonScoreOutOfRange, true, "score above 1000000", func(g *Generator, f *jsonFields) {
		f.score = strconv.FormatInt(schemas.MaxScore+1+g.rng.Int64N(1e9), 10)
	}},
	{schemas.ReasonEventTimeUnparseable, false, "event_time is a number", func(g *Generator, f *jsonFields) {
		t, _ := strconv.Unquote(f.eventTime)
		pt, _ := time.Parse(time.RFC3339Nano, t)
		f.eventTime = strconv.FormatInt(pt.UnixMilli(), 10)
	}},
	{schemas.ReasonFieldTooLong, true, "team longer than 128 bytes", func(g *Generator, f *jsonFields) {
		t, _ := strconv.Unquote(f.team)
		f.team = quote(g.tooLong(t))
	}},
}

// csvInvalid are the invalid CSV lines, used in turn. Fields: user, team,
// score, timestamp_ms, readable_time.
var csvInvalid = []invalidVariant[csvFields]{
	{schemas.ReasonMalformedCSV, false, "three fields", func(_ *Generator, f *csvFields) { *f = (*f)[:3] }},
	{schemas.ReasonMissingField, true, "empty user", func(_ *Generator, f *csvFields) { (*f)[0] = "" }},
	{schemas.ReasonScoreNotInteger, true, "score is a fraction", func(_ *Generator, f *csvFields) { (*f)[2] += ".5" }},
	{schemas.ReasonScoreOutOfRange, true, "score is negative", func(_ *Generator, f *csvFields) { (*f)[2] = "-" + (*f)[2] }},
	{schemas.ReasonEventTimeUnparseable, false, "timestamp_ms is RFC 3339", func(_ *Generator, f *csvFields) {
		ms, _ := strconv.ParseInt((*f)[3], 10, 64)
		(*f)[3] = time.UnixMilli(ms).UTC().Format(time.RFC3339)
	}},
	{schemas.ReasonEventTimeTooOld, false, "timestamp before 2000", func(g *Generator, f *csvFields) {
		t := g.tooOld()
		(*f)[3] = strconv.FormatInt(t.UnixMilli(), 10)
		(*f)[4] = t.Format(csvReadableLayout)
	}},
	{schemas.ReasonFieldTooLong, true, "user longer than 128 bytes", func(g *Generator, f *csvFields) { (*f)[0] = g.tooLong((*f)[0]) }},
	{schemas.ReasonInvalidUTF8, true, "user is not UTF-8", func(_ *Generator, f *csvFields) { (*f)[0] += "\xff\xfe" }},
	{schemas.ReasonMalformedCSV, false, "six fields", func(_ *Generator, f *csvFields) { *f = append(*f, "extra") }},
	{schemas.ReasonMissingField, true, "empty team", func(_ *Generator, f *csvFields) { (*f)[1] = "" }},
	{schemas.ReasonScoreOutOfRange, true, "score overflows int64", func(_ *Generator, f *csvFields) { (*f)[2] = "99999999999999999999" }},
	{schemas.ReasonScoreNotInteger, true, "score is a word", func(_ *Generator, f *csvFields) { (*f)[2] = "lots" }},
}

// InvalidVariants describes the invalid lines of a format in the order
// they are used: "reason: what".
func InvalidVariants(format string) []string {
	var out []string
	switch format {
	case FormatJSON:
		for _, v := range jsonInvalid {
			out = append(out, string(v.reason)+": "+v.what)
		}
	case FormatCSV:
		for _, v := range csvInvalid {
			out = append(out, string(v.reason)+": "+v.what)
		}
	}
	return out
}

func (g *Generator) invalid(seq, arrivalMs int64) Record {
	e := g.drawEvent(arrivalMs)
	n := g.invalidSeen
	g.invalidSeen++
	var (
		line   []byte
		reason schemas.Reason
		usable bool
	)
	if g.cfg.Format == FormatCSV {
		v := csvInvalid[n%int64(len(csvInvalid))]
		valid := g.appendCSV(nil, seq, e)
		f := csvFields(strings.Split(string(valid), ","))
		v.apply(g, &f)
		line, reason, usable = f.appendTo(make([]byte, 0, len(valid)+64)), v.reason, v.usableTime
	} else {
		v := jsonInvalid[n%int64(len(jsonInvalid))]
		valid := g.appendJSON(nil, g.eventID(seq), e)
		reason, usable = v.reason, v.usableTime
		switch v.apply {
		case nil:
			if v.what == "line cut short" {
				// Cut in the second half of the object, before its
				// closing brace, as a lost connection would.
				half := len(valid) / 2
				line = bytes.Clone(valid[:half+g.rng.IntN(len(valid)-1-half)])
			} else {
				line = append(bytes.Clone(valid), '}')
			}
		default:
			var f jsonFields
			f.eventID = quote(g.eventID(seq))
			f.user = quote(string(appendUserName(nil, e.user, g.teamNames[e.team])))
			f.team = quote(g.teamNames[e.team])
			f.score = strconv.FormatInt(e.score, 10)
			f.eventTime = quote(time.UnixMilli(e.eventMs).UTC().Format(time.RFC3339Nano))
			if e.platform != "" {
				f.platform = quote(e.platform)
			}
			f.schemaVersion = strconv.Itoa(schemas.CurrentSchemaVersion)
			v.apply(g, &f)
			line = f.appendTo(make([]byte, 0, len(valid)+64))
		}
	}
	r := Record{Line: line, Kind: KindInvalid, Reason: reason}
	if usable {
		r.EventTime = time.UnixMilli(e.eventMs).UTC()
	}
	return r
}
