package transforms

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/railyard-dev/railyard/schemas"
)

// refUnique is the obvious implementation UniqueEvents must match.
func refUnique(events []schemas.GameEvent) (map[string]schemas.GameEvent, int64) {
	kept := map[string]schemas.GameEvent{}
	for _, e := range events {
		if k, ok := kept[e.EventID]; ok {
			kept[e.EventID] = KeptCopy(k, e)
			continue
		}
		kept[e.EventID] = e
	}
	return kept, int64(len(events) - len(kept))
}

func checkUnique(t *testing.T, what string, u *UniqueEvents, events []schemas.GameEvent) {
	t.Helper()
	want, dups := refUnique(events)
	var order []string
	for _, e := range events {
		if !slices.Contains(order, e.EventID) && len(order) < 50 {
			order = append(order, e.EventID)
		}
	}
	got := map[string]schemas.GameEvent{}
	var gotOrder []string
	for e := range u.All() {
		if _, dup := got[e.EventID]; dup {
			t.Fatalf("%s: %s yielded twice", what, e.EventID)
		}
		got[e.EventID] = e
		if len(gotOrder) < 50 {
			gotOrder = append(gotOrder, e.EventID)
		}
	}
	if u.Unique() != int64(len(want)) || u.Duplicates() != dups || len(got) != len(want) {
		t.Fatalf("%s: unique %d, duplicates %d, yielded %d; want %d, %d", what, u.Unique(), u.Duplicates(), len(got), len(want), dups)
	}
	for id, w := range want {
		g := got[id]
		// Same event, same instant; UniqueEvents hands times back in UTC.
		if g.EventTime.Location() != time.UTC || !g.EventTime.Equal(w.EventTime) || string(g.MarshalLine()) != string(w.MarshalLine()) {
			t.Fatalf("%s: kept %+v, want %+v", what, g, w)
		}
	}
	if !reflect.DeepEqual(gotOrder, order) {
		t.Fatalf("%s: order %v, want first-added order %v", what, gotOrder[:5], order[:5])
	}
}

func TestUniqueEventsKeepsDedupesCopy(t *testing.T) {
	a := event("e1", "alice", 5, "2026-11-01T10:00:00Z")
	b := a
	b.Score = 4 // `"score":4` sorts before `"score":5`: b is kept
	c := event("e2", "bob", 1, "2026-11-01T11:00:00Z")
	c.Platform = "ios"
	d := c
	d.EventTime = c.EventTime.In(time.FixedZone("CET", 3600)) // the same event in another zone
	for _, order := range [][]schemas.GameEvent{{a, b, c, d, a}, {b, a, d, c, a}, {d, a, a, c, b}} {
		var u UniqueEvents
		for _, e := range order {
			u.Add(e)
		}
		checkUnique(t, fmt.Sprintf("order %v", order), &u, order)
		kept := slices.Collect(u.All())
		sort.Slice(kept, func(i, j int) bool { return kept[i].EventID < kept[j].EventID })
		if kept[0].Score != 4 || kept[1].Platform != "ios" {
			t.Errorf("kept %+v", kept)
		}
	}
}

// TestUniqueEventsMany: enough events to grow the table and fill several
// record and id chunks, with duplicates and conflicting copies, reused
// after Reset.
func TestUniqueEventsMany(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	makeEvents := func(n int) []schemas.GameEvent {
		var events []schemas.GameEvent
		for i := range n {
			e := schemas.GameEvent{
				EventID:   fmt.Sprintf("id-%08d-%032x", i, r.Uint64()),
				User:      fmt.Sprintf("user%d", r.IntN(300)),
				Team:      fmt.Sprintf("team%d", r.IntN(20)),
				Score:     r.Int64N(1000),
				EventTime: base.Add(time.Duration(r.Int64N(int64(time.Hour)))),
				Platform:  []string{"", "ios", "android"}[r.IntN(3)], SchemaVersion: 1,
			}
			events = append(events, e)
			switch r.IntN(20) {
			case 0: // an identical copy, later
				events = append(events, e)
			case 1: // a conflicting copy
				c := e
				c.Score = r.Int64N(1000)
				c.User = fmt.Sprintf("user%d", r.IntN(300))
				events = append(events, c)
			}
		}
		r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		return events
	}
	var u UniqueEvents
	for round, n := range []int{40_000, 3_000, 40_000} {
		u.Reset()
		events := makeEvents(n)
		for _, e := range events {
			u.Add(e)
		}
		checkUnique(t, fmt.Sprintf("round %d", round), &u, events)
	}
	if len(u.ids) < 2 || len(u.records) < 2 {
		t.Fatalf("the test did not fill several chunks: %d id chunks, %d record chunks", len(u.ids), len(u.records))
	}
}

// Outputs of TestLineParserAndParseCountsMatchParse's pipelines, by key.
var (
	parsedMu sync.Mutex
	parsed   = map[string][]string{}
)

func collectParsed(key, s string) {
	parsedMu.Lock()
	defer parsedMu.Unlock()
	parsed[key] = append(parsed[key], s)
}

type collectEventFn struct{ Key string }

func (fn *collectEventFn) ProcessElement(e schemas.GameEvent) {
	collectParsed(fn.Key, "event "+string(e.MarshalLine()))
}

