package catalog

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
)

func TestDefaultCatalogIsConsistent(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateFindsMistakes(t *testing.T) {
	type row struct {
		A string    `bigquery:"a" desc:"a"`
		T time.Time `bigquery:"t"`
	}
	c := Catalog{
		Datasets: []Dataset{{Name: "d", Description: "x", Owner: "o"}},
		Tables: []Table{
			{Dataset: "d", Name: "t1", Description: "x", Owner: "o", RowType: typeOf[row](), Partitioning: &Partitioning{Field: "a"}, Clustering: []string{"nope"}},
			{Dataset: "missing", Name: "t2", Description: "x", Owner: "o", RowType: typeOf[row]()},
		},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken catalog")
	}
	for _, want := range []string{
		"column t has no description",
		"partitions on a of type STRING",
		"clusters on missing column nope",
		"table missing.t2 is in undeclared dataset missing",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestSchemaOf(t *testing.T) {
	type row struct {
		Name  string    `bigquery:"name" desc:"the name"`
		N     int64     `bigquery:"n" desc:"a count" bqmode:"NULLABLE"`
		When  time.Time `bigquery:"when" desc:"a time"`
		Bytes []byte    `bigquery:"bytes" desc:"raw"`
	}
	s, err := SchemaOf(typeOf[row]())
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, f := range s {
		got = append(got, f.Name+" "+string(f.Type)+" "+Mode(f)+" "+f.Description)
	}
	want := []string{"name STRING REQUIRED the name", "n INTEGER NULLABLE a count", "when TIMESTAMP REQUIRED a time", "bytes BYTES REQUIRED raw"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestPrefixAndLookup(t *testing.T) {
	c := Default().WithPrefix("dev_")
	if got := c.DatasetID("batch"); got != "dev_batch" {
		t.Fatalf("DatasetID = %s", got)
	}
	if got := c.TableID(TableTeamScoresHourly); got != "dev_batch.team_scores_hourly" {
		t.Fatalf("TableID = %s", got)
	}
	for _, ref := range []string{TableTeamScoresHourly, TableUserScoresDaily, TableGameStatsDaily, TableRealtimeTeam, TableRealtimeUser, TableRealtimeGameStatsTeams, TableRealtimeGameStatsSessions, TableDeadLetters, TableBatchRuns, ViewDeadLetterSummary} {
		if _, ok := c.Table(ref); !ok {
			t.Errorf("table %s not in catalog", ref)
		}
	}
	q, err := c.ExpandView(mustTable(t, c, ViewDeadLetterSummary), "proj")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, "FROM `proj.dev_ops.dead_letters`") {
		t.Fatalf("view query not expanded: %s", q)
	}
}

func mustTable(t *testing.T, c Catalog, ref string) Table {
	t.Helper()
	tb, ok := c.Table(ref)
	if !ok {
		t.Fatalf("no table %s", ref)
	}
	return tb
}

func TestLakeLayout(t *testing.T) {
	l, ok := Default().Lake(LakeGameEvents)
	if !ok {
		t.Fatal("no game_events lake")
	}
	ts := time.Date(2026, 11, 26, 7, 59, 0, 0, time.FixedZone("x", 3600))
	if got := l.PartitionDir(ts); got != "game_events/dt=2026-11-26/hr=06" {
		t.Fatalf("PartitionDir = %s", got)
	}
	got, err := l.ParsePartition("gs://b/lake/game_events/dt=2026-11-26/hr=06/part-0001.jsonl.gz")
	if err != nil || !got.Equal(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("ParsePartition = %v, %v", got, err)
	}
	if _, err := l.ParsePartition("game_events/dt=2026-11-26/part.gz"); err == nil {
		t.Fatal("ParsePartition accepted a path without hr=")
	}
}

func TestDDL(t *testing.T) {
	ddl, err := Default().WithPrefix("dev_").DDL("proj")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"CREATE SCHEMA IF NOT EXISTS `proj.dev_batch`",
		"CREATE TABLE IF NOT EXISTS `proj.dev_batch.team_scores_hourly` (\n  team STRING NOT NULL OPTIONS (description = \"Team.\"),",
		"PARTITION BY DATE(window_start)\nCLUSTER BY team\n",
		"partition_expiration_days = 90",
		"  payload BYTES NOT NULL",
		"  is_last BOOL NOT NULL",
		"CREATE VIEW IF NOT EXISTS `proj.dev_ops.dead_letter_summary`",
		"FROM `proj.dev_ops.dead_letters`",
		`("owner", "data-platform_railyard_dev")`,
	} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(ddl)
	}
}

func TestDocs(t *testing.T) {
	md, err := Default().Docs()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### game_events", "`game_events/dt=YYYY-MM-DD/hr=HH/part-*.jsonl.gz`",
		"## Dataset `ops` (ops layer)", "### Table `batch.team_scores_hourly`",
		"| `window_start` | TIMESTAMP | REQUIRED | Inclusive start of the event-time window (UTC). |",
		"- Partitioning: day on `time`\n- Retention: 90 days", "### View `ops.dead_letter_summary`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("docs lack %q", want)
		}
	}
}

func TestDiffColumns(t *testing.T) {
	at := func(kind ChangeKind, breaking bool, column, format string, args ...any) Change {
		return Change{Kind: kind, Breaking: breaking, Dataset: "d", Table: "t", Column: column}
	}
	str := func(name string, required bool) *bigquery.FieldSchema {
		return &bigquery.FieldSchema{Name: name, Type: bigquery.StringFieldType, Required: required}
	}
	live := bigquery.Schema{str("keep", true), str("relax", true), str("tighten", false), {Name: "retype", Type: bigquery.IntegerFieldType}, str("gone", false)}
	want := bigquery.Schema{str("keep", true), str("relax", false), str("tighten", true), str("retype", false), str("new_nullable", false), str("new_required", true)}
	var got []string
	for _, c := range diffColumns(at, "", want, live) {
		got = append(got, string(c.Kind)+" "+c.Column+" "+map[bool]string{true: "breaking", false: "additive"}[c.Breaking])
	}
	wantChanges := []string{
		"relax column relax additive",
		"tighten column mode tighten breaking",
		"change column type retype breaking",
		"add column new_nullable additive",
		"add REQUIRED column new_required breaking",
		"drop column gone breaking",
	}
	if strings.Join(got, "\n") != strings.Join(wantChanges, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantChanges, "\n"))
	}
}
