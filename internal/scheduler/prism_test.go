package scheduler

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/reference"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// These tests run the real jobs: the batch pipeline built with go build and
// run on prism against a lake on fake GCS and the BigQuery emulator, and the
// example SQL script on the emulator.

// writeLake generates four days of events (2026-11-01..04) into the lake.
func writeLake(t *testing.T, e *env) string {
	t.Helper()
	lake := "gs://lake/" + e.bq.DatasetPrefix + "lake"
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed, cfg.Hours = 4000, 11, 96
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WriteLake(context.Background(), g, lake, gen.LakeOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	return lake
}

func realJobs(t *testing.T, lake string, catchup int) string {
	return fmt.Sprintf(`jobs:
  - name: batch-daily
    kind: beam
    pipeline: batch
    profile: local
    args: ["--lake=%s"]
    cron: "15 2 * * *"
    start_date: 2026-11-01
    catchup: %d
    retries: {max: 1, backoff: 5s, max_backoff: 10s}
    timeout: 20m
    max_parallel: 2
  - name: top-teams-daily
    kind: sql
    sql: ../../schedules/sql/top_teams_daily.sql
    destination: serving.top_teams_daily
    depends_on: [batch-daily]
    cron: "30 2 * * *"
    start_date: 2026-11-01
    catchup: %d
    retries: {max: 1, backoff: 5s, max_backoff: 10s}
    timeout: 10m
`, lake, catchup, catchup)
}

type views struct {
	Users []schemas.UserScoreDaily
	Teams []schemas.TeamScore
	Stats []schemas.GameStatsDaily
}

func (e *env) views(t *testing.T, d civil.Date) views {
	c := e.bq.Catalog()
	return normalise(views{
		Users: query[schemas.UserScoreDaily](t, e.client, fmt.Sprintf("SELECT * FROM `%s` WHERE day = '%s'", c.TableID(catalog.TableUserScoresDaily), d)),
		Teams: query[schemas.TeamScore](t, e.client, fmt.Sprintf("SELECT * FROM `%s` WHERE DATE(window_start) = '%s'", c.TableID(catalog.TableTeamScoresHourly), d)),
		Stats: query[schemas.GameStatsDaily](t, e.client, fmt.Sprintf("SELECT * FROM `%s` WHERE day = '%s'", c.TableID(catalog.TableGameStatsDaily), d)),
	})
}

func normalise(v views) views {
	sort.Slice(v.Users, func(i, j int) bool {
		a, b := v.Users[i], v.Users[j]
		return a.User+"\x00"+a.Team < b.User+"\x00"+b.Team
	})
	for i := range v.Teams {
		r := &v.Teams[i]
		r.WindowStart, r.WindowEnd, r.ProcessingTime = r.WindowStart.UTC(), r.WindowEnd.UTC(), r.ProcessingTime.UTC()
	}
	sort.Slice(v.Teams, func(i, j int) bool {
		a, b := v.Teams[i], v.Teams[j]
		return a.WindowStart.Before(b.WindowStart) || a.WindowStart.Equal(b.WindowStart) && a.Team < b.Team
	})
	for i := range v.Stats {
		v.Stats[i].MeanSessionMinutes = math.Round(v.Stats[i].MeanSessionMinutes*1e9) / 1e9 // floats cross REST as text
	}
	sort.Slice(v.Stats, func(i, j int) bool { return v.Stats[i].Team < v.Stats[j].Team })
	return v
}

func expectedViews(t *testing.T, lake string, d civil.Date) views {
	t.Helper()
	ref, err := reference.Compute(context.Background(), lake, d, d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v := normalise(views{Users: ref.UserScoresDaily, Teams: ref.TeamScoresHourly, Stats: ref.GameStatsDaily})
	if len(v.Users) == 0 || len(v.Teams) == 0 || len(v.Stats) == 0 {
		t.Fatalf("the reference found no rows for %s: the test data is wrong", d)
	}
	return v
}

// expectedTop is the top ten teams of d by total score from the reference,
// ties by team name: what the SQL job must write.
func expectedTop(t *testing.T, lake string, d civil.Date) []schemas.TopTeamDaily {
	t.Helper()
	v := expectedViews(t, lake, d)
	totals := map[string]*schemas.TopTeamDaily{}
	for _, r := range v.Teams {
		if totals[r.Team] == nil {
			totals[r.Team] = &schemas.TopTeamDaily{Day: d, Team: r.Team}
		}
		totals[r.Team].Score += r.Score
		totals[r.Team].Events += r.Events
	}
	var out []schemas.TopTeamDaily
	for _, r := range totals {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Score > out[j].Score || out[i].Score == out[j].Score && out[i].Team < out[j].Team
	})
	if len(out) > 10 {
		out = out[:10]
	}
	for i := range out {
		out[i].Rank = int64(i + 1)
	}
	return out
}

func (e *env) top(t *testing.T, d civil.Date) []schemas.TopTeamDaily {
	return query[schemas.TopTeamDaily](t, e.client, fmt.Sprintf("SELECT * FROM `%s` WHERE day = '%s' ORDER BY `rank`", e.bq.Catalog().TableID(catalog.TableTopTeamsDaily), d))
}

func checkDate(t *testing.T, e *env, lake string, d civil.Date) {
	t.Helper()
	if got, want := e.views(t, d), expectedViews(t, lake, d); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: the batch views differ from internal/reference: %d/%d/%d rows, want %d/%d/%d", d,
			len(got.Users), len(got.Teams), len(got.Stats), len(want.Users), len(want.Teams), len(want.Stats))
	}
}

