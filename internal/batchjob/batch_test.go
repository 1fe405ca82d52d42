package batchjob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/reference"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

func TestMain(m *testing.M) {
	code := ptest.MainRetWithDefault(m, "prism")
	jobServers.Stop()
	os.Exit(code)
}

// batchEnv is a local stack with a generated lake on fake GCS and the
// catalog applied to the BigQuery emulator; plan is the plan its runs use.
type batchEnv struct {
	stack  *localstack.Stack
	bq     cliflags.BigQuery
	lake   string
	client *bigquery.Client
	plan   string
}

func newBatchEnv(t *testing.T, prefix string, events int64) *batchEnv {
	t.Helper()
	ctx := context.Background()
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, BigQuery: true, Buckets: []string{"lake"}})
	stack.SetEnvForTest(t)
	env := &batchEnv{
		stack: stack,
		lake:  "gs://lake/" + prefix + "lake",
	}
	// 30 hours from 2026-11-01T00:00Z: a full day and part of the next.
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed, cfg.Hours = events, 7, 30
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WriteLake(ctx, g, env.lake, gen.LakeOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	return env.withDatasets(t, prefix)
}

// withDatasets is the environment writing to datasets of its own prefix,
// with the catalog applied there.
func (e *batchEnv) withDatasets(t *testing.T, prefix string) *batchEnv {
	t.Helper()
	ctx := context.Background()
	env := *e
	env.bq = cliflags.BigQuery{Project: e.stack.Project, Endpoint: e.stack.BigQueryEndpoint, DatasetPrefix: prefix}
	client, err := env.bq.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	env.client = client
	if err := env.bq.ApplyCatalog(ctx, client); err != nil {
		t.Fatal(err)
	}
	return &env
}

func (e *batchEnv) run(t *testing.T, date, runID string) Reconciliation {
	t.Helper()
	var out bytes.Buffer
	rec, err := Run(context.Background(), Config{Lake: e.lake, Date: date, Views: strings.Join(ViewNames(), ","), RunID: runID, BQ: e.bq, Plan: e.plan}, &out)
	t.Logf("batch run %s:\n%s", runID, out.String())
	if err != nil {
		t.Fatalf("batch run %s: %v", runID, err)
	}
	return rec
}

// query reads every row of a query into a slice of T.
func query[T any](t *testing.T, client *bigquery.Client, sql string) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	it, err := client.Query(sql).Read(ctx)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []T
	for {
		var row T
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		out = append(out, row)
	}
}

// tables reads the three batch views of one date, normalised for comparison.
type viewRows struct {
	Users []schemas.UserScoreDaily
	Teams []schemas.TeamScore
	Stats []schemas.GameStatsDaily
}

func (e *batchEnv) views(t *testing.T, d civil.Date) viewRows {
	c := e.bq.Catalog()
	v := viewRows{
		Users: query[schemas.UserScoreDaily](t, e.client, fmt.Sprintf("SELECT * FROM %s WHERE day = '%s'", c.TableID(catalog.TableUserScoresDaily), d)),
		Teams: query[schemas.TeamScore](t, e.client, fmt.Sprintf("SELECT * FROM %s WHERE DATE(window_start) = '%s'", c.TableID(catalog.TableTeamScoresHourly), d)),
		Stats: query[schemas.GameStatsDaily](t, e.client, fmt.Sprintf("SELECT * FROM %s WHERE day = '%s'", c.TableID(catalog.TableGameStatsDaily), d)),
	}
	return normalise(v)
}

