package schemas

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestDecodeLineValid(t *testing.T) {
	tests := []struct {
		name string
		line string
		want GameEvent
	}{
		{
			name: "json minimal, schema_version defaults to 1",
			line: `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
			want: GameEvent{EventID: "e1", User: "alice", Team: "red", Score: 12, EventTime: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), SchemaVersion: 1},
		},
		{
			name: "json full with unknown field and offset time normalised to UTC",
			line: `{"event_id":"e2","user":"bob","team":"blue","score":0,"event_time":"2026-11-26T12:30:00.250+02:00","platform":"ios","schema_version":1,"extra":{"x":[1,2]}}`,
			want: GameEvent{EventID: "e2", User: "bob", Team: "blue", Score: 0, EventTime: time.Date(2026, 11, 26, 10, 30, 0, 250e6, time.UTC), Platform: "ios", SchemaVersion: 1},
		},
		{
			name: "json at the score limit and exactly one hour ahead",
			line: `{"event_id":"e3","user":"c","team":"t","score":1000000,"event_time":"2026-11-26T13:00:00Z"}`,
			want: GameEvent{EventID: "e3", User: "c", Team: "t", Score: 1000000, EventTime: time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC), SchemaVersion: 1},
		},
		{
			name: "csv from Beam's mobile gaming data",
			line: "user2_AmberCockatoo,AmberCockatoo,13,1447719060000,2015-11-16 16:11:03.921\n",
			want: GameEvent{EventID: CSVEventID([]byte("user2_AmberCockatoo,AmberCockatoo,13,1447719060000,2015-11-16 16:11:03.921")), User: "user2_AmberCockatoo", Team: "AmberCockatoo", Score: 13, EventTime: time.UnixMilli(1447719060000).UTC(), SchemaVersion: 1},
		},
		{
			name: "csv without readable time, CRLF",
			line: "u,t,5,1447719060000\r\n",
			want: GameEvent{EventID: CSVEventID([]byte("u,t,5,1447719060000")), User: "u", Team: "t", Score: 5, EventTime: time.UnixMilli(1447719060000).UTC(), SchemaVersion: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeLine([]byte(tc.line), testNow)
			if err != nil {
				t.Fatalf("DecodeLine: %v", err)
			}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeLineInvalid(t *testing.T) {
	long := strings.Repeat("x", MaxStringBytes+1)
	tests := []struct {
		name   string
		line   string
		reason Reason
		field  string
	}{
		{"truncated json", `{"event_id":"e1","user":`, ReasonMalformedJSON, ""},
		{"json array", `{"event_id":"e1"]`, ReasonMalformedJSON, ""},
		{"csv too few fields", `a,b,c`, ReasonMalformedCSV, ""},
		{"csv too many fields", `a,b,1,2,3,4`, ReasonMalformedCSV, ""},
		{"empty line", ``, ReasonMalformedCSV, ""},
		{"missing event_id", `{"user":"u","team":"t","score":1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonMissingField, "event_id"},
		{"empty event_id", `{"event_id":"","user":"u","team":"t","score":1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonMissingField, "event_id"},
		{"null user", `{"event_id":"e","user":null,"team":"t","score":1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonMissingField, "user"},
		{"empty team", `{"event_id":"e","user":"u","team":"","score":1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonMissingField, "team"},
		{"user not a string", `{"event_id":"e","user":7,"team":"t","score":1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonInvalidType, "user"},
		{"event_id too long", `{"event_id":"` + long + `","user":"u","team":"t","score":1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonFieldTooLong, "event_id"},
		{"team too long", `{"event_id":"e","user":"u","team":"` + long + `","score":1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonFieldTooLong, "team"},
		{"platform too long", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":"2026-11-26T10:00:00Z","platform":"` + long + `"}`, ReasonFieldTooLong, "platform"},
		{"csv user not utf-8", "u\xff,t,1,1447719060000,", ReasonInvalidUTF8, "user"},
		{"score missing", `{"event_id":"e","user":"u","team":"t","event_time":"2026-11-26T10:00:00Z"}`, ReasonMissingField, "score"},
		{"score float", `{"event_id":"e","user":"u","team":"t","score":1.5,"event_time":"2026-11-26T10:00:00Z"}`, ReasonScoreNotInteger, "score"},
		{"score string", `{"event_id":"e","user":"u","team":"t","score":"12","event_time":"2026-11-26T10:00:00Z"}`, ReasonScoreNotInteger, "score"},
		{"score negative", `{"event_id":"e","user":"u","team":"t","score":-1,"event_time":"2026-11-26T10:00:00Z"}`, ReasonScoreOutOfRange, "score"},
		{"score too high", `{"event_id":"e","user":"u","team":"t","score":1000001,"event_time":"2026-11-26T10:00:00Z"}`, ReasonScoreOutOfRange, "score"},
		{"score overflows int64", `{"event_id":"e","user":"u","team":"t","score":99999999999999999999,"event_time":"2026-11-26T10:00:00Z"}`, ReasonScoreOutOfRange, "score"},
		{"csv score not integer", `u,t,x1,1447719060000,`, ReasonScoreNotInteger, "score"},
		{"event_time missing", `{"event_id":"e","user":"u","team":"t","score":1}`, ReasonMissingField, "event_time"},
		{"event_time empty", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":""}`, ReasonMissingField, "event_time"},
		{"event_time not rfc3339", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":"26/11/2026 10:00"}`, ReasonEventTimeUnparseable, "event_time"},
		{"event_time a number", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":1764151200000}`, ReasonEventTimeUnparseable, "event_time"},
		{"csv timestamp not integer", `u,t,1,yesterday,`, ReasonEventTimeUnparseable, "event_time"},
		{"event_time before 2000", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":"1999-12-31T23:59:59Z"}`, ReasonEventTimeTooOld, "event_time"},
		{"event_time over an hour ahead", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":"2026-11-26T13:00:00.001Z"}`, ReasonEventTimeInFuture, "event_time"},
		{"unknown schema_version", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":"2026-11-26T10:00:00Z","schema_version":2}`, ReasonUnknownSchemaVersion, "schema_version"},
		{"schema_version not integer", `{"event_id":"e","user":"u","team":"t","score":1,"event_time":"2026-11-26T10:00:00Z","schema_version":"1"}`, ReasonUnknownSchemaVersion, "schema_version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeLine([]byte(tc.line), testNow)
			if err == nil {
				t.Fatalf("DecodeLine(%q) succeeded, want %s", tc.line, tc.reason)
			}
			ve, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("error %v is a %T, want *ValidationError", err, err)
			}
			if ve.Reason != tc.reason || ve.Field != tc.field {
				t.Fatalf("got reason %q field %q (%v), want %q field %q", ve.Reason, ve.Field, err, tc.reason, tc.field)
			}
			if ve.Detail == "" {
				t.Fatalf("error %v has no detail", err)
			}
			if ReasonOf(err) != tc.reason {
				t.Fatalf("ReasonOf = %q", ReasonOf(err))
			}
		})
	}
}

func TestCSVEventIDIsStable(t *testing.T) {
	a := CSVEventID([]byte("u,t,1,1447719060000,x\n"))
	b := CSVEventID([]byte("u,t,1,1447719060000,x"))
	c := CSVEventID([]byte("u,t,2,1447719060000,x"))
	if a != b || a == c || !strings.HasPrefix(a, "csv-") || len(a) != 4+32 {
		t.Fatalf("ids a=%s b=%s c=%s", a, b, c)
	}
}

func TestMarshalLineRoundTrips(t *testing.T) {
	e := GameEvent{EventID: "e", User: "u", Team: "t", Score: 3, EventTime: time.Date(2026, 11, 26, 10, 0, 0, 5, time.FixedZone("x", 3600)), Platform: "android", SchemaVersion: 1}
	line := e.MarshalLine()
	if bytes.ContainsRune(line, '\n') {
		t.Fatalf("line contains newline: %s", line)
	}
	got, err := DecodeLine(line, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := e
	want.EventTime = e.EventTime.UTC()
	if got != want {
		t.Fatalf("round trip: got %+v want %+v", got, want)
	}
}
