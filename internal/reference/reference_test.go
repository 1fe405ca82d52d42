package reference

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/schemas"
)

// now is the processing time of the hand-made lakes: well after their
// events.
var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

var (
	day1 = civil.Date{Year: 2026, Month: 11, Day: 1}
	day2 = civil.Date{Year: 2026, Month: 11, Day: 2}
	day3 = civil.Date{Year: 2026, Month: 11, Day: 3}
)

// line is a JSON event line as a client would send it.
func line(id, user, team string, score int, eventTime string) string {
	return fmt.Sprintf(`{"event_id":%q,"user":%q,"team":%q,"score":%d,"event_time":%q}`, id, user, team, score, eventTime)
}

// testLake is a hand-made lake: partition ("2026-11-01/07") → files → lines.
type testLake map[string][][]string

// write writes the lake under a new temporary root: gzip files named
// part-NNNNN.jsonl.gz, plus any extra files given by relative path.
func (l testLake) write(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for part, files := range l {
		dt, hr, ok := strings.Cut(part, "/")
		if !ok {
			t.Fatalf("bad partition %q", part)
		}
		dir := filepath.Join(root, "game_events", "dt="+dt, "hr="+hr)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, lines := range files {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			for _, ln := range lines {
				zw.Write([]byte(ln + "\n"))
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%05d.jsonl.gz", i)), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func compute(t *testing.T, root string, from, to civil.Date, workers int) Result {
	t.Helper()
	res, err := Options{Workers: workers}.Compute(context.Background(), root, from, to, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Counts.Check(); err != nil {
		t.Error(err)
	}
	return res
}

// computeAll runs Compute with 1 and 3 workers and checks that both agree.
func computeAll(t *testing.T, root string, from, to civil.Date) Result {
	t.Helper()
	res := compute(t, root, from, to, 1)
	if par := compute(t, root, from, to, 3); !reflect.DeepEqual(res, par) {
		t.Errorf("1 worker and 3 workers disagree:\n%+v\n%+v", res, par)
	}
	return res
}

func hour(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func teamScore(team string, score, events int64, start string) schemas.TeamScore {
	ws := hour(start)
	return schemas.TeamScore{
		Team: team, Score: score, Events: events, WindowStart: ws, WindowEnd: ws.Add(time.Hour),
		Timing: "ON_TIME", PaneIndex: 0, IsLast: true, ProcessingTime: ws.Add(time.Hour),
	}
}

func TestUserAndTeamScores(t *testing.T) {
	root := testLake{
		"2026-11-01/10": {{
			line("e1", "alice", "Red", 10, "2026-11-01T10:00:00Z"),
			line("e2", "alice", "Red", 5, "2026-11-01T10:59:59.999Z"),
			line("e3", "bob", "Red", 7, "2026-11-01T10:30:00Z"),
		}, {
			line("e4", "carol", "Blue", 1, "2026-11-01T10:15:00Z"),
		}},
		"2026-11-01/11": {{
			line("e5", "alice", "Red", 100, "2026-11-01T11:00:00Z"),
			// alice also plays for Blue: a separate user_scores row.
			line("e6", "alice", "Blue", 3, "2026-11-01T11:20:00+01:00"), // 10:20 UTC, filed late
		}},
		"2026-11-02/00": {{
			line("e7", "alice", "Red", 2, "2026-11-02T00:00:00Z"),
		}},
	}.write(t)
	res := computeAll(t, root, day1, day2)

	wantUsers := []schemas.UserScoreDaily{
		{Day: day1, User: "alice", Team: "Blue", Score: 3, Events: 1},
		{Day: day1, User: "alice", Team: "Red", Score: 115, Events: 3},
		{Day: day1, User: "bob", Team: "Red", Score: 7, Events: 1},
		{Day: day1, User: "carol", Team: "Blue", Score: 1, Events: 1},
		{Day: day2, User: "alice", Team: "Red", Score: 2, Events: 1},
	}
	if !reflect.DeepEqual(res.UserScoresDaily, wantUsers) {
		t.Errorf("user_scores_daily:\n got %+v\nwant %+v", res.UserScoresDaily, wantUsers)
	}
	wantTeams := []schemas.TeamScore{
		teamScore("Blue", 4, 2, "2026-11-01T10:00:00Z"),
		teamScore("Red", 22, 3, "2026-11-01T10:00:00Z"),
		teamScore("Red", 100, 1, "2026-11-01T11:00:00Z"),
		teamScore("Red", 2, 1, "2026-11-02T00:00:00Z"),
	}
	if !reflect.DeepEqual(res.TeamScoresHourly, wantTeams) {
		t.Errorf("team_scores_hourly:\n got %+v\nwant %+v", res.TeamScoresHourly, wantTeams)
	}
	c := res.Counts
	if c.Files != 4 || c.Read != 7 || c.Valid != 7 || c.Unique != 7 || c.Events != 7 || c.Duplicates != 0 || c.OutsidePartition != 0 {
		t.Errorf("counts: %+v", c)
	}

	// One day of the range: only its partitions are read.
	res = computeAll(t, root, day2, day2)
	if want := wantUsers[4:]; !reflect.DeepEqual(res.UserScoresDaily, want) {
		t.Errorf("day 2 only: user_scores_daily %+v, want %+v", res.UserScoresDaily, want)
	}
	if res.Counts.Files != 1 || res.Counts.Read != 1 {
		t.Errorf("day 2 only: counts %+v", res.Counts)
	}
}

// stat returns the game_stats_daily row of (day, team).
func stat(t *testing.T, res Result, day civil.Date, team string) schemas.GameStatsDaily {
	t.Helper()
	for _, r := range res.GameStatsDaily {
		if r.Day == day && r.Team == team {
			return r
		}
	}
	t.Fatalf("no game_stats_daily row for %v %s in %+v", day, team, res.GameStatsDaily)
	return schemas.GameStatsDaily{}
}

func TestSpammers(t *testing.T) {
	root := testLake{
		// Hour 10: users score 1, 1, 1, 5. mean = 8/4 = 2; 2.5 × 2 = 5,
		// so dave (exactly 2.5 × the mean) is not a spammer.
		"2026-11-01/10": {{
			line("a1", "ann", "Red", 1, "2026-11-01T10:00:00Z"),
			line("b1", "ben", "Red", 1, "2026-11-01T10:01:00Z"),
			line("c1", "cat", "Blue", 1, "2026-11-01T10:02:00Z"),
			line("d1", "dave", "Blue", 2, "2026-11-01T10:03:00Z"),
			line("d2", "dave", "Blue", 3, "2026-11-01T10:40:00Z"),
		}},
		// Hour 11: ann 1, ben 1, cat 1, dave 6 (4 for Blue, 2 for Red:
		// scores of all teams count). mean = 9/4 = 2.25, 2.5 × 2.25 =
		// 5.625 < 6: dave is a spammer in hour 11, for both teams.
		"2026-11-01/11": {{
			line("a2", "ann", "Red", 1, "2026-11-01T11:00:00Z"),
			line("b2", "ben", "Red", 1, "2026-11-01T11:01:00Z"),
			line("c2", "cat", "Blue", 1, "2026-11-01T11:02:00Z"),
			line("d3", "dave", "Blue", 4, "2026-11-01T11:03:00Z"),
			line("d4", "dave", "Red", 2, "2026-11-01T11:04:00Z"),
		}},
		// Hour 12: only dave. mean = his own score: never a spammer alone.
		"2026-11-01/12": {{
			line("d5", "dave", "Blue", 1000, "2026-11-01T12:00:00Z"),
		}},
	}.write(t)
	res := computeAll(t, root, day1, day1)

	// Blue: cat 1+1, dave 2+3 (hour 10) + 1000 (hour 12); dave's hour-11
	// event (4) is left out.
	blue := stat(t, res, day1, "Blue")
	if blue.Score != 1007 || blue.Events != 5 || blue.SpammerUsers != 1 {
		t.Errorf("Blue: %+v, want score 1007, events 5, spammer_users 1", blue)
	}
	// Red: ann 1+1, ben 1+1; dave's hour-11 Red event (2) is left out.
	red := stat(t, res, day1, "Red")
	if red.Score != 4 || red.Events != 4 || red.SpammerUsers != 1 {
		t.Errorf("Red: %+v, want score 4, events 4, spammer_users 1", red)
	}
	// user_scores_daily and team_scores_hourly keep spammers.
	var dave int64
	for _, r := range res.UserScoresDaily {
		if r.User == "dave" {
			dave += r.Score
		}
	}
	if dave != 1011 {
		t.Errorf("dave's user_scores_daily total %d, want 1011", dave)
	}
}

func TestSpammerCountedOncePerDay(t *testing.T) {
	// eve is a spammer in hours 10 and 11 (20 against 1, 1: mean 22/3,
	// 2.5 × 7.33 = 18.3 < 20): one spammer user for the day.
	var lines []string
	for h := 10; h <= 11; h++ {
		ts := fmt.Sprintf("2026-11-01T%02d:00:00Z", h)
		lines = append(lines,
			line(fmt.Sprintf("e%d", h), "eve", "Red", 20, ts),
			line(fmt.Sprintf("f%d", h), "fay", "Red", 1, ts),
			line(fmt.Sprintf("g%d", h), "gus", "Red", 1, ts))
	}
	root := testLake{"2026-11-01/10": {lines}}.write(t)
	red := stat(t, computeAll(t, root, day1, day1), day1, "Red")
	if red.SpammerUsers != 1 || red.Score != 4 || red.Events != 4 {
		t.Errorf("Red: %+v, want spammer_users 1, score 4, events 4", red)
	}
}

func minutes(d time.Duration) float64 { return float64(d) / float64(time.Minute) }

func TestSessions(t *testing.T) {
	root := testLake{
		"2026-11-01/00": {{
			// ann: 00:00:00 and 00:04:59 merge (4m59s apart); 00:09:59
			// is exactly 5 min after 00:04:59: a new session, which
			// 00:14:58.999999999 joins (1 ns short of 5 min).
			line("a1", "ann", "Red", 1, "2026-11-01T00:00:00Z"),
			line("a2", "ann", "Red", 1, "2026-11-01T00:04:59Z"),
			line("a3", "ann", "Red", 1, "2026-11-01T00:09:59Z"),
			line("a4", "ann", "Red", 1, "2026-11-01T00:14:58.999999999Z"),
			// ann plays for Blue too: sessions are per (team, user).
			line("a5", "ann", "Blue", 1, "2026-11-01T00:01:00Z"),
			// ben: two events at the same instant, one session.
			line("b1", "ben", "Red", 1, "2026-11-01T00:30:00Z"),
			line("b2", "ben", "Red", 1, "2026-11-01T00:30:00Z"),
		}},
		"2026-11-01/23": {{
			// cat's session crosses midnight: it belongs to day 1.
			line("c1", "cat", "Blue", 1, "2026-11-01T23:58:00Z"),
		}},
		"2026-11-02/00": {{
			line("c2", "cat", "Blue", 1, "2026-11-02T00:02:00Z"),
			line("c3", "cat", "Blue", 1, "2026-11-02T00:06:59Z"),
		}},
	}.write(t)
	res := computeAll(t, root, day1, day2)

	red := stat(t, res, day1, "Red")
	s1 := 4*time.Minute + 59*time.Second + 5*time.Minute
	s2 := 4*time.Minute + 59*time.Second + 999999999 + 5*time.Minute
	s3 := 5 * time.Minute
	if want := minutes(s1+s2+s3) / 3; red.Sessions != 3 || math.Abs(red.MeanSessionMinutes-want) > 1e-12 {
		t.Errorf("Red day 1: sessions %d mean %v, want 3 and %v", red.Sessions, red.MeanSessionMinutes, want)
	}
	blue := stat(t, res, day1, "Blue")
	// ann's Blue session (5 min) and cat's 23:58 → 00:06:59 (13m59s).
	if want := minutes(5*time.Minute+13*time.Minute+59*time.Second) / 2; blue.Sessions != 2 || math.Abs(blue.MeanSessionMinutes-want) > 1e-12 {
		t.Errorf("Blue day 1: sessions %d mean %v, want 2 and %v", blue.Sessions, blue.MeanSessionMinutes, want)
	}
	// Day 2: Blue has events but no session starts that day.
	if b2 := stat(t, res, day2, "Blue"); b2.Sessions != 0 || b2.MeanSessionMinutes != 0 || b2.Events != 2 || b2.Score != 2 {
		t.Errorf("Blue day 2: %+v, want 2 events and no session", b2)
	}

	// A run of day 1 alone cuts cat's session at the end of the day.
	blue = stat(t, computeAll(t, root, day1, day1), day1, "Blue")
	if want := minutes(5*time.Minute+5*time.Minute) / 2; blue.Sessions != 2 || math.Abs(blue.MeanSessionMinutes-want) > 1e-12 {
		t.Errorf("Blue day 1 alone: sessions %d mean %v, want 2 and %v", blue.Sessions, blue.MeanSessionMinutes, want)
	}
}

func TestDuplicates(t *testing.T) {
	base := line("x", "ann", "Red", 5, "2026-11-01T10:00:00Z")
	// Differing copies of y: MarshalLine order, not numeric order: the
	// copy with score 40 (…"score":40…) sorts before score 5.
	y5 := line("y", "ann", "Red", 5, "2026-11-01T10:00:00Z")
	y40 := line("y", "ann", "Red", 40, "2026-11-01T10:00:00Z")
	// z: the copy with a platform sorts first (…,"platform"… < …,"schema_version"…),
	// whatever the key order and spacing of the input.
	zPlain := line("z", "bob", "Red", 7, "2026-11-01T10:05:00Z")
	zIOS := `{ "platform": "ios", "score": 7, "user": "bob", "team": "Red", "event_time": "2026-11-01T10:05:00.000Z", "event_id": "z" }`
	// w: copies that differ in event date; the smallest (day 1) wins, so
	// w is in range, never outside_partition.
	wDay0 := line("w", "cat", "Red", 1, "2026-11-02T00:00:00Z")
	wDay1 := line("w", "cat", "Red", 1, "2026-11-01T23:00:00Z")

	for _, order := range []struct {
		name  string
		files [][]string
	}{
		{"small first", [][]string{{base, y40, zIOS, wDay1}, {base, base, y5, zPlain, wDay0}}},
		{"small last", [][]string{{base, y5, zPlain, wDay0}, {base, y40, zIOS, base, wDay1}}},
	} {
		t.Run(order.name, func(t *testing.T) {
			root := testLake{"2026-11-01/10": order.files}.write(t)
			res := computeAll(t, root, day1, day1)
			c := res.Counts
			if c.Read != 9 || c.Valid != 9 || c.Unique != 4 || c.Duplicates != 5 || c.ConflictingIDs != 3 || c.Events != 4 || c.OutsidePartition != 0 {
				t.Errorf("counts %+v", c)
			}
			want := []schemas.UserScoreDaily{
				{Day: day1, User: "ann", Team: "Red", Score: 5 + 40, Events: 2},
				{Day: day1, User: "bob", Team: "Red", Score: 7, Events: 1},
				{Day: day1, User: "cat", Team: "Red", Score: 1, Events: 1},
			}
			if !reflect.DeepEqual(res.UserScoresDaily, want) {
				t.Errorf("user_scores_daily:\n got %+v\nwant %+v", res.UserScoresDaily, want)
			}
		})
	}
	// Check the premises with MarshalLine itself.
	for _, p := range [][2]string{{y40, y5}, {zIOS, zPlain}, {wDay1, wDay0}} {
		a, _ := schemas.DecodeLine([]byte(p[0]), now)
		b, _ := schemas.DecodeLine([]byte(p[1]), now)
		if bytes.Compare(a.MarshalLine(), b.MarshalLine()) >= 0 {
			t.Errorf("premise: %s should sort before %s", a.MarshalLine(), b.MarshalLine())
		}
	}
	// The views do not show the platform: look at the kept copy of z.
	for _, lines := range [][]string{{zPlain, zIOS}, {zIOS, zPlain}} {
		acc, _ := NewAccumulator(day1, day1, now)
		for _, l := range lines {
			acc.AddLine([]byte(l))
		}
		if got := acc.event("z", acc.recs[acc.ids["z"]]); got.Platform != "ios" {
			t.Errorf("kept %s, want the copy with platform ios", got.MarshalLine())
		}
	}
}

func TestOutsidePartition(t *testing.T) {
	root := testLake{
		"2026-11-02/00": {{
			line("in", "ann", "Red", 1, "2026-11-02T00:10:00Z"),
			line("early", "ann", "Red", 2, "2026-11-01T23:59:59.999999999Z"), // day 1: outside a day-2 run
			line("late", "ann", "Red", 4, "2026-11-03T00:00:00Z"),            // day 3
			line("early", "ann", "Red", 2, "2026-11-01T23:59:59.999999999Z"), // a duplicate of it
		}},
	}.write(t)
	res := computeAll(t, root, day2, day2)
	c := res.Counts
	if c.Read != 4 || c.Unique != 3 || c.Duplicates != 1 || c.OutsidePartition != 2 || c.Events != 1 || c.DeadLetters() != 2 {
		t.Errorf("counts %+v", c)
	}
	if len(res.UserScoresDaily) != 1 || res.UserScoresDaily[0].Score != 1 {
		t.Errorf("user_scores_daily %+v, want ann's event \"in\" only", res.UserScoresDaily)
	}
	// A wider range takes them in.
	res = computeAll(t, root, day1, day3)
	if res.Counts.OutsidePartition != 0 || res.Counts.Events != 3 {
		t.Errorf("day 1..3: counts %+v", res.Counts)
	}
}

func TestInvalidLinesAndFiles(t *testing.T) {
	root := testLake{
		"2026-11-01/10": {{
			line("ok", "ann", "Red", 1, "2026-11-01T10:00:00Z"),
			`{"event_id":"m1","user":"ann"`,
			"",
			`{"event_id":"m2","team":"Red","score":1,"event_time":"2026-11-01T10:00:00Z"}`,
			`{"event_id":"m3","user":7,"team":"Red","score":1,"event_time":"2026-11-01T10:00:00Z"}`,
			line("m4", "ann", "Red", -1, "2026-11-01T10:00:00Z"),
			`{"event_id":"m5","user":"ann","team":"Red","score":1.5,"event_time":"2026-11-01T10:00:00Z"}`,
			line("m6", "ann", "Red", 1, "01/11/2026 10:00:00"),
			line("m7", "ann", "Red", 1, "1999-12-31T23:59:59Z"),
			line("m8", "ann", "Red", 1, "2026-12-01T01:00:00.000000001Z"), // 1 ns past now + 1 h
			line("m9", strings.Repeat("u", 129), "Red", 1, "2026-11-01T10:00:00Z"),
			`{"event_id":"m10","user":"ann","team":"Red","score":1,"event_time":"2026-11-01T10:00:00Z","schema_version":2}`,
			"ann,Red,3,1793527200000,2026-11-01 10:00:00.000", // a valid CSV line
			"ann,Red,3",
			"ann\xff,Red,3,1793527200000",
			"\r",
		}},
	}.write(t)
	// Files that are not read: hidden, other dates.
	dir := filepath.Join(root, "game_events", "dt=2026-11-01", "hr=10")
	for _, name := range []string{".part-9.jsonl.gz.tmp", "_SUCCESS"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("garbage\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A plain (not gzip) file is read as is.
	if err := os.WriteFile(filepath.Join(dir, "extra.jsonl"), []byte(line("plain", "bob", "Red", 2, "2026-11-01T10:00:00Z")+"\nno newline at the end"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := computeAll(t, root, day1, day1)
	c := res.Counts
	want := map[schemas.Reason]int64{
		schemas.ReasonMalformedJSON: 1, schemas.ReasonMissingField: 1, schemas.ReasonInvalidType: 1,
		schemas.ReasonScoreOutOfRange: 1, schemas.ReasonScoreNotInteger: 1, schemas.ReasonEventTimeUnparseable: 1,
		schemas.ReasonEventTimeTooOld: 1, schemas.ReasonEventTimeInFuture: 1, schemas.ReasonFieldTooLong: 1,
		schemas.ReasonUnknownSchemaVersion: 1, schemas.ReasonMalformedCSV: 2, schemas.ReasonInvalidUTF8: 1,
	}
	if !reflect.DeepEqual(c.InvalidByReason, want) {
		t.Errorf("invalid by reason %v, want %v", c.InvalidByReason, want)
	}
	if c.Files != 2 || c.BlankLines != 2 || c.Read != 16 || c.Valid != 3 || c.Invalid != 13 || c.Events != 3 {
		t.Errorf("counts %+v", c)
	}
	if want := []schemas.UserScoreDaily{
		{Day: day1, User: "ann", Team: "Red", Score: 4, Events: 2},
		{Day: day1, User: "bob", Team: "Red", Score: 2, Events: 1},
	}; !reflect.DeepEqual(res.UserScoresDaily, want) {
		t.Errorf("user_scores_daily %+v, want %+v", res.UserScoresDaily, want)
	}
}

func TestEmptyAndErrors(t *testing.T) {
	ctx := context.Background()
	res, err := Compute(ctx, t.TempDir(), day1, day2, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Files != 0 || len(res.UserScoresDaily)+len(res.TeamScoresHourly)+len(res.GameStatsDaily) != 0 {
		t.Errorf("empty lake: %+v", res)
	}
	for _, tc := range []struct {
		root     string
		from, to civil.Date
		want     string
	}{
		{t.TempDir(), day2, day1, "ends before it starts"},
		{t.TempDir(), civil.Date{Year: 2026, Month: 2, Day: 30}, day1, "invalid date range"},
		{"", day1, day1, "lake root is empty"},
		{"s3://bucket/lake", day1, day1, "only local directories and gs://"},
		{"gs:///lake", day1, day1, "has no bucket"},
		{"/tmp/lake*", day1, day1, "glob characters"},
	} {
		if _, err := Compute(ctx, tc.root, tc.from, tc.to, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compute(%q, %v, %v): error %v, want %q", tc.root, tc.from, tc.to, err, tc.want)
		}
	}
	// A corrupt gzip file fails the run, naming the file.
	root := t.TempDir()
	dir := filepath.Join(root, "game_events", "dt=2026-11-01", "hr=00")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "part-0.jsonl.gz"), []byte("not gzip"), 0o644)
	for _, w := range []int{1, 2} {
		if _, err := (Options{Workers: w}).Compute(ctx, root, day1, day1, now); err == nil || !strings.Contains(err.Error(), "part-0.jsonl.gz") {
			t.Errorf("workers %d: corrupt gzip: error %v, want one naming the file", w, err)
		}
	}
}

func TestLongLines(t *testing.T) {
	// A valid line longer than the reader's buffer (unknown fields are
	// allowed), and CRLF line endings.
	long := strings.TrimSuffix(line("long", "ann", "Red", 3, "2026-11-01T10:00:00Z"), "}") + `,"pad":"` + strings.Repeat("p", 600<<10) + `"}`
	root := testLake{"2026-11-01/10": {{long + "\r", line("crlf", "ann", "Red", 1, "2026-11-01T10:00:00Z") + "\r"}}}.write(t)
	res := computeAll(t, root, day1, day1)
	if c := res.Counts; c.Read != 2 || c.Valid != 2 || c.BlankLines != 0 {
		t.Errorf("counts %+v", c)
	}
	if len(res.UserScoresDaily) != 1 || res.UserScoresDaily[0].Score != 4 {
		t.Errorf("user_scores_daily %+v", res.UserScoresDaily)
	}
}

func TestAccumulatorLines(t *testing.T) {
	a, err := NewAccumulator(day1, day1, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{line("a", "ann", "Red", 2, "2026-11-01T01:00:00Z"), "", "\r", "x", line("a", "ann", "Red", 2, "2026-11-01T01:00:00Z")} {
		if err := a.AddLine([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	res := a.Result()
	if c := res.Counts; c.BlankLines != 2 || c.Read != 3 || c.Valid != 2 || c.Unique != 1 || c.Invalid != 1 || c.InvalidByReason[schemas.ReasonMalformedCSV] != 1 {
		t.Errorf("counts %+v", c)
	}
	// Result does not change the accumulator.
	if again := a.Result(); !reflect.DeepEqual(res, again) {
		t.Errorf("second Result differs")
	}
}

func TestCountsCheck(t *testing.T) {
	good := Counts{Read: 10, Valid: 8, Invalid: 2, InvalidByReason: map[schemas.Reason]int64{"x": 2}, Unique: 6, Duplicates: 2, Events: 5, OutsidePartition: 1}
	if err := good.Check(); err != nil {
		t.Error(err)
	}
	bad := good
	bad.Events = 6
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "unique 6 ≠ events 6 + outside_partition 1") {
		t.Errorf("Check: %v", err)
	}
	if s := good.String(); !strings.Contains(s, "outside_partition  1") || !strings.Contains(s, "x ") {
		t.Errorf("String:\n%s", s)
	}
}