func normalise(v viewRows) viewRows {
	sort.Slice(v.Users, func(i, j int) bool {
		a, b := v.Users[i], v.Users[j]
		return a.Day.String()+a.User+"\x00"+a.Team < b.Day.String()+b.User+"\x00"+b.Team
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
		// Floats cross the REST API as text: compare to 1e-9.
		v.Stats[i].MeanSessionMinutes = math.Round(v.Stats[i].MeanSessionMinutes*1e9) / 1e9
	}
	sort.Slice(v.Stats, func(i, j int) bool {
		a, b := v.Stats[i], v.Stats[j]
		return a.Day.String()+a.Team < b.Day.String()+b.Team
	})
	return v
}

func expected(t *testing.T, lake string, d civil.Date) (viewRows, reference.Counts) {
	t.Helper()
	ref, err := reference.Compute(context.Background(), lake, d, d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return normalise(viewRows{Users: ref.UserScoresDaily, Teams: ref.TeamScoresHourly, Stats: ref.GameStatsDaily}), ref.Counts
}

func compareViews(t *testing.T, what string, got, want viewRows) {
	t.Helper()
	if len(want.Users) == 0 || len(want.Teams) == 0 || len(want.Stats) == 0 {
		t.Fatalf("%s: the reference found no rows; the test data is wrong", what)
	}
	for _, c := range []struct {
		name      string
		got, want any
		n, m      int
	}{
		{"user_scores_daily", got.Users, want.Users, len(got.Users), len(want.Users)},
		{"team_scores_hourly", got.Teams, want.Teams, len(got.Teams), len(want.Teams)},
		{"game_stats_daily", got.Stats, want.Stats, len(got.Stats), len(want.Stats)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			g, w := reflect.ValueOf(c.got), reflect.ValueOf(c.want)
			for i := 0; i < g.Len() && i < w.Len(); i++ {
				if !reflect.DeepEqual(g.Index(i).Interface(), w.Index(i).Interface()) {
					t.Errorf("%s: %s first difference at row %d:\n got  %+v\n want %+v", what, c.name, i, g.Index(i).Interface(), w.Index(i).Interface())
					break
				}
			}
			t.Errorf("%s: %s differs from the reference: %d rows, want %d\n got[:3]  %+v\n want[:3] %+v",
				what, c.name, c.n, c.m, head(c.got), head(c.want))
		}
	}
}

func head(rows any) any {
	v := reflect.ValueOf(rows)
	if v.Len() > 3 {
		return v.Slice(0, 3).Interface()
	}
	return rows
}

// TestBatchEndToEnd runs the whole job against the emulator with each
// plan, each into datasets of its own, over the same lake.
func TestBatchEndToEnd(t *testing.T) {
	lakeEnv := newBatchEnv(t, "e2e_", 30_000)
	for _, plan := range Plans {
		t.Run(plan, func(t *testing.T) {
			env := lakeEnv
			if plan != Plans[0] {
				env = lakeEnv.withDatasets(t, "e2e_"+plan+"_")
			}
			env.plan = plan
			testEndToEnd(t, env)
		})
	}
}

func testEndToEnd(t *testing.T, env *batchEnv) {
	day1 := civil.Date{Year: 2026, Month: 11, Day: 1}
	day2 := civil.Date{Year: 2026, Month: 11, Day: 2}

	// Day 2 first, so that day 1's runs must leave it alone.
	env.run(t, day2.String(), "run-day2")
	want2, _ := expected(t, env.lake, day2)
	compareViews(t, "day 2", env.views(t, day2), want2)

	rec := env.run(t, day1.String(), "run-1")
	want1, counts := expected(t, env.lake, day1)
	got1 := env.views(t, day1)
	compareViews(t, "day 1, first run", got1, want1)

	// The pipeline's Reconciliation agrees with the reference's counts.
	if counts.OutsidePartition != 0 {
		t.Fatalf("generated lake has %d events outside their partition; the comparison below assumes none", counts.OutsidePartition)
	}
	if rec.Read != counts.Read || rec.Invalid != counts.Invalid || rec.Unique != counts.Unique || rec.Duplicates != counts.Duplicates {
		t.Errorf("Reconciliation read/invalid/unique/duplicates = %d/%d/%d/%d, reference %d/%d/%d/%d",
			rec.Read, rec.Invalid, rec.Unique, rec.Duplicates, counts.Read, counts.Invalid, counts.Unique, counts.Duplicates)
	}
	if counts.Invalid == 0 || counts.Duplicates == 0 {
		t.Fatalf("the generated day has no invalid lines or duplicates (%d, %d); the test proves nothing", counts.Invalid, counts.Duplicates)
	}

	// Every invalid line is in ops.dead_letters, by reason, under the run's id.
	c := env.bq.Catalog()
	type reasonCount struct {
		Reason string `bigquery:"reason"`
		N      int64  `bigquery:"n"`
	}
	dead := query[reasonCount](t, env.client, fmt.Sprintf(
		"SELECT reason, COUNT(*) AS n FROM %s WHERE run_id = 'run-1' GROUP BY reason", c.TableID(catalog.TableDeadLetters)))
	gotDead := map[string]int64{}
	for _, r := range dead {
		gotDead[r.Reason] = r.N
	}
	wantDead := map[string]int64{}
	for r, n := range counts.InvalidByReason {
		wantDead[string(r)] = n
	}
	if !reflect.DeepEqual(gotDead, wantDead) {
		t.Errorf("dead letters of run-1 by reason = %v, want %v", gotDead, wantDead)
	}

	// A second run of the same date leaves identical contents and adds a
	// second ledger row per view.
	env.run(t, day1.String(), "run-2")
	compareViews(t, "day 1, second run", env.views(t, day1), got1)
	compareViews(t, "day 2 after day 1's runs", env.views(t, day2), want2)

	ledger := query[schemas.BatchRun](t, env.client, fmt.Sprintf(
		"SELECT * FROM %s WHERE `partition` = '%s' ORDER BY run_id, view", c.TableID(catalog.TableBatchRuns), day1))
	if len(ledger) != 2*len(views) {
		t.Fatalf("ledger has %d rows for %s, want %d: %+v", len(ledger), day1, 2*len(views), ledger)
	}
	wantRows := map[string]int64{
		catalog.TableUserScoresDaily: int64(len(want1.Users)), catalog.TableTeamScoresHourly: int64(len(want1.Teams)),
		catalog.TableGameStatsDaily: int64(len(want1.Stats)),
	}
	for _, r := range ledger {
		if r.Status != schemas.RunSucceeded || r.InputEvents != counts.Read || r.DeadLetters != counts.DeadLetters() || r.RowsWritten != wantRows[r.View] {
			t.Errorf("ledger row %+v: want SUCCEEDED, input %d, dead letters %d, rows %d", r, counts.Read, counts.DeadLetters(), wantRows[r.View])
		}
	}
}