func checkTop(t *testing.T, e *env, lake string, d civil.Date) {
	t.Helper()
	got, want := e.top(t, d), expectedTop(t, lake, d)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: serving.top_teams_daily\n got  %+v\n want %+v", d, got, want)
	}
}

var days = []civil.Date{{Year: 2026, Month: 11, Day: 1}, {Year: 2026, Month: 11, Day: 2}, {Year: 2026, Month: 11, Day: 3}}

// TestBackfillOnPrismThenScheduledSQL: a backfill of the batch job over
// three dates on prism writes exactly the reference's rows for each date;
// rerunning it leaves identical contents and adds ledger rows. The
// scheduled SQL job then computes the top teams of those dates, again
// idempotently, and when the batch job and the SQL job are due for the same
// date, the SQL job waits for it.
func TestBackfillOnPrismThenScheduledSQL(t *testing.T) {
	e := newEnvOwnBigQuery(t)
	lake := writeLake(t, e)
	f := parse(t, realJobs(t, lake, 3))
	ctx := context.Background()
	// As `railyard backfill --now 2026-11-04T02:40:00Z` would.
	s := e.scheduler(t, f, schedOpts{clock: clock.Offset(ts("2026-11-04T02:40:00Z")), lock: e.locker(t, "", clock.Real(), "a"), poll: time.Second})

	var progress []string
	var mu sync.Mutex
	backfill := func(job string) []Outcome {
		t.Helper()
		start := time.Now()
		// One date at a time: two pipelines writing to the emulator at once
		// have broken it (README, Known limits); the fake-clock tests cover
		// --parallel.
		out, err := s.Backfill(ctx, BackfillOptions{Job: job, From: days[0], To: days[2], Parallel: 1,
			Progress: func(done, total int, o Outcome) {
				mu.Lock()
				progress = append(progress, fmt.Sprintf("%d/%d %s", done, total, o.Status))
				mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("backfill %s of 3 dates: %s in %s", job, summary(out), time.Since(start).Round(time.Millisecond))
		for i, o := range out {
			if o.Partition != days[i] || o.Status != schemas.RunSucceeded || o.Attempts != 1 || o.Rows <= 0 || o.Duration <= 0 {
				t.Fatalf("backfill %s: %+v", job, o)
			}
		}
		return out
	}
	first := backfill("batch-daily")
	if strings.Join(progress, ",") != "1/3 SUCCEEDED,2/3 SUCCEEDED,3/3 SUCCEEDED" {
		t.Fatalf("progress %v", progress)
	}
	contents := map[civil.Date]views{}
	for i, d := range days {
		checkDate(t, e, lake, d)
		contents[d] = e.views(t, d)
		if v := contents[d]; first[i].Rows != int64(len(v.Users)+len(v.Teams)+len(v.Stats)) {
			t.Errorf("%s: backfill reports %d rows, the views hold %d", d, first[i].Rows, len(v.Users)+len(v.Teams)+len(v.Stats))
		}
	}
	backfill("batch-daily")
	for _, d := range days {
		if got := e.views(t, d); !reflect.DeepEqual(got, contents[d]) {
			t.Errorf("%s: the rerun changed the contents", d)
		}
	}
	rows := e.rows(t, "batch-daily")
	runs := map[string]bool{}
	for _, r := range rows {
		runs[r.RunID] = true
		if r.Status != schemas.RunSucceeded || r.Runner.StringVal != "prism" || r.Attempt.Int64 != 1 || !strings.Contains(r.RunID, "-backfill-") ||
			!r.ScheduledFor.Timestamp.Equal(ts(civil.Date.AddDays(mustDate(r.Partition), 1).String()+"T02:15:00Z")) {
			t.Fatalf("ledger row %+v", r)
		}
	}
	if len(rows) != 18 || len(runs) != 6 {
		t.Fatalf("ledger: %d rows of %d runs, want 2 backfills × 3 dates × 3 views = 18 rows of 6 runs", len(rows), len(runs))
	}

	// The schedule at 2026-11-04 02:40: the batch dates are covered by the
	// backfill (it stands for their firings), the SQL job's are due.
	out, err := s.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(out); got != "top-teams-daily 2026-11-01 SUCCEEDED 1;top-teams-daily 2026-11-02 SUCCEEDED 1;top-teams-daily 2026-11-03 SUCCEEDED 1;" {
		t.Fatalf("schedule: %s", got)
	}
	tops := map[civil.Date][]schemas.TopTeamDaily{}
	for i, d := range days {
		checkTop(t, e, lake, d)
		tops[d] = e.top(t, d)
		if out[i].Rows != int64(len(tops[d])) {
			t.Errorf("%s: outcome says %d rows, the partition holds %d", d, out[i].Rows, len(tops[d]))
		}
	}
	// Idempotent: running the SQL job again replaces each partition with
	// the same rows.
	backfill("top-teams-daily")
	for _, d := range days {
		if got := e.top(t, d); !reflect.DeepEqual(got, tops[d]) {
			t.Errorf("%s: rerunning the SQL job changed the partition:\n got  %+v\n want %+v", d, got, tops[d])
		}
	}
	if rows := e.rows(t, "top-teams-daily"); len(rows) != 6 || rows[0].View != catalog.TableTopTeamsDaily || rows[0].Runner.StringVal != "bigquery" {
		t.Fatalf("sql ledger rows: %d, first %+v", len(rows), rows[0])
	}

	// A day later both jobs are due for 2026-11-04: the SQL job waits for
	// the batch job of that date.
	s2 := e.scheduler(t, f, schedOpts{clock: clock.Offset(ts("2026-11-05T02:40:00Z")), lock: e.locker(t, "", clock.Real(), "b"), poll: time.Second, name: "next-day"})
	out, err = s2.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(out); got != "batch-daily 2026-11-04 SUCCEEDED 1;top-teams-daily 2026-11-04 SUCCEEDED 1;" {
		t.Fatalf("next day: %s", got)
	}
	logs := e.logs.String()
	batchDone := strings.Index(logs, `"instance":"next-day","job":"batch-daily","partition":"2026-11-04","scheduled_for":"2026-11-05T02:15:00Z","attempt":1,"run_id"`)
	waited := strings.Index(logs, `"msg":"waiting for a dependency","instance":"next-day","job":"top-teams-daily","partition":"2026-11-04"`)
	sqlStart := strings.Index(logs, `"msg":"attempt started","instance":"next-day","job":"top-teams-daily","partition":"2026-11-04"`)
	succeeded := strings.Index(logs, `"msg":"attempt succeeded","instance":"next-day","job":"batch-daily","partition":"2026-11-04"`)
	if batchDone < 0 || waited < 0 || sqlStart < 0 || succeeded < 0 || !(waited < succeeded && succeeded < sqlStart) {
		t.Fatalf("order in the logs: batch attempt %d, sql waits %d, batch succeeded %d, sql starts %d", batchDone, waited, succeeded, sqlStart)
	}
	d4 := civil.Date{Year: 2026, Month: 11, Day: 4}
	checkDate(t, e, lake, d4)
	checkTop(t, e, lake, d4)
}

func mustDate(s string) civil.Date {
	d, err := civil.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestTwoSchedulersRunEveryPartitionOnce: two schedulers with their own
// clients and lock handles, on the same fake GCS locks and the same
// emulator, run what is due at the same time: every partition of every job
// runs exactly once, and the results are right.
func TestTwoSchedulersRunEveryPartitionOnce(t *testing.T) {
	e := newEnvOwnBigQuery(t)
	lake := writeLake(t, e)
	f := parse(t, realJobs(t, lake, 2))
	now := ts("2026-11-04T02:40:00Z")
	lockURL := "gs://locks/" + t.Name()
	var all []Outcome
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		s := e.scheduler(t, f, schedOpts{clock: clock.Offset(now), lock: e.locker(t, lockURL, clock.Real(), name), poll: time.Second, name: name})
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.Once(context.Background())
			if err != nil {
				t.Error(err)
			}
			t.Logf("scheduler %s: %s", name, summary(out))
			mu.Lock()
			all = append(all, out...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	succeeded := map[string]int{}
	for _, o := range all {
		if o.Status == schemas.RunSucceeded {
			succeeded[o.Job+" "+o.Partition.String()]++
		}
	}
	want := map[string]int{"batch-daily 2026-11-02": 1, "batch-daily 2026-11-03": 1, "top-teams-daily 2026-11-02": 1, "top-teams-daily 2026-11-03": 1}
	if !reflect.DeepEqual(succeeded, want) {
		t.Fatalf("successes across both schedulers: %v, want each partition once", succeeded)
	}
	// The ledger agrees: one attempt per partition and job.
	for _, job := range []string{"batch-daily", "top-teams-daily"} {
		runs := map[string]map[string]bool{}
		for _, r := range e.rows(t, job) {
			if runs[r.Partition] == nil {
				runs[r.Partition] = map[string]bool{}
			}
			runs[r.Partition][r.RunID] = true
			if r.Status != schemas.RunSucceeded {
				t.Errorf("%s: %+v", job, r)
			}
		}
		if len(runs) != 2 || len(runs["2026-11-02"]) != 1 || len(runs["2026-11-03"]) != 1 {
			t.Fatalf("%s: runs per partition %v", job, runs)
		}
	}
	for _, d := range days[1:] {
		checkDate(t, e, lake, d)
		checkTop(t, e, lake, d)
	}
	// And a third scheduler at the same time finds nothing to do.
	s := e.scheduler(t, f, schedOpts{clock: clock.Offset(now), lock: e.locker(t, lockURL, clock.Real(), "c"), poll: time.Second})
	if out, err := s.Once(context.Background()); err != nil || len(out) != 0 {
		t.Fatalf("third scheduler: %s %v", summary(out), err)
	}
}
