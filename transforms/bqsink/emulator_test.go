package bqsink

// TestEmulatorReplaceMechanisms pins down why ReplacePartitions commits
// with one multi-statement DML script (and a dry run first on the
// emulator): what goccy's bigquery-emulator v0.6.6 does with each
// partition-replace mechanism BigQuery offers. If it starts failing after
// an emulator bump, the emulator changed: revisit the mechanism and the
// README's known limits.

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
)

func TestEmulatorReplaceMechanisms(t *testing.T) {
	e := newBQEnv(t)
	ds := e.client.Dataset(e.dataset)
	schema := bigquery.Schema{{Name: "day", Type: bigquery.DateFieldType}, {Name: "k", Type: bigquery.StringFieldType}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range []string{"t", "stg"} {
		if err := ds.Table(name).Create(ctx, &bigquery.TableMetadata{Schema: schema, TimePartitioning: &bigquery.TimePartitioning{Field: "day"}}); err != nil {
			t.Fatal(err)
		}
	}
	put := func(table string, rows ...[]bigquery.Value) {
		t.Helper()
		var vs []*bigquery.ValuesSaver
		for _, r := range rows {
			vs = append(vs, &bigquery.ValuesSaver{Schema: schema, Row: r})
		}
		if err := ds.Table(table).Inserter().Put(ctx, vs); err != nil {
			t.Fatal(err)
		}
	}
	put("t", []bigquery.Value{day1, "old1"}, []bigquery.Value{day2, "old2"})
	put("stg", []bigquery.Value{day1, "new1"})
	type row struct {
		Day civil.Date
		K   string
	}
	contents := func() string {
		t.Helper()
		var out []string
		for _, r := range readAll[row](t, e.client, "SELECT day, k FROM `"+e.dataset+".t` ORDER BY k") {
			out = append(out, r.Day.String()+" "+r.K)
		}
		return strings.Join(out, ", ")
	}
	const initial = "2026-11-01 old1, 2026-11-02 old2"
	expectErr := func(what string, err error, sub string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), sub) {
			t.Errorf("%s: err = %v, want one containing %q", what, err, sub)
		}
	}
	runJob := func(q *bigquery.Query) error {
		job, err := q.Run(ctx)
		if err != nil {
			return err
		}
		st, err := job.Wait(ctx)
		if err != nil {
			return err
		}
		return st.Err()
	}
	params := []bigquery.QueryParameter{{Name: "partitions", Value: []civil.Date{day1}}}

	// A load job with WRITE_TRUNCATE into the partition decorator: the
	// emulator panics (500) and leaves a stray table named "t$20261101".
	src := bigquery.NewReaderSource(strings.NewReader(`{"day":"2026-11-01","k":"load"}` + "\n"))
	src.SourceFormat = bigquery.JSON
	loader := ds.Table("t$20261101").LoaderFrom(src)
	loader.WriteDisposition = bigquery.WriteTruncate
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second) // 500: the client would retry until the deadline
	_, err := loader.Run(lctx)
	lcancel()
	expectErr("load WRITE_TRUNCATE into t$20261101", err, "nil pointer dereference")

	// A copy job: the emulator runs query jobs only.
	copier := ds.Table("t$20261101").CopierFrom(ds.Table("stg"))
	copier.WriteDisposition = bigquery.WriteTruncate
	_, err = copier.Run(ctx)
	expectErr("copy WRITE_TRUNCATE into t$20261101", err, "unspecified job configuration query")

	// A query job with a partition decorator as destination.
	q := e.client.Query("SELECT day, k FROM `" + e.dataset + ".stg`")
	q.Dst = ds.Table("t$20261101")
	q.WriteDisposition = bigquery.WriteTruncate
	expectErr("query WRITE_TRUNCATE into t$20261101", runJob(q), "Table not found")
	if got := contents(); got != initial {
		t.Fatalf("contents after the refused jobs = %q, want %q", got, initial)
	}

	// A dry run executes the script and rolls it back; a failing script's
	// error shows in the dry run's status.
	q = e.client.Query("DELETE FROM `" + e.dataset + ".t` WHERE day IN UNNEST(@partitions)")
	q.Parameters, q.DryRun = params, true
	job, err := q.Run(ctx)
	if err != nil || job.LastStatus().Err() != nil {
		t.Fatalf("dry run: %v, %v", err, job.LastStatus().Err())
	}
	failing := "BEGIN TRANSACTION;\nDELETE FROM `" + e.dataset + ".t` WHERE day IN UNNEST(@partitions);\n" +
		"INSERT INTO `" + e.dataset + ".t` (day, k) SELECT day, k FROM `" + e.dataset + ".missing`;\nCOMMIT TRANSACTION;"
	q = e.client.Query(failing)
	q.Parameters, q.DryRun = params, true
	job, err = q.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expectErr("dry run of a failing script", job.LastStatus().Err(), "Table not found")
	if got := contents(); got != initial {
		t.Fatalf("contents after the dry runs = %q, want %q", got, initial)
	}

	// The script replaces the partition atomically (one SQLite transaction
	// per job) and ANY_VALUE … GROUP BY works.
	q = e.client.Query("BEGIN TRANSACTION;\nDELETE FROM `" + e.dataset + ".t` WHERE day IN UNNEST(@partitions);\n" +
		"INSERT INTO `" + e.dataset + ".t` (day, k) SELECT ANY_VALUE(day) AS day, ANY_VALUE(k) AS k FROM `" + e.dataset + ".stg` AS s GROUP BY s.k;\nCOMMIT TRANSACTION;")
	q.Parameters = params
	if err := runJob(q); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(), "2026-11-01 new1, 2026-11-02 old2"; got != want {
		t.Errorf("after the script: %q, want %q", got, want)
	}

	// But a script that fails halfway keeps what ran before the failure:
	// the emulator commits the job's transaction even when a statement
	// failed. This is what the dry run before the commit guards against.
	q = e.client.Query(failing)
	q.Parameters = params
	expectErr("failing script", runJob(q), "Table not found")
	if got, want := contents(), "2026-11-02 old2"; got != want {
		t.Errorf("after a failing script: %q, want %q (the emulator kept the DELETE)", got, want)
	}
}
