package catalog_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"google.golang.org/api/iterator"
)

// These tests run plan and apply against goccy's BigQuery emulator.

func emulatorClient(t *testing.T) *bigquery.Client {
	t.Helper()
	stack := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	client, err := stack.GCPConfig().BigQuery(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// onEmulator recreates tables instead of updating them: the emulator
// acknowledges table updates without persisting them.
var onEmulator = catalog.ApplyOptions{RecreateOnEmulator: true}

func kinds(p catalog.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Kind)+" "+c.Target())
	}
	return out
}

func mustPlan(t *testing.T, c catalog.Catalog, client *bigquery.Client) catalog.Plan {
	t.Helper()
	p, err := c.Plan(context.Background(), client)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func TestApplyCreatesEverythingAndConverges(t *testing.T) {
	ctx := context.Background()
	client := emulatorClient(t)
	c := catalog.Default().WithPrefix("fresh_")

	plan := mustPlan(t, c, client)
	// Datasets, then tables, then views: a view may read any table.
	want := []string{
		"create dataset fresh_batch", "create dataset fresh_realtime", "create dataset fresh_serving", "create dataset fresh_ops",
		"create table fresh_batch.game_stats_daily", "create table fresh_batch.team_scores_hourly", "create table fresh_batch.user_scores_daily",
		"create table fresh_realtime.game_stats_sessions", "create table fresh_realtime.game_stats_team_scores",
		"create table fresh_realtime.team_scores", "create table fresh_realtime.user_scores",
		"create table fresh_realtime.user_scores_daily",
		"create table fresh_serving.top_teams_daily",
		"create table fresh_ops.batch_runs", "create table fresh_ops.dead_letters",
		"create table fresh_ops.stream_progress",
		"create view fresh_serving.team_scores_hourly", "create view fresh_serving.user_scores_daily",
		"create view fresh_ops.dead_letter_summary",
	}
	if got := kinds(plan); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan on an empty project:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var applied []string
	if err := c.Apply(ctx, client, plan, catalog.ApplyOptions{RecreateOnEmulator: true, Progress: func(ch catalog.Change) { applied = append(applied, ch.String()) }}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(applied) != len(want) {
		t.Fatalf("progress reported %d changes, want %d", len(applied), len(want))
	}

	// The live tables carry the catalog's schema, partitioning and clustering.
	md, err := client.Dataset("fresh_batch").Table("team_scores_hourly").Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.TimePartitioning == nil || md.TimePartitioning.Field != "window_start" {
		t.Errorf("partitioning = %+v, want on window_start", md.TimePartitioning)
	}
	if md.Clustering == nil || !reflect.DeepEqual(md.Clustering.Fields, []string{"team"}) {
		t.Errorf("clustering = %+v, want [team]", md.Clustering)
	}
	wantSchema, _ := catalog.SchemaOf(reflect.TypeOf(schemas.TeamScore{}))
	if len(md.Schema) != len(wantSchema) {
		t.Fatalf("live schema has %d columns, want %d", len(md.Schema), len(wantSchema))
	}
	for i, f := range md.Schema {
		if f.Name != wantSchema[i].Name || f.Type != wantSchema[i].Type {
			t.Errorf("column %d = %s %s, want %s %s", i, f.Name, f.Type, wantSchema[i].Name, wantSchema[i].Type)
		}
	}

	// The view works: dead letters inserted into the table are counted.
	ins := client.Dataset("fresh_ops").Table("dead_letters").Inserter()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	rows := []*schemas.DeadLetter{
		{Time: now, Pipeline: "batch", Stage: "parse", Reason: "malformed_json", Detail: "x", Payload: []byte("{"), Attributes: "{}"},
		{Time: now, Pipeline: "batch", Stage: "parse", Reason: "malformed_json", Detail: "y", Payload: []byte("[["), Attributes: "{}"},
	}
	if err := ins.Put(ctx, rows); err != nil {
		t.Fatalf("insert dead letters: %v", err)
	}
	it, err := client.Query("SELECT reason, dead_letters FROM fresh_ops.dead_letter_summary").Read(ctx)
	if err != nil {
		t.Fatalf("query view: %v", err)
	}
	var got struct {
		Reason      string `bigquery:"reason"`
		DeadLetters int64  `bigquery:"dead_letters"`
	}
	if err := it.Next(&got); err != nil || got.Reason != "malformed_json" || got.DeadLetters != 2 {
		t.Fatalf("view row = %+v, %v; want malformed_json 2", got, err)
	}

	// Applying again has nothing to do.
	if again := mustPlan(t, c, client); len(again.Changes) != 0 {
		t.Fatalf("plan after apply is not empty:\n%s", again)
	}
}

// batchRunV2 is schemas.BatchRun with one more, NULLABLE column.
type batchRunV2 struct {
	schemas.BatchRun
	Cluster string `bigquery:"cluster" desc:"Cluster that executed the run." bqmode:"NULLABLE"`
}

// deadLetterWithoutDetail drops the detail column of schemas.DeadLetter.
type deadLetterWithoutDetail struct {
	Time       time.Time `bigquery:"time" desc:"d"`
	Pipeline   string    `bigquery:"pipeline" desc:"d"`
	Stage      string    `bigquery:"stage" desc:"d"`
	Reason     string    `bigquery:"reason" desc:"d"`
	Source     string    `bigquery:"source" desc:"d"`
	Payload    []byte    `bigquery:"payload" desc:"d"`
	Attributes string    `bigquery:"attributes" desc:"d"`
}

// withRowType returns c with the row type of table ref replaced.
func withRowType(c catalog.Catalog, ref string, rt reflect.Type) catalog.Catalog {
	tables := append([]catalog.Table(nil), c.Tables...)
	for i := range tables {
		if tables[i].Ref() == ref {
			tables[i].RowType = rt
		}
	}
	c.Tables = tables
	return c
}

func TestApplyAddsNullableColumn(t *testing.T) {
	ctx := context.Background()
	client := emulatorClient(t)
	base := catalog.Default().WithPrefix("add_")
	if err := base.Apply(ctx, client, mustPlan(t, base, client), onEmulator); err != nil {
		t.Fatal(err)
	}

	// A ledger row written before the change must survive it.
	run := schemas.BatchRun{View: "batch.team_scores_hourly", Partition: "2026-11-01", RunID: "r1",
		StartTime: time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 11, 2, 1, 5, 0, 0, time.UTC),
		InputEvents: 100, RowsWritten: 24, DeadLetters: 1, Status: schemas.RunSucceeded}
	if err := client.Dataset("add_ops").Table("batch_runs").Inserter().Put(ctx, &run); err != nil {
		t.Fatal(err)
	}

	v2 := withRowType(base, catalog.TableBatchRuns, reflect.TypeOf(batchRunV2{}))
	plan := mustPlan(t, v2, client)
	if got := kinds(plan); strings.Join(got, "|") != "add column add_ops.batch_runs column cluster" {
		t.Fatalf("plan = %q, want one added column", got)
	}
	// The emulator acknowledges a table update without persisting it; the
	// read-back after the update must catch that rather than report success.
	err := v2.Apply(ctx, client, plan, catalog.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "did not persist") {
		t.Fatalf("apply by update on the emulator: err = %v, want a not-persisted error", err)
	}
	if err := v2.Apply(ctx, client, plan, onEmulator); err != nil {
		t.Fatalf("apply additive change: %v", err)
	}
	md, err := client.Dataset("add_ops").Table("batch_runs").Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := md.Schema[len(md.Schema)-1]
	if last.Name != "cluster" || last.Type != bigquery.StringFieldType || last.Required {
		t.Fatalf("last live column = %+v, want NULLABLE STRING cluster", last)
	}
	if again := mustPlan(t, v2, client); len(again.Changes) != 0 {
		t.Fatalf("plan after additive apply is not empty:\n%s", again)
	}
	it, err := client.Query("SELECT run_id, input_events, rows_written, status, cluster FROM add_ops.batch_runs").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var row struct {
		RunID       string              `bigquery:"run_id"`
		InputEvents int64               `bigquery:"input_events"`
		RowsWritten int64               `bigquery:"rows_written"`
		Status      string              `bigquery:"status"`
		Cluster     bigquery.NullString `bigquery:"cluster"`
	}
	if err := it.Next(&row); err != nil {
		t.Fatalf("ledger row lost by the schema change: %v", err)
	}
	if row.RunID != "r1" || row.InputEvents != 100 || row.RowsWritten != 24 || row.Status != schemas.RunSucceeded || row.Cluster.Valid {
		t.Fatalf("ledger row after the schema change = %+v", row)
	}
	if err := it.Next(&row); err != iterator.Done {
		t.Fatalf("more than one ledger row after the schema change: %v", err)
	}
}

// TestApplyAddsColumnsBeforeCreatingViews upgrades a deployment from
// before the serving layer: the realtime tables lack run_id and the
// serving views, which read run_id, do not exist. Apply must add the
// columns first, or creating the views fails.
func TestApplyAddsColumnsBeforeCreatingViews(t *testing.T) {
	ctx := context.Background()
	client := emulatorClient(t)
	current := catalog.Default().WithPrefix("up_")
	old := withRowType(current, catalog.TableRealtimeTeam, reflect.TypeOf(schemas.TeamScore{}))
	var tables []catalog.Table
	for _, tb := range old.Tables {
		if tb.Dataset != catalog.DatasetServing {
			tables = append(tables, tb)
		}
	}
	old.Tables = tables
	if err := old.Apply(ctx, client, mustPlan(t, old, client), onEmulator); err != nil {
		t.Fatal(err)
	}
	plan := mustPlan(t, current, client)
	got := strings.Join(kinds(plan), "|")
	for _, want := range []string{"add column up_realtime.team_scores column run_id", "create view up_serving.team_scores_hourly"} {
		if !strings.Contains(got, want) {
			t.Fatalf("upgrade plan %q lacks %q", got, want)
		}
	}
	if err := current.Apply(ctx, client, plan, onEmulator); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if again := mustPlan(t, current, client); len(again.Changes) != 0 {
		t.Fatalf("plan after the upgrade is not empty:\n%s", again)
	}
	it, err := client.Query("SELECT COUNT(*) FROM up_serving.team_scores_hourly").Read(ctx)
	if err != nil {
		t.Fatalf("query the new view: %v", err)
	}
	var row []bigquery.Value
	if err := it.Next(&row); err != nil || row[0].(int64) != 0 {
		t.Fatalf("new view over empty tables: %v, %v", row, err)
	}
}

func TestApplyRefusesBreakingChanges(t *testing.T) {
	ctx := context.Background()
	client := emulatorClient(t)
	base := catalog.Default().WithPrefix("brk_")
	if err := base.Apply(ctx, client, mustPlan(t, base, client), onEmulator); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		catalog catalog.Catalog
		want    string
	}{
		{"dropped column", withRowType(base, catalog.TableDeadLetters, reflect.TypeOf(deadLetterWithoutDetail{})),
			"! drop column brk_ops.dead_letters column detail"},
		{"required column added", withRowType(base, catalog.TableBatchRuns, reflect.TypeOf(struct {
			schemas.BatchRun
			Cluster string `bigquery:"cluster" desc:"r"`
		}{})), "! add REQUIRED column brk_ops.batch_runs column cluster"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := mustPlan(t, tc.catalog, client)
			err := tc.catalog.Apply(ctx, client, plan, onEmulator)
			var bce *catalog.BreakingChangeError
			if !errors.As(err, &bce) {
				t.Fatalf("apply error = %v, want a BreakingChangeError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not name the table and column (%q):\n%v", tc.want, err)
			}
		})
	}

	// Nothing was changed: the base catalog still plans empty.
	if again := mustPlan(t, base, client); len(again.Changes) != 0 {
		t.Fatalf("a refused apply changed the live project:\n%s", again)
	}
}

func TestPlanDetectsLiveDrift(t *testing.T) {
	ctx := context.Background()
	client := emulatorClient(t)
	c := catalog.Default().WithPrefix("drift_")
	// Someone created ops.batch_runs by hand with a different type for a
	// column and a column the catalog does not know.
	if err := client.Dataset("drift_ops").Create(ctx, &bigquery.DatasetMetadata{}); err != nil {
		t.Fatal(err)
	}
	schema, _ := catalog.SchemaOf(reflect.TypeOf(schemas.BatchRun{}))
	for _, f := range schema {
		if f.Name == "rows_written" {
			f.Type = bigquery.StringFieldType
		}
	}
	schema = append(schema, &bigquery.FieldSchema{Name: "legacy_note", Type: bigquery.StringFieldType})
	if err := client.Dataset("drift_ops").Table("batch_runs").Create(ctx, &bigquery.TableMetadata{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	plan := mustPlan(t, c, client)
	text := plan.String()
	for _, want := range []string{
		"! change column type drift_ops.batch_runs column rows_written: live type STRING, catalog type INTEGER",
		"! drop column drift_ops.batch_runs column legacy_note",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
}
