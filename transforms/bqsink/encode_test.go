package bqsink

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/schemas"
)

func TestEncode(t *testing.T) {
	var e rowEncoder
	ts := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	values, js, err := e.encode(schemas.TeamScore{Team: "red", Score: 5, Events: 2, WindowStart: ts, WindowEnd: ts.Add(time.Hour),
		Timing: "ON_TIME", PaneIndex: 0, IsLast: true, ProcessingTime: ts.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"events":2,"is_last":true,"pane_index":0,"processing_time":"2026-11-01T11:00:00Z","score":5,"team":"red",` +
		`"timing":"ON_TIME","window_end":"2026-11-01T11:00:00Z","window_start":"2026-11-01T10:00:00Z"}`
	if string(js) != want {
		t.Errorf("JSON:\n got %s\nwant %s", js, want)
	}
	if p, ok := partitionOf(values["window_start"]); !ok || p != "2026-11-01" {
		t.Errorf("partition of window_start = %q, %v", p, ok)
	}
	values, js, err = e.encode(&schemas.DeadLetter{Time: ts, Payload: []byte{0, 1, 0xff}, Attributes: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"payload":"AAH/"`) { // BYTES are base64, as insertAll wants them
		t.Errorf("DeadLetter JSON: %s", js)
	}
	if p, _ := partitionOf(values["time"]); p != "2026-11-01" {
		t.Errorf("partition of time = %q", p)
	}
	if _, _, err := e.encode(struct{ C chan int }{}); err == nil {
		t.Error("a struct with a channel encoded without error")
	}
	if _, _, err := e.encode(nil); err == nil {
		t.Error("nil encoded without error")
	}
}

func TestPartitionOf(t *testing.T) {
	d := civil.Date{Year: 2026, Month: 11, Day: 1}
	east := time.FixedZone("UTC+5", 5*3600)
	for _, c := range []struct {
		v    bigquery.Value
		want string
		ok   bool
	}{
		{d, "2026-11-01", true},
		{civil.Date{}, "", false},
		{bigquery.NullDate{Date: d, Valid: true}, "2026-11-01", true},
		{bigquery.NullDate{}, "", false},
		{time.Date(2026, 11, 2, 3, 0, 0, 0, east), "2026-11-01", true}, // UTC date
		{time.Time{}, "", false},
		{bigquery.NullTimestamp{}, "", false},
		{civil.DateTime{Date: d, Time: civil.Time{Hour: 23}}, "2026-11-01", true},
		{"2026-11-01", "", false},
		{nil, "", false},
	} {
		got, ok := partitionOf(c.v)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("partitionOf(%#v) = %q, %v; want %q, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestRowIDs(t *testing.T) {
	a := contentID("batch.t", []byte(`{"a":1}`))
	if a != contentID("batch.t", []byte(`{"a":1}`)) || len(a) != 32 {
		t.Errorf("contentID not deterministic or not 32 hex digits: %q", a)
	}
	if a == contentID("batch.u", []byte(`{"a":1}`)) || a == contentID("batch.t", []byte(`{"a":2}`)) {
		t.Error("contentID ignores the table or the row")
	}
	seen := map[int]bool{}
	for i := range 200 {
		s := shardOf(contentID("t", []byte{byte(i)}), 8)
		if s < 0 || s >= 8 {
			t.Fatalf("shard %d out of range", s)
		}
		seen[s] = true
	}
	if len(seen) != 8 {
		t.Errorf("200 rows used %d of 8 shards", len(seen))
	}
}

func TestInsertID(t *testing.T) {
	id := InsertID("realtime.team_scores", "red", "2026-11-01T10:00:00Z", "3")
	if id != InsertID("realtime.team_scores", "red", "2026-11-01T10:00:00Z", "3") {
		t.Error("InsertID is not deterministic")
	}
	if len(id) != 64 {
		t.Errorf("len(InsertID) = %d, want 64 (BigQuery allows 128)", len(id))
	}
	if InsertID("ab", "c") == InsertID("a", "bc") || InsertID("a", "") == InsertID("a") {
		t.Error("InsertID parts are not delimited")
	}
	if id == InsertID("realtime.team_scores", "red", "2026-11-01T10:00:00Z", "4") {
		t.Error("InsertID ignores a part")
	}
}

func TestDeadLetterInsertID(t *testing.T) {
	d := schemas.DeadLetter{Time: time.Unix(1, 0), Pipeline: "batch", RunID: "r1", Stage: "parse", Reason: "malformed_json",
		Detail: "unexpected end", Source: "gs://lake/a.jsonl.gz:10", Payload: []byte("{"), Attributes: "{}"}
	id, same := DeadLetterInsertID(d)
	if same.Source != d.Source || same.Time != d.Time {
		t.Error("DeadLetterInsertID changed the dead letter")
	}
	retried := d
	retried.Time = time.Unix(99, 0) // rejected again, later, by a retried bundle
	retried.Detail = "unexpected end of JSON input"
	if id2, _ := DeadLetterInsertID(retried); id2 != id {
		t.Error("the ID depends on Time or Detail")
	}
	other := d
	other.Source = "gs://lake/a.jsonl.gz:11"
	if id3, _ := DeadLetterInsertID(other); id3 == id {
		t.Error("the ID ignores Source")
	}
	other = d
	other.Payload = []byte("[")
	if id4, _ := DeadLetterInsertID(other); id4 == id {
		t.Error("the ID ignores Payload")
	}
}
