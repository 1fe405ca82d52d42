package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

func TestScheduleCommandsHelpAndBadFile(t *testing.T) {
	for _, args := range [][]string{{"schedule", "run", "--help"}, {"schedule", "status", "--help"}, {"schedule", "install", "--help"}, {"backfill", "--help"}} {
		out, _, err := runRailyard(t, args...)
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--file") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("jobs:\n  - name: a\n    kind: beam\n    pipeline: batch\n    cron: '15 2 * *'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runRailyard(t, "schedule", "run", "--once", "--file", bad, "--bq_project", "p")
	if err == nil || !strings.Contains(err.Error(), bad+`:5: job "a": cron: "15 2 * *": expected exactly 5 fields`) {
		t.Fatalf("bad file: %v", err)
	}
	if _, _, err := runRailyard(t, "backfill", "--file", "../../schedules/railyard.yaml", "--job", "nosuch", "--from", "2026-11-01", "--bq_project", "p"); err == nil {
		t.Fatal("a backfill of an unknown job ran")
	}
}

// TestScheduleCommandsOnEmulator runs the commands as an operator would, on
// a sql job over planted batch rows: run --once (twice), status, backfill
// (dry run and real), metrics file.
func TestScheduleCommandsOnEmulator(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	bq := cliflags.BigQuery{Project: stack.Project, Endpoint: stack.BigQueryEndpoint, DatasetPrefix: "cli_sched_"}
	ctx := context.Background()
	client, err := bq.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := bq.ApplyCatalog(ctx, client); err != nil {
		t.Fatal(err)
	}
	// Hourly team scores for 2026-11-01 and 2026-11-02.
	var rows []schemas.TeamScore
	for d := 1; d <= 2; d++ {
		for i, team := range []string{"Red", "Blue", "Green"} {
			ws := time.Date(2026, 11, d, 10, 0, 0, 0, time.UTC)
			rows = append(rows, schemas.TeamScore{Team: team, Score: int64(10*(i+1) + d), Events: int64(i + 1), WindowStart: ws, WindowEnd: ws.Add(time.Hour),
				Timing: schemas.TimingOnTime, IsLast: true, ProcessingTime: ws.Add(time.Hour)})
		}
	}
	ds, table, _ := strings.Cut(bq.Catalog().TableID(catalog.TableTeamScoresHourly), ".")
	if err := client.Dataset(ds).Table(table).Inserter().Put(ctx, rows); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sql, err := os.ReadFile("../../schedules/sql/top_teams_daily.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sql"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sql", "top.sql"), sql, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "schedule.yaml")
	if err := os.WriteFile(file, []byte(`jobs:
  - name: top
    kind: sql
    sql: sql/top.sql
    destination: serving.top_teams_daily
    cron: "30 2 * * *"
    start_date: 2026-11-01
    catchup: 3
`), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--file", file, "--lock", "file://" + filepath.Join(dir, "locks"), "--bq_project", bq.Project,
		"--bq_endpoint", bq.Endpoint, "--dataset_prefix", bq.DatasetPrefix, "--now", "2026-11-03T03:00:00Z"}
	run := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := runRailyard(t, append(args, common...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s\n%s", args, err, out, errOut)
		}
		return squeeze(out), errOut
	}
	metrics := filepath.Join(dir, "metrics.prom")
	out, logs := run("schedule", "run", "--once", "--metrics_file", metrics)
	for _, want := range []string{"JOB", "top 2026-11-01 2026-11-02T02:30:00Z SUCCEEDED 1 3", "top 2026-11-02 2026-11-03T02:30:00Z SUCCEEDED 1 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("schedule run --once output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(logs, `"msg":"attempt succeeded"`) || !strings.Contains(logs, `"level":"INFO"`) {
		t.Errorf("no JSON logs on standard error:\n%s", logs)
	}
	prom, err := os.ReadFile(metrics)
	if err != nil || !strings.Contains(string(prom), `railyard_schedule_runs_total{job="top",status="succeeded",trigger="schedule"} 2`) {
		t.Errorf("metrics file: %v\n%s", err, prom)
	}
	top := query[schemas.TopTeamDaily](t, client, "SELECT * FROM `"+bq.Catalog().TableID(catalog.TableTopTeamsDaily)+"` WHERE day = '2026-11-02' ORDER BY `rank`")
	if len(top) != 3 || top[0].Team != "Green" || top[0].Score != 32 || top[0].Rank != 1 || top[2].Team != "Red" || top[2].Rank != 3 {
		t.Fatalf("top teams of 2026-11-02: %+v", top)
	}

	if out, _ := run("schedule", "run", "--once"); !strings.Contains(out, "nothing was due") {
		t.Fatalf("second --once:\n%s", out)
	}
	out, _ = run("schedule", "status")
	if !strings.Contains(out, "top sql 30 2 * * * UTC 2026-11-02 (ended") || !strings.Contains(out, "2026-11-04T02:30:00Z for 2026-11-03 0 0 0") {
		t.Fatalf("status:\n%s", out)
	}
	out, _ = run("backfill", "--job", "top", "--from", "2026-11-01", "--to", "2026-11-03", "--exclude", "2026-11-02", "--dry_run")
	if !strings.Contains(out, "top 2026-11-01") || !strings.Contains(out, "DRY RUN") || !strings.Contains(out, "EXCLUDED") ||
		!strings.Contains(out, "would run sql/top.sql with @partition = 2026-11-03") {
		t.Fatalf("dry run:\n%s", out)
	}
	out, progress := run("backfill", "--job", "top", "--from", "2026-11-01", "--to", "2026-11-02", "--progress", "log")
	if !strings.Contains(out, "top 2026-11-01 2026-11-02T02:30:00Z SUCCEEDED 1 3") || !strings.Contains(progress, "railyard backfill: 2/2 dates") {
		t.Fatalf("backfill:\n%s\n%s", out, progress)
	}
	// A backfill that fails names the failed dates and exits non-zero: a
	// destination the script cannot write.
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(broken, []byte("jobs:\n  - name: top\n    kind: sql\n    sql: sql/top.sql\n    destination: serving.nosuch\n    partition_column: day\n    cron: '30 2 * * *'\n    retries: {max: 0}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"backfill", "--job", "top", "--from", "2026-11-01", "--progress", "none"}, common...)
	args[len(args)-len(common)+1] = broken
	out, _, err = runRailyard(t, args...)
	if err == nil || !strings.Contains(out, "failed dates: 2026-11-01") || !strings.Contains(err.Error(), "1 of 1 date(s) failed") {
		t.Fatalf("failing backfill: %v\n%s", err, out)
	}
}

// query reads every row of sql into a slice of T.
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

// squeeze collapses the column padding of a table to single spaces.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
