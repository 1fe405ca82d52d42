package duckviews

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/reference"
	"github.com/railyard-dev/railyard/schemas"
)

var (
	day1 = civil.Date{Year: 2026, Month: 11, Day: 1}
	day2 = civil.Date{Year: 2026, Month: 11, Day: 2}
	day3 = civil.Date{Year: 2026, Month: 11, Day: 3}
)

func writeGz(t testing.TB, path string, lines []string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range lines {
		zw.Write([]byte(l + "\n"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func generate(t testing.TB, root string, cfg gen.Config) {
	t.Helper()
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WriteLake(context.Background(), g, root, gen.LakeOptions{EventsPerFile: 5000}, nil); err != nil {
		t.Fatal(err)
	}
}

func ev(id, user, team string, score int, eventTime string) string {
	return fmt.Sprintf(`{"event_id":%q,"user":%q,"team":%q,"score":%d,"event_time":%q}`, id, user, team, score, eventTime)
}

// extraLines are hand-made lines for a day-2 partition: the cases a
// generated lake lacks.
var extraLines = []string{
	// Differing copies of one id: MarshalLine order decides.
	ev("c-score", "hand1", "Hand", 5, "2026-11-02T10:00:00Z"),
	ev("c-score", "hand1", "Hand", 40, "2026-11-02T10:00:00Z"), // kept: "40" < "5"
	ev("c-esc", "hand<", "Hand", 1, "2026-11-02T10:01:00Z"),
	ev("c-esc", "hand=", "Hand", 2, "2026-11-02T10:01:00Z"), // kept: \u003c sorts after '='
	ev("c-ns", "hand2", "Hand", 1, "2026-11-02T10:02:00.1Z"),
	ev("c-ns", "hand2", "Hand", 2, "2026-11-02T10:02:00.09Z"), // kept
	`{"event_id":"c-pf","user":"hand3","team":"Hand","score":3,"event_time":"2026-11-02T10:03:00Z","platform":"ios"}`,
	ev("c-pf", "hand3", "Hand", 3, "2026-11-02T10:03:00Z"),
	ev("c-day", "hand4", "Hand", 4, "2026-11-03T00:00:00Z"),
	ev("c-day", "hand4", "Hand", 4, "2026-11-01T23:59:59Z"), // kept: day 1
	// Outside the partition's date, and a duplicate of it.
	ev("o-1", "hand5", "Hand", 6, "2026-10-31T23:00:00Z"),
	ev("o-1", "hand5", "Hand", 6, "2026-10-31T23:00:00Z"),
	ev("o-2", "hand5", "Hand", 7, "2026-11-03T10:00:00+00:00"), // outside a day-2 run only
	// Sessions: 4m59s apart merge, 5m apart do not, same instant, and one
	// crossing midnight into day 3.
	ev("s-1", "sess", "Hand", 1, "2026-11-02T12:00:00Z"),
	ev("s-2", "sess", "Hand", 1, "2026-11-02T12:04:59Z"),
	ev("s-3", "sess", "Hand", 1, "2026-11-02T12:09:59Z"),
	ev("s-4", "sess", "Hand", 1, "2026-11-02T12:09:59Z"),
	ev("s-5", "sess", "Hand", 1, "2026-11-02T12:14:58.999999999Z"),
	ev("s-6", "sess", "Hand", 1, "2026-11-02T23:58:00Z"),
	ev("s-7", "sess", "Hand", 1, "2026-11-03T00:02:00Z"),
	// Blank lines, CSV lines, odd but valid JSON.
	"",
	"hand6,Hand,9,1793664000000,2026-11-02 10:40:00.000",
	"  hand6 , Hand ,+10, 1793664060000 ",
	" \t{\"event_id\":\"ws\",\"user\":\"hand7\",\"team\":\"Hand\",\"score\":1,\"event_time\":\"2026-11-02T10:05:00,5+01:00\",\"extra\":[1,{}],\"platform\":null,\"schema_version\":1}\u00a0",
	`{"event_id":"esc","user":"h\u00e9\"\\","team":"Hand","score":0,"event_time":"2026-11-02T1:05:00Z"}`,
	// Invalid lines.
	`{"event_id":"bad1","user":"x","team":"Hand","score":1,"event_time":"2026-11-02T10:00:00Z",}`,
	`{"event_id":"bad2","user":"x","team":"Hand","score":NaN,"event_time":"2026-11-02T10:00:00Z"}`,
	`{"event_id":"bad3","user":"x","team":"Hand","score":99999999999999999999,"event_time":"2026-11-02T10:00:00Z"}`,
	`{"event_id":"bad4","user":"x","team":"Hand","score":1e2,"event_time":"2026-11-02T10:00:00Z"}`,
	`{"event_id":"bad5","user":"x","team":"Hand","score":1,"event_time":"2026-02-29T10:00:00Z"}`,
	`{"event_id":"bad6","user":"x","team":"Hand","score":1,"event_time":"2026-11-02T10:00:00Z","schema_version":"1"}`,
	`{"event_id":"bad7","user":"x","team":"Hand","score":1,"event_time":"0001-01-01T00:00:00Z"}`,
	`{"event_id":"bad8","user":"x","team":"Hand","score":1,"event_time":"2026-11-02T10:00:00Z","platform":true}`,
	"hand8,Hand,1_000,1793664000000",
	"hand8,Hand,1,1793664000000,x,y",
	"hand8,Hand,1,0x10",
	"\xff\xfe,Hand,1,1793664000000",
}

// quietLines go to 2026-11-01 03:00-05:00, hours the generated lake (which
// starts at 12:00) leaves empty: spammer boundaries. At 03:00 users score
// 1, 1, 1, 5: the last is exactly 2.5 × the mean (8/4), not a spammer; at
// 04:00 1, 1, 1, 6: 6 > 2.5 × 9/4, a spammer.
var quietLines = []string{
	ev("b-1", "bnd1", "Hand", 1, "2026-11-01T03:00:00Z"),
	ev("b-2", "bnd2", "Hand", 1, "2026-11-01T03:10:00Z"),
	ev("b-3", "bnd3", "Other", 1, "2026-11-01T03:20:00Z"),
	ev("b-4", "bnd4", "Hand", 2, "2026-11-01T03:30:00Z"),
	ev("b-5", "bnd4", "Other", 3, "2026-11-01T03:40:00Z"),
	ev("b-6", "bnd1", "Hand", 1, "2026-11-01T04:00:00Z"),
	ev("b-7", "bnd2", "Hand", 1, "2026-11-01T04:10:00Z"),
	ev("b-8", "bnd3", "Other", 1, "2026-11-01T04:20:00Z"),
	ev("b-9", "bnd4", "Hand", 6, "2026-11-01T04:30:00Z"),
}

// lake builds the comparison lake: a generated JSON lake over three
// dates, a generated CSV lake beside it, and the hand-made lines.
func lake(t testing.TB) (root string, now time.Time) {
	root = t.TempDir()
	cfg := gen.DefaultConfig()
	cfg.Events = 40_000
	cfg.Seed = 7
	cfg.Start = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cfg.Hours = 48
	cfg.Users = 60
	generate(t, root, cfg)
	csv := cfg
	csv.Events, csv.Seed, csv.Format, csv.InvalidRate = 4_000, 8, gen.FormatCSV, 0.05
	generate(t, root, csv)
	writeGz(t, filepath.Join(root, "game_events", "dt=2026-11-02", "hr=10", "hand-00000.jsonl.gz"), extraLines)
	writeGz(t, filepath.Join(root, "game_events", "dt=2026-11-01", "hr=03", "hand-00000.jsonl.gz"), quietLines)
	return root, cfg.End()
}

func TestMatchesReference(t *testing.T) {
	root, now := lake(t)
	ctx := context.Background()
	for _, r := range []struct{ from, to civil.Date }{{day1, day3}, {day2, day2}} {
		t.Run(fmt.Sprintf("%v..%v", r.from, r.to), func(t *testing.T) {
			want, err := reference.Options{Workers: 1}.Compute(ctx, root, r.from, r.to, now)
			if err != nil {
				t.Fatal(err)
			}
			got, tm, err := Options{Threads: 2}.Compute(ctx, root, r.from, r.to, now)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("duckdb %v (parse %v, dedupe %v, views %v); counts:\n%s", tm.Total, tm.Parse, tm.Dedupe, tm.Views, got.Counts)
			if err := got.Counts.Check(); err != nil {
				t.Error(err)
			}
			compare(t, got, want)
			c := got.Counts
			if c.ConflictingIDs < 5 || c.OutsidePartition < 1 || c.BlankLines < 1 || c.InvalidByReason[schemas.ReasonInvalidUTF8] == 0 {
				t.Errorf("the lake lacks the cases it was built for: %+v", c)
			}
		})
	}
}

// compare checks that DuckDB's result equals the reference's, mean session
// minutes within 1e-9.
func compare(t *testing.T, got, want reference.Result) {
	t.Helper()
	if !reflect.DeepEqual(got.Counts, want.Counts) {
		t.Errorf("counts differ:\nduckdb    %+v\nreference %+v", got.Counts, want.Counts)
	}
	diffRows(t, "user_scores_daily", got.UserScoresDaily, want.UserScoresDaily, func(a, b schemas.UserScoreDaily) bool { return a == b })
	diffRows(t, "team_scores_hourly", got.TeamScoresHourly, want.TeamScoresHourly, func(a, b schemas.TeamScore) bool {
		return a.Team == b.Team && a.Score == b.Score && a.Events == b.Events && a.WindowStart.Equal(b.WindowStart) &&
			a.WindowEnd.Equal(b.WindowEnd) && a.Timing == b.Timing && a.PaneIndex == b.PaneIndex && a.IsLast == b.IsLast &&
			a.ProcessingTime.Equal(b.ProcessingTime)
	})
	diffRows(t, "game_stats_daily", got.GameStatsDaily, want.GameStatsDaily, func(a, b schemas.GameStatsDaily) bool {
		mean := a.MeanSessionMinutes
		a.MeanSessionMinutes = b.MeanSessionMinutes
		return a == b && math.Abs(mean-b.MeanSessionMinutes) <= 1e-9
	})
}

func diffRows[T any](t *testing.T, view string, got, want []T, eq func(a, b T) bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows from duckdb, %d from the reference", view, len(got), len(want))
	}
	bad := 0
	for i := range min(len(got), len(want)) {
		if !eq(got[i], want[i]) {
			if bad++; bad <= 5 {
				t.Errorf("%s row %d:\nduckdb    %+v\nreference %+v", view, i, got[i], want[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d rows differ", view, bad)
	}
}

// conn is a DuckDB connection set up like Compute's.
func conn(t *testing.T) *sql.Conn {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := (Options{Threads: 1}).setup(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// decoded is what one line decodes to: a reason, or the event.
type decoded struct {
	Reason string
	Event  schemas.GameEvent
}

// classify runs the parse SQL over one line.
func classify(t *testing.T, c *sql.Conn, dir, line string, now time.Time) decoded {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "line.jsonl.gz")
	writeGz(t, path, []string{line})
	limit := now.Add(schemas.MaxClockSkew)
	if _, err := c.ExecContext(ctx, parseSQL([]string{path}), limit.Unix(), int64(limit.Nanosecond())); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	var d decoded
	var rejected sql.NullString
	if err := c.QueryRowContext(ctx, `SELECT max(error_type) FROM ry_rejects`).Scan(&rejected); err != nil {
		t.Fatal(err)
	}
	if rejected.Valid {
		d.Reason = "rejected: " + rejected.String
		return d
	}
	var (
		reason, id, user, team, platform sql.NullString
		score, secs, ns, sv              sql.NullInt64
	)
	err := c.QueryRowContext(ctx, `SELECT reason, event_id, "user", team, score, secs, ns, platform, sv FROM ry_parsed WHERE NOT blank`).
		Scan(&reason, &id, &user, &team, &score, &secs, &ns, &platform, &sv)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if reason.Valid {
		d.Reason = reason.String
		return d
	}
	d.Event = schemas.GameEvent{
		EventID: id.String, User: user.String, Team: team.String, Score: score.Int64,
		EventTime: time.Unix(secs.Int64, ns.Int64).UTC(), Platform: platform.String, SchemaVersion: sv.Int64,
	}
	return d
}

func TestClassificationMatchesDecodeLine(t *testing.T) {
	now := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	base := func(kv string) string {
		return `{"event_id":"e","user":"u","team":"t","score":1,"event_time":"2026-11-01T10:00:00Z"` + kv + `}`
	}
	withTime := func(ts string) string { return ev("e", "u", "t", 1, ts) }
	withScore := func(s string) string {
		return `{"event_id":"e","user":"u","team":"t","score":` + s + `,"event_time":"2026-11-01T10:00:00Z"}`
	}
	lines := []string{
		base(""), base(`,"platform":"android","schema_version":1`), base(`,"extra":{"a":[1,2,null]}`),
		base(`,"platform":null,"schema_version":null`), base(`,"schema_version":2`), base(`,"schema_version":1.0`),
		base(`,"schema_version":"1"`), base(`,"schema_version":99999999999999999999`), base(`,"platform":7`),
		base(`,"platform":"` + strings.Repeat("p", 129) + `"`), base(`,"platform":"` + strings.Repeat("é", 64) + `"`),
		base(`,"platform":"` + strings.Repeat("é", 65) + `"`), base(`,`), base(` `), base(`,"x":Infinity`), base(`,"x":"NaN,]"`),
		`{"event_id":"e"`, `{"event_id":"e"} x`, `{}`, `{"event_id":null}`, `{"event_id":1}`, `{"event_id":"","user":"u","team":"t","score":1,"event_time":"2026-11-01T10:00:00Z"}`,
		`{"event_id":"e","user":"","team":"t","score":1,"event_time":"x"}`, `{"event_id":"e","user":["u"]}`, `{"event_id":"e","user":"u","team":{}}`,
		`{"event_id":"e","user":"u","team":"t"}`, `{"event_id":"e","user":"u","team":"t","score":null}`,
		withScore(`"1"`), withScore(`true`), withScore(`[1]`), withScore(`1.0`), withScore(`1e2`), withScore(`-1`), withScore(`-0`),
		withScore(`1000000`), withScore(`1000001`), withScore(`9223372036854775807`), withScore(`9223372036854775808`),
		withScore(`-9223372036854775809`), withScore(`1e400`),
		`{"event_id":"e","user":"u","team":"t","score":1}`, `{"event_id":"e","user":"u","team":"t","score":1,"event_time":null}`,
		`{"event_id":"e","user":"u","team":"t","score":1,"event_time":1793527200000}`,
		withTime(""), withTime("2026-11-01T10:00:00.123456789Z"), withTime("2026-11-01T10:00:00.1234567891234Z"),
		withTime("2026-11-01T3:04:05Z"), withTime("2026-11-01T03:04:05,5Z"), withTime("2026-11-01T03:04:05.Z"),
		withTime("2026-11-01t03:04:05Z"), withTime("2026-11-01T03:04:05z"), withTime("2026-11-01T03:04:05+24:00"),
		withTime("2026-11-01T03:04:05+01:60"), withTime("2026-11-01T03:04:05+25:00"), withTime("2026-11-01T03:04:05-23:59"),
		withTime("2026-11-01T03:04:05+0100"), withTime("2026-11-01T03:04:05"), withTime("2026-11-01 03:04:05Z"),
		withTime("2026-11-01T24:00:00Z"), withTime("2026-11-01T03:60:00Z"), withTime("2026-11-01T03:04:60Z"),
		withTime("2026-02-29T03:04:05Z"), withTime("2024-02-29T03:04:05Z"), withTime("2026-13-01T03:04:05Z"),
		withTime("2026-11-01T03:04:05Z "), withTime("01/11/2026 10:00:00"), withTime("1999-12-31T23:59:59.999999999Z"),
		withTime("2000-01-01T00:00:00Z"), withTime("2000-01-01T01:00:00+01:00"), withTime("0001-01-01T00:00:00Z"),
		withTime("0001-01-01T01:00:00+01:00"), withTime("2026-11-10T01:00:00Z"), withTime("2026-11-10T01:00:00.000000001Z"),
		withTime("2026-11-10T02:00:00+01:00"),
		ev(strings.Repeat("i", 128), "u", "t", 1, "2026-11-01T10:00:00Z"), ev(strings.Repeat("i", 129), "u", "t", 1, "2026-11-01T10:00:00Z"),
		ev("e", "u", strings.Repeat("t", 129), 1, "2026-11-01T10:00:00Z"), ev("e", "<&>\u2028\t\x01", "t", 1, "2026-11-01T10:00:00Z"),
		`{"event_id":"e","user":"\u00e9\ud83d\ude00\"\\\/","team":"t","score":1,"event_time":"2026-11-01T10:00:00Z"}`,
		"  " + base("") + " \t", "\u00a0" + base("") + "\u3000",
		// CSV.
		"u,t,5,1793527200000", "u,t,5,1793527200000,2026-11-01 10:00:00.000", " u , t , +5 , 1793527200000 ,x",
		"u,t,5", "u,t,5,1793527200000,x,y", ",t,5,1793527200000", "u,,5,1793527200000", "u,t,x,1793527200000",
		"u,t,5.5,1793527200000", "u,t,1_000,1793527200000", "u,t,1e3,1793527200000", "u,t,0x10,1793527200000",
		"u,t,-1,1793527200000", "u,t,99999999999999999999,1793527200000", "u,t,1000001,1793527200000",
		"u,t,5,2026-11-01T10:00:00Z", "u,t,5,99999999999999999999", "u,t,5,946684799999", "u,t,5,946684800000",
		"u,t,5,-62135596800000", "u,t,5,-62135596800001", "u,t,5,1794272400001", "u,t,5,1794272400000",
		strings.Repeat("u", 129) + ",t,5,1793527200000", "x", "u,t,x,y,z",
	}
	c := conn(t)
	dir := t.TempDir()
	for _, line := range lines {
		e, err := schemas.DecodeLine([]byte(line), now)
		want := decoded{Reason: string(schemas.ReasonOf(err)), Event: e}
		if err != nil {
			want.Event = schemas.GameEvent{}
		}
		want.Event.EventTime = want.Event.EventTime.UTC()
		got := classify(t, c, dir, line, now)
		if got.Reason != want.Reason || !got.Event.EventTime.Equal(want.Event.EventTime) || got.Event.MarshalLine() == nil ||
			!bytes.Equal(got.Event.MarshalLine(), want.Event.MarshalLine()) {
			t.Errorf("%q:\nduckdb    %q %s\nDecodeLine %q %s", line, got.Reason, got.Event.MarshalLine(), want.Reason, want.Event.MarshalLine())
		}
	}

	// The documented differences.
	for _, tc := range []struct{ line, duck, gol string }{
		{`{"EVENT_ID":"e","user":"u","team":"t","score":1,"event_time":"2026-11-01T10:00:00Z"}`, "missing_field", ""},
		{`{"event_id":"e","user":"u","team":"t","score":1,"score":2000000,"event_time":"2026-11-01T10:00:00Z"}`, "", "score_out_of_range"},
		{`{"event_id":"e","user":"\ud800","team":"t","score":1,"event_time":"2026-11-01T10:00:00Z"}`, "malformed_json", ""},
		{`{"event_id":"e","user":"u` + "\xff" + `","team":"t","score":1,"event_time":"2026-11-01T10:00:00Z"}`, "rejected: INVALID ENCODING", ""},
		{"u\xff,t,x,1793527200000", "rejected: INVALID ENCODING", "score_not_integer"},
	} {
		_, err := schemas.DecodeLine([]byte(tc.line), now)
		if got := string(schemas.ReasonOf(err)); got != tc.gol {
			t.Errorf("%q: DecodeLine says %q, the documentation %q", tc.line, got, tc.gol)
		}
		if got := classify(t, c, dir, tc.line, now); got.Reason != tc.duck {
			t.Errorf("%q: duckdb says %q, the documentation %q", tc.line, got.Reason, tc.duck)
		}
	}
}

func TestMarshalLine(t *testing.T) {
	c := conn(t)
	for _, e := range []schemas.GameEvent{
		{EventID: "e", User: "u", Team: "t", Score: 1, EventTime: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), SchemaVersion: 1},
		{EventID: "e\"\\/", User: "<a&b>\u2028\u2029", Team: "\x00\x01\b\f\n\r\t\x1f\x7f", Score: 1000000,
			EventTime: time.Date(2026, 11, 1, 10, 0, 0, 120000000, time.UTC), Platform: "ios", SchemaVersion: 1},
		{EventID: "é😀", User: "u", Team: "t", EventTime: time.Date(2000, 1, 1, 0, 0, 0, 1, time.UTC), Platform: "p", SchemaVersion: 1},
		{EventID: "e", User: "u", Team: "t", EventTime: time.Date(2026, 11, 1, 23, 59, 59, 999999999, time.UTC), SchemaVersion: 1},
	} {
		var got string
		err := c.QueryRowContext(context.Background(), `SELECT ry_marshal($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.EventID, e.User, e.Team, e.Score, e.EventTime.Unix(), int64(e.EventTime.Nanosecond()), e.Platform, e.SchemaVersion).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(e.MarshalLine()); got != want {
			t.Errorf("ry_marshal:\n got %s\nwant %s", got, want)
		}
	}
}
