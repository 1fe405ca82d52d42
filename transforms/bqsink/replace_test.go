package bqsink

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

var (
	day1 = civil.Date{Year: 2026, Month: 11, Day: 1}
	day2 = civil.Date{Year: 2026, Month: 11, Day: 2}
	day3 = civil.Date{Year: 2026, Month: 11, Day: 3}
)

func userDaily(d civil.Date, user, team string, score, events int64) schemas.UserScoreDaily {
	return schemas.UserScoreDaily{Day: d, User: user, Team: team, Score: score, Events: events}
}

// replaceRun runs one ReplacePartitions pipeline and checks its Written
// counts and dead letters.
type replaceRun struct {
	cfg        ReplaceConfig
	rows       any // []T
	wantCounts []string
	wantDead   []string
	// wantDetails, if set, are the dead letters' reasonDetail renderings.
	wantDetails []string
	// window, if set, rewindows the rows before the sink.
	window func(s beam.Scope, rows beam.PCollection) beam.PCollection
}

func (r replaceRun) run(t *testing.T) beam.PipelineResult {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	rows := beam.CreateList(s, r.rows)
	if r.window != nil {
		rows = r.window(s, rows)
	}
	res := ReplacePartitions(s, r.cfg, rows)
	passert.Equals(s, beam.ParDo(s, countKey, res.Written), toAny(r.wantCounts)...)
	passert.Equals(s, beam.ParDo(s, deadKey, res.DeadLetters), toAny(r.wantDead)...)
	if r.wantDetails != nil {
		passert.Equals(s, beam.ParDo(s, reasonDetail, res.DeadLetters), toAny(r.wantDetails)...)
	}
	pr, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	return pr
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func readUserDaily(t *testing.T, e *bqEnv, table string) []schemas.UserScoreDaily {
	t.Helper()
	return readAll[schemas.UserScoreDaily](t, e.client, fmt.Sprintf("SELECT day, user, team, score, events FROM `%s`", table))
}

func filterDay(rows []schemas.UserScoreDaily, days ...civil.Date) []schemas.UserScoreDaily {
	var out []schemas.UserScoreDaily
	for _, r := range rows {
		if slices.Contains(days, r.Day) {
			out = append(out, r)
		}
	}
	return out
}

// TestReplacePartitions: a DATE-partitioned table (batch.user_scores_daily)
// gets exactly the run's rows for the partitions it owns; reruns replace
// exactly those partitions, an identical rerun changes nothing, an owned
// partition without rows is emptied, rows of other days are dead-lettered
// and the staging tables are gone afterwards.
func TestReplacePartitions(t *testing.T) {
	e := newBQEnv(t)
	table := e.createTable(t, "user_scores_daily", catalog.TableUserScoresDaily)
	base := ReplaceConfig{Config: e.config(table), PartitionColumn: "day", OnEmulator: true}

	// Run 1: two days; two identical rows on day 1 both stay.
	rows1 := []schemas.UserScoreDaily{
		userDaily(day1, "alice", "red", 10, 2),
		userDaily(day1, "bob", "blue", 7, 1),
		userDaily(day1, "bob", "blue", 7, 1),
		userDaily(day1, "carol", "red", 3, 3),
		userDaily(day1, "dave", "green", 1, 1),
		userDaily(day1, "erin", "green", 12, 4),
		userDaily(day2, "alice", "red", 5, 1),
		userDaily(day2, "frank", "blue", 8, 2),
	}
	cfg := base
	cfg.Partitions = []civil.Date{day1, day2}
	pr := replaceRun{cfg: cfg, rows: rows1, wantCounts: []string{table + " 2026-11-01 6", table + " 2026-11-02 2"}}.run(t)
	equalRows(t, "after run 1", readUserDaily(t, e, table), rows1)
	if n := counter(pr, MetricRowsWritten); n != int64(len(rows1)) {
		t.Errorf("bq_rows_written = %d, want %d", n, len(rows1))
	}

	// Run 2: day 1 only, with changed rows, and a stray day-3 row that the
	// run does not own: day 1 replaced exactly, day 2 untouched, the
	// stray row dead-lettered.
	rows2 := []schemas.UserScoreDaily{
		userDaily(day1, "alice", "red", 11, 3),
		userDaily(day1, "zoe", "blue", 4, 1),
	}
	stray := userDaily(day3, "yann", "red", 9, 9)
	cfg = base
	cfg.Partitions = []civil.Date{day1}
	strayJSON := `{"day":"2026-11-03","events":9,"score":9,"team":"red","user":"yann"}`
	wantDead := []string{"test|run-1|bigquery_write|partition_not_owned|" + table + "$20261103|" + strayJSON}
	pr = replaceRun{cfg: cfg, rows: append(slices.Clone(rows2), stray), wantCounts: []string{table + " 2026-11-01 2"}, wantDead: wantDead}.run(t)
	after2 := readUserDaily(t, e, table)
	equalRows(t, "day 1 after run 2", filterDay(after2, day1), rows2)
	equalRows(t, "day 2 after run 2", filterDay(after2, day2), filterDay(rows1, day2))
	equalRows(t, "whole table after run 2", after2, append(slices.Clone(rows2), filterDay(rows1, day2)...))
	if n := counter(pr, MetricRowErrors); n != 1 {
		t.Errorf("bq_row_errors = %d, want 1", n)
	}

	// Run 3: run 2 again: identical contents.
	replaceRun{cfg: cfg, rows: append(slices.Clone(rows2), stray), wantCounts: []string{table + " 2026-11-01 2"}, wantDead: wantDead}.run(t)
	equalRows(t, "after identical run 3", readUserDaily(t, e, table), after2)

	// Run 4: owns days 2 and 3 and has no rows: day 2 emptied, day 3 (already
	// empty) stays empty, day 1 untouched.
	cfg = base
	cfg.Partitions = []civil.Date{day2, day3}
	replaceRun{cfg: cfg, rows: []schemas.UserScoreDaily{}, wantCounts: []string{table + " 2026-11-02 0", table + " 2026-11-03 0"}}.run(t)
	equalRows(t, "after empty run 4", readUserDaily(t, e, table), rows2)

	if got := e.tableNames(t); !slices.Equal(got, []string{"user_scores_daily"}) {
		t.Errorf("tables after the runs: %v; want only user_scores_daily (staging tables dropped)", got)
	}
}

// TestReplaceTimestampPartitions: a table partitioned on a TIMESTAMP
// column (batch.team_scores_hourly on window_start): days are UTC dates of
// the timestamp; hours of the owned day are replaced, the next day's are
// not.
func TestReplaceTimestampPartitions(t *testing.T) {
	e := newBQEnv(t)
	table := e.createTable(t, "team_scores_hourly", catalog.TableTeamScoresHourly)
	hour := func(d civil.Date, h int) time.Time { return d.In(time.UTC).Add(time.Duration(h) * time.Hour) }
	team := func(d civil.Date, h int, name string, score int64) schemas.TeamScore {
		return schemas.TeamScore{Team: name, Score: score, Events: score / 2, WindowStart: hour(d, h), WindowEnd: hour(d, h+1),
			Timing: schemas.TimingOnTime, IsLast: true, ProcessingTime: hour(d, h+1)}
	}
	read := func() []schemas.TeamScore {
		return readAll[schemas.TeamScore](t, e.client, "SELECT team, score, events, window_start, window_end, timing, pane_index, is_last, processing_time FROM `"+table+"`")
	}
	first := []schemas.TeamScore{team(day1, 0, "red", 10), team(day1, 23, "blue", 4), team(day2, 0, "red", 6)}
	cfg := ReplaceConfig{Config: e.config(table), PartitionColumn: "window_start", Partitions: []civil.Date{day1, day2}, OnEmulator: true}
	replaceRun{cfg: cfg, rows: first, wantCounts: []string{table + " 2026-11-01 2", table + " 2026-11-02 1"}}.run(t)
	equalRows(t, "after run 1", read(), first)

	// Rows in event-time windows (as a batch view leaves them) are written
	// all the same.
	second := []schemas.TeamScore{team(day1, 5, "green", 20), team(day1, 6, "green", 2)}
	cfg.Partitions = []civil.Date{day1}
	hourly := func(s beam.Scope, rows beam.PCollection) beam.PCollection {
		return beam.WindowInto(s, window.NewFixedWindows(time.Hour), beam.ParDo(s, teamScoreEventTime, rows))
	}
	replaceRun{cfg: cfg, rows: second, window: hourly, wantCounts: []string{table + " 2026-11-01 2"}}.run(t)
	equalRows(t, "after run 2", read(), append(second, first[2]))
}

func teamScoreEventTime(r schemas.TeamScore) (beam.EventTime, schemas.TeamScore) {
	return mtime.FromTime(r.WindowStart), r
}

func init() {
	register.Function1x2(teamScoreEventTime)
}

// TestReplaceRefusesWrongPartitioning: the prepare step checks the target
// before anything is written.
func TestReplaceRefusesWrongPartitioning(t *testing.T) {
	e := newBQEnv(t)
	table := e.createTable(t, "user_scores_daily", catalog.TableUserScoresDaily)
	cfg := ReplaceConfig{Config: e.config(table), PartitionColumn: "team", Partitions: []civil.Date{day1}, OnEmulator: true}
	p, s := beam.NewPipelineWithRoot()
	ReplacePartitions(s, cfg, beam.CreateList(s, []schemas.UserScoreDaily{userDaily(day1, "a", "b", 1, 1)}))
	err := ptest.Run(p)
	if err == nil || !strings.Contains(err.Error(), `partitioned on "day", not on "team"`) {
		t.Errorf("err = %v, want a partitioning error", err)
	}
}

func TestReplaceConfigValidation(t *testing.T) {
	ok := ReplaceConfig{Config: Config{Project: "p", Table: "batch.t"}, PartitionColumn: "day", Partitions: []civil.Date{day1}}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mutate := range map[string]func(*ReplaceConfig){
		"no partitions":     func(c *ReplaceConfig) { c.Partitions = nil },
		"bad date":          func(c *ReplaceConfig) { c.Partitions = []civil.Date{{Year: 2026, Month: 2, Day: 30}} },
		"no column":         func(c *ReplaceConfig) { c.PartitionColumn = "" },
		"table without dot": func(c *ReplaceConfig) { c.Table = "t" },
		"table with $":      func(c *ReplaceConfig) { c.Table = "batch.t$20260101" },
		"endpoint, no project": func(c *ReplaceConfig) {
			c.Project = ""
			c.Endpoint = "http://127.0.0.1:1"
		},
		"bad staging dataset": func(c *ReplaceConfig) { c.StagingDataset = "a.b" },
	} {
		c := ok
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestCommitScript(t *testing.T) {
	schema, err := catalog.SchemaOf(reflectTypeOf[schemas.UserScoreDaily]())
	if err != nil {
		t.Fatal(err)
	}
	got := commitScript("`p.batch.t`", "`p.batch.stg`", schema, "`day`", true)
	want := "BEGIN TRANSACTION;\n" +
		"DELETE FROM `p.batch.t` WHERE `day` IN UNNEST(@partitions);\n" +
		"INSERT INTO `p.batch.t` (`day`, `user`, `team`, `score`, `events`)\n" +
		"SELECT ANY_VALUE(`day`) AS `day`, ANY_VALUE(`user`) AS `user`, ANY_VALUE(`team`) AS `team`, ANY_VALUE(`score`) AS `score`, ANY_VALUE(`events`) AS `events`\n" +
		"FROM `p.batch.stg`\n" +
		"WHERE `_railyard_attempt` IN UNNEST(@attempts) AND `day` IN UNNEST(@partitions)\n" +
		"GROUP BY `_railyard_row_id`;\n" +
		"COMMIT TRANSACTION;"
	if got != want {
		t.Errorf("commitScript:\n%s\nwant:\n%s", got, want)
	}
	got = commitScript("`p.batch.t`", "`p.batch.stg`", schema, "`day`", false)
	want = "BEGIN TRANSACTION;\nDELETE FROM `p.batch.t` WHERE `day` IN UNNEST(@partitions);\nCOMMIT TRANSACTION;"
	if got != want {
		t.Errorf("commitScript without rows:\n%s\nwant:\n%s", got, want)
	}
}
