package transforms

import (
	"fmt"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/railyard-dev/railyard/schemas"
)

func TestMain(m *testing.M) {
	// DedupeStream is stateful. runners.PrismNoSplitExperiment says why
	// prism must not split its bundles; runners cannot be imported here
	// (it imports this package through the Pub/Sub source).
	*jobopts.Experiments = "prism_disable_sdf_split"
	ptest.MainWithDefault(m, "prism")
}

func init() {
	register.Function1x1(deadKey)
	register.Function1x1(deadSourceReason)
	register.Function2x1(timestampAndID)
}

func deadSourceReason(d schemas.DeadLetter) string { return d.Source + " " + d.Reason }

func timestampAndID(ts beam.EventTime, e schemas.GameEvent) string {
	return ts.ToTime().UTC().Format(time.RFC3339) + " " + e.EventID
}

var now = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func jsonLine(id, user string, score int64, at string) []byte {
	return []byte(fmt.Sprintf(`{"event_id":%q,"user":%q,"team":"red","score":%d,"event_time":%q}`, id, user, score, at))
}

func event(id, user string, score int64, at string) schemas.GameEvent {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	return schemas.GameEvent{EventID: id, User: user, Team: "red", Score: score, EventTime: t, SchemaVersion: 1}
}

// deadKey reduces a dead letter to what the tests compare.
func deadKey(d schemas.DeadLetter) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s", d.Pipeline, d.RunID, d.Stage, d.Reason, d.Source, d.Payload, d.Attributes, d.Time.Format(time.RFC3339))
}

func TestParse(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	raws := beam.Create(s,
		Raw{Source: "f:0", Payload: jsonLine("e1", "alice", 5, "2026-11-01T10:00:00Z")},
		Raw{Source: "f:90", Payload: []byte(`{"event_id":"e2",`)},
		Raw{Source: "f:120", Payload: jsonLine("e3", "bob", 2_000_000, "2026-11-01T10:00:00Z"), Attributes: map[string]string{"k": "v"}},
		Raw{Source: "f:200", Payload: []byte("carol,red,7,1761991200000,x")},
		Raw{Source: "f:240", Payload: jsonLine("e5", "dave", 1, "2026-11-02T01:00:01Z")},
	)
	events, dead := Parse(s, raws, ParseOptions{Pipeline: "batch", RunID: "r1", Now: now})
	passert.Equals(s, events,
		event("e1", "alice", 5, "2026-11-01T10:00:00Z"),
		schemas.GameEvent{EventID: schemas.CSVEventID([]byte("carol,red,7,1761991200000,x")), User: "carol", Team: "red", Score: 7, EventTime: time.UnixMilli(1761991200000).UTC(), SchemaVersion: 1},
	)
	passert.Equals(s, beam.ParDo(s, deadKey, dead),
		`batch|r1|parse|malformed_json|f:90|{"event_id":"e2",|{}|2026-11-02T00:00:00Z`,
		`batch|r1|parse|score_out_of_range|f:120|`+string(jsonLine("e3", "bob", 2_000_000, "2026-11-01T10:00:00Z"))+`|{"k":"v"}|2026-11-02T00:00:00Z`,
		`batch|r1|parse|event_time_in_future|f:240|`+string(jsonLine("e5", "dave", 1, "2026-11-02T01:00:01Z"))+`|{}|2026-11-02T00:00:00Z`,
	)
	ptest.RunAndValidate(t, p)
}

func TestDedupeKeepsSmallestCopy(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	a := event("e1", "alice", 5, "2026-11-01T10:00:00Z")
	b := a
	b.Score = 4 // differs: `"score":4` sorts before `"score":5`
	c := event("e2", "bob", 1, "2026-11-01T11:00:00Z")
	d := event("e3", "carol", 2, "2026-11-01T12:00:00Z")
	in := beam.Create(s, a, c, b, c, c, a, d)
	passert.Equals(s, Dedupe(s, in), b, c, d)
	ptest.RunAndValidate(t, p)
}

func TestParseDateRangeAndLakeDateCounters(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	raws := beam.Create(s,
		Raw{Source: "lake/game_events/dt=2026-11-01/hr=00/a.gz:0", Payload: jsonLine("before", "u", 1, "2026-10-31T23:59:59Z")},
		Raw{Source: "lake/game_events/dt=2026-11-01/hr=00/a.gz:80", Payload: jsonLine("first", "u", 1, "2026-11-01T00:00:00Z")},
		Raw{Source: "lake/game_events/dt=2026-11-02/hr=23/b.gz:0", Payload: jsonLine("last", "u", 1, "2026-11-02T23:59:59Z")},
		Raw{Source: "lake/game_events/dt=2026-11-02/hr=23/b.gz:80", Payload: jsonLine("after", "u", 1, "2026-11-03T00:00:00Z")},
	)
	events, dead := Parse(s, raws, ParseOptions{
		Pipeline: "batch", RunID: "r1", Now: time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), CountLakeDates: true,
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
	})
	passert.Equals(s, events, event("first", "u", 1, "2026-11-01T00:00:00Z"), event("last", "u", 1, "2026-11-02T23:59:59Z"))
	passert.Equals(s, beam.ParDo(s, deadSourceReason, dead),
		"lake/game_events/dt=2026-11-01/hr=00/a.gz:0 outside_partition", "lake/game_events/dt=2026-11-02/hr=23/b.gz:80 outside_partition")
	pr, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range pr.Metrics().AllMetrics().Counters() {
		got[c.Key.Name] += c.Committed
	}
	for name, want := range map[string]int64{
		MetricRead: 4, MetricValid: 2, MetricInvalid: 2, MetricInvalidPrefix + ReasonOutsideRange: 2,
		MetricLakeDateLines + "2026-11-01": 2, MetricLakeDateLines + "2026-11-02": 2,
		MetricLakeDateDeadLetters + "2026-11-01": 1, MetricLakeDateDeadLetters + "2026-11-02": 1,
	} {
		if got[name] != want {
			t.Errorf("counter %s = %d, want %d (all: %v)", name, got[name], want, got)
		}
	}
}

func TestWithEventTime(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	in := beam.Create(s, event("e1", "u", 1, "2026-11-01T10:00:00Z"))
	stamped := WithEventTime(s, in)
	passert.Equals(s, beam.ParDo(s, timestampAndID, stamped), "2026-11-01T10:00:00Z e1")
	ptest.RunAndValidate(t, p)
}