type collectDeadFn struct{ Key string }

func (fn *collectDeadFn) ProcessElement(d schemas.DeadLetter) {
	collectParsed(fn.Key, "dead "+deadKey(d))
}

// lineParserFn parses its records with LineParser and counts them with
// ParseCounts in one call, as a DoFn that parses many lines per call does.
type lineParserFn struct {
	Parser LineParser
	Raws   []Raw
}

func (fn *lineParserFn) ProcessElement(ctx context.Context, _ []byte, emitEvent func(schemas.GameEvent), emitDead func(schemas.DeadLetter)) {
	counts := ParseCounts{CountLakeDates: true}
	for _, r := range fn.Raws {
		e, dead, ok := fn.Parser.Parse(r)
		if !ok {
			counts.Count(r.Source, dead.Reason)
			emitDead(dead)
			continue
		}
		counts.Count(r.Source, "")
		emitEvent(e)
	}
	counts.Flush(ctx)
}

func init() {
	register.DoFn1x0[schemas.GameEvent](&collectEventFn{})
	register.DoFn1x0[schemas.DeadLetter](&collectDeadFn{})
	register.DoFn4x0[context.Context, []byte, func(schemas.GameEvent), func(schemas.DeadLetter)](&lineParserFn{})
}

// TestLineParserAndParseCountsMatchParse: the same records through Parse
// and through LineParser + ParseCounts give the same events, dead letters
// and counters.
func TestLineParserAndParseCountsMatchParse(t *testing.T) {
	src := func(date string, hour, off int) string {
		return fmt.Sprintf("lake/game_events/dt=%s/hr=%02d/a.jsonl.gz:%d", date, hour, off)
	}
	raws := []Raw{
		Raw{Source: src("2026-11-01", 0, 0), Payload: jsonLine("in1", "u", 1, "2026-11-01T00:00:00Z")},
		Raw{Source: src("2026-11-01", 0, 90), Payload: jsonLine("before", "u", 1, "2026-10-31T23:59:59Z")},
		Raw{Source: src("2026-11-01", 5, 0), Payload: []byte(`{"event_id":"x",`), Attributes: map[string]string{"k": "v"}},
		Raw{Source: src("2026-11-01", 5, 40), Payload: jsonLine("big", "u", 2_000_000, "2026-11-01T05:00:00Z")},
		Raw{Source: src("2026-11-02", 23, 0), Payload: jsonLine("in2", "v", 3, "2026-11-02T23:59:59.999Z")},
		Raw{Source: src("2026-11-02", 23, 80), Payload: jsonLine("after", "v", 3, "2026-11-03T00:00:00Z")},
		Raw{Source: src("2026-11-02", 23, 160), Payload: []byte("carol,red,7,1793491200000,x")},
		Raw{Source: "projects/p/subscriptions/s/messages/1", Payload: []byte("   ")},
	}
	opts := ParseOptions{
		Pipeline: "batch", RunID: "r1", Now: time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), CountLakeDates: true,
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
	}
	runOne := func(name string, build func(s beam.Scope) (beam.PCollection, beam.PCollection)) ([]string, map[string]int64) {
		p, s := beam.NewPipelineWithRoot()
		events, dead := build(s)
		key := t.Name() + "/" + name
		beam.ParDo0(s, &collectEventFn{Key: key}, events)
		beam.ParDo0(s, &collectDeadFn{Key: key}, dead)
		res, err := ptest.RunWithMetrics(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		counters := map[string]int64{}
		for _, c := range res.Metrics().AllMetrics().Counters() {
			if c.Key.Namespace == MetricsNamespace {
				counters[c.Key.Name] += c.Committed
			}
		}
		parsedMu.Lock()
		defer parsedMu.Unlock()
		out := parsed[key]
		sort.Strings(out)
		return out, counters
	}
	wantOut, wantCounters := runOne("Parse", func(s beam.Scope) (beam.PCollection, beam.PCollection) {
		var in []any
		for _, r := range raws {
			in = append(in, r)
		}
		return Parse(s, beam.Create(s, in...), opts)
	})
	gotOut, gotCounters := runOne("LineParser", func(s beam.Scope) (beam.PCollection, beam.PCollection) {
		return beam.ParDo2(s, &lineParserFn{Parser: NewLineParser(opts), Raws: raws}, beam.Impulse(s))
	})
	if !reflect.DeepEqual(gotOut, wantOut) {
		t.Errorf("LineParser outputs:\n%s\nParse outputs:\n%s", gotOut, wantOut)
	}
	if !maps.Equal(gotCounters, wantCounters) {
		t.Errorf("ParseCounts counters %v, Parse counters %v", gotCounters, wantCounters)
	}
	// The records cover every kind of outcome.
	for name, n := range map[string]int64{
		MetricRead: 8, MetricValid: 3, MetricInvalid: 5, MetricInvalidPrefix + ReasonOutsideRange: 2,
		MetricInvalidPrefix + string(schemas.ReasonMalformedJSON): 1, MetricLakeDateLines + "2026-11-01": 4,
		MetricLakeDateDeadLetters + "2026-11-02": 1,
	} {
		if wantCounters[name] != n {
			t.Errorf("Parse counter %s = %d, want %d (all: %v)", name, wantCounters[name], n, wantCounters)
		}
	}
}
