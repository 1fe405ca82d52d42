package localstack_test

// These tests pin down what goccy's bigquery-emulator v0.6.6 does and does
// not do, because railyard's catalog and sinks are designed around it. If
// one of them starts failing after an emulator bump, the behaviour changed:
// update the test, DESIGN.md and the README's known limits together.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/localstack"
)

// bqFixture is an emulator with one dataset "d".
type bqFixture struct {
	st     *localstack.Stack
	client *bigquery.Client
	ds     *bigquery.Dataset
}

func newBQ(t *testing.T) *bqFixture {
	t.Helper()
	st := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	ctx := context.Background()
	client, err := st.GCPConfig().BigQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ds := client.Dataset("d")
	if err := ds.Create(ctx, &bigquery.DatasetMetadata{Description: "test dataset", Labels: map[string]string{"env": "test"}}); err != nil {
		t.Fatal(err)
	}
	return &bqFixture{st: st, client: client, ds: ds}
}

// query runs sql and returns its rows formatted with fmt.Sprint, or the
// error.
func (f *bqFixture) query(t *testing.T, sql string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := f.client.Query(sql).Read(ctx)
	if err != nil {
		return nil, err
	}
	var rows []string
	for {
		var r []bigquery.Value
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, fmt.Sprint(r))
	}
}

func (f *bqFixture) mustQuery(t *testing.T, sql string) []string {
	t.Helper()
	rows, err := f.query(t, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

func wantRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func wantErrContains(t *testing.T, what string, err error, sub string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), sub) {
		t.Errorf("%s: err = %v, want an error containing %q", what, err, sub)
	}
}

var eventSchema = bigquery.Schema{
	{Name: "user", Type: bigquery.StringFieldType, Required: true, Description: "user id"},
	{Name: "team", Type: bigquery.StringFieldType, Description: "team name"},
	{Name: "score", Type: bigquery.IntegerFieldType, Description: "points"},
	{Name: "ts", Type: bigquery.TimestampFieldType, Description: "event time"},
	{Name: "device", Type: bigquery.RecordFieldType, Description: "client device", Schema: bigquery.Schema{
		{Name: "os", Type: bigquery.StringFieldType, Description: "operating system"},
	}},
}

func eventTable() *bigquery.TableMetadata {
	return &bigquery.TableMetadata{
		Schema:                 eventSchema,
		Description:            "scored events",
		Labels:                 map[string]string{"layer": "batch"},
		TimePartitioning:       &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "ts", Expiration: 90 * 24 * time.Hour},
		RequirePartitionFilter: true,
		Clustering:             &bigquery.Clustering{Fields: []string{"team", "user"}},
	}
}

var ts0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func eventRow(id, user, team string, score int64) *bigquery.ValuesSaver {
	return &bigquery.ValuesSaver{Schema: eventSchema, InsertID: id, Row: []bigquery.Value{user, team, score, ts0, []bigquery.Value{"android"}}}
}

// TestBigQueryTableMetadataRoundTrip: partitioning, clustering, labels,
// table and column descriptions (nested too) and REQUIRED survive
// tables.insert → tables.get.
func TestBigQueryTableMetadataRoundTrip(t *testing.T) {
	f := newBQ(t)
	ctx := context.Background()
	tbl := f.ds.Table("events")
	if err := tbl.Create(ctx, eventTable()); err != nil {
		t.Fatal(err)
	}
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tp := md.TimePartitioning; tp == nil || tp.Type != bigquery.DayPartitioningType || tp.Field != "ts" || tp.Expiration != 90*24*time.Hour {
		t.Errorf("TimePartitioning = %+v", tp)
	}
	if !md.RequirePartitionFilter {
		t.Errorf("RequirePartitionFilter lost")
	}
	if md.Clustering == nil || strings.Join(md.Clustering.Fields, ",") != "team,user" {
		t.Errorf("Clustering = %+v", md.Clustering)
	}
	if md.Description != "scored events" || md.Labels["layer"] != "batch" || md.Type != bigquery.RegularTable {
		t.Errorf("Description %q, Labels %v, Type %v", md.Description, md.Labels, md.Type)
	}
	if len(md.Schema) != len(eventSchema) {
		t.Fatalf("schema has %d fields, want %d", len(md.Schema), len(eventSchema))
	}
	for i, want := range eventSchema {
		got := md.Schema[i]
		if got.Name != want.Name || got.Type != want.Type || got.Required != want.Required || got.Description != want.Description {
			t.Errorf("field %d = %+v, want %+v", i, *got, *want)
		}
	}
	if n := md.Schema[4].Schema; len(n) != 1 || n[0].Description != "operating system" {
		t.Errorf("nested field lost its description: %+v", n)
	}
	// The emulator gives no ETag, so etag-guarded updates cannot detect
	// concurrent changes.
	if md.ETag != "" {
		t.Logf("emulator now returns ETag %q", md.ETag)
	}
	dmd, err := f.ds.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dmd.Description != "test dataset" || dmd.Labels["env"] != "test" {
		t.Errorf("dataset metadata = %q %v", dmd.Description, dmd.Labels)
	}

	// Existing and missing resources give the usual codes.
	var gerr *googleapi.Error
	if err := tbl.Create(ctx, eventTable()); !errors.As(err, &gerr) || gerr.Code != http.StatusConflict {
		t.Errorf("creating an existing table: %v, want 409", err)
	}
	if _, err := f.ds.Table("nope").Metadata(ctx); !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Errorf("missing table: %v, want 404", err)
	}
	if _, err := f.client.Dataset("nope").Metadata(ctx); !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Errorf("missing dataset: %v, want 404", err)
	}
}

// TestBigQueryTableUpdateIsNotPersisted: tables.patch (what Table.Update
// sends) answers 200 and echoes the request, but stores nothing: v0.6.6's
// metadata.Table.Update ignores the new metadata and writes the old one
// back. tables.update (PUT) and ALTER TABLE are refused; datasets.patch is
// not persisted either.
func TestBigQueryTableUpdateIsNotPersisted(t *testing.T) {
	f := newBQ(t)
	ctx := context.Background()
	tbl := f.ds.Table("events")
	if err := tbl.Create(ctx, eventTable()); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Inserter().Put(ctx, []*bigquery.ValuesSaver{eventRow("1", "alice", "red", 3)}); err != nil {
		t.Fatal(err)
	}

	added := append(bigquery.Schema{}, eventSchema...)
	added = append(added, &bigquery.FieldSchema{Name: "level", Type: bigquery.IntegerFieldType, Description: "player level"})
	umd, err := tbl.Update(ctx, bigquery.TableMetadataToUpdate{Schema: added, Description: "new description"}, "")
	if err != nil {
		t.Fatalf("Table.Update: %v (the emulator used to accept it)", err)
	}
	// The answer is the request echoed back: new schema, but none of the
	// table's other metadata.
	if len(umd.Schema) != len(added) || umd.Description != "new description" || umd.TimePartitioning != nil || umd.FullID != "" {
		t.Errorf("Update returned %d fields, description %q, partitioning %+v, FullID %q", len(umd.Schema), umd.Description, umd.TimePartitioning, umd.FullID)
	}
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Schema) != len(eventSchema) || md.Description != "scored events" {
		t.Errorf("after Update: %d fields, description %q: the emulator now persists tables.patch", len(md.Schema), md.Description)
	}
	_, err = f.query(t, "SELECT level FROM d.events")
	wantErrContains(t, "SELECT the added column", err, "Unrecognized name: level")

	// An etag that does not match is not checked either.
	if _, err := tbl.Update(ctx, bigquery.TableMetadataToUpdate{Description: "x"}, "no-such-etag"); err != nil {
		t.Errorf("Update with a wrong etag: %v", err)
	}

	_, err = f.query(t, "ALTER TABLE d.events ADD COLUMN level INT64")
	wantErrContains(t, "ALTER TABLE ADD COLUMN", err, "Statement not supported: AlterTableStatement")
	_, err = f.query(t, "ALTER TABLE d.events SET OPTIONS (description = 'x')")
	wantErrContains(t, "ALTER TABLE SET OPTIONS", err, "Statement not supported: AlterTableStatement")

	// tables.update (PUT), which the Go client does not use.
	req, _ := http.NewRequest(http.MethodPut, f.st.BigQueryEndpoint+"/bigquery/v2/projects/"+f.st.Project+"/datasets/d/tables/events",
		strings.NewReader(`{"tableReference":{"projectId":"`+f.st.Project+`","datasetId":"d","tableId":"events"},"description":"put"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "unsupported bigquery.tables.update") {
		t.Errorf("PUT tables: %s %s", resp.Status, body)
	}

	// datasets.patch: answers with the new content, stores nothing.
	dmd, err := f.ds.Update(ctx, bigquery.DatasetMetadataToUpdate{Description: "changed"}, "")
	if err != nil || dmd.Description != "changed" {
		t.Errorf("Dataset.Update = %v, %v", dmd, err)
	}
	if dmd, err := f.ds.Metadata(ctx); err != nil || dmd.Description != "test dataset" {
		t.Errorf("dataset description after Update = %q, %v: the emulator now persists datasets.patch", dmd.Description, err)
	}
}

// TestBigQueryAddColumnByRecreate is what works instead of an additive
// schema update on the emulator: copy the rows out (CTAS), delete the
// table, create it again with the full new metadata (tables.insert keeps
// partitioning, clustering and descriptions), copy the rows back with an
// explicit column list, drop the copy. Views on the table keep working.
func TestBigQueryAddColumnByRecreate(t *testing.T) {
	f := newBQ(t)
	ctx := context.Background()
	tbl := f.ds.Table("events")
	if err := tbl.Create(ctx, eventTable()); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Inserter().Put(ctx, []*bigquery.ValuesSaver{eventRow("1", "alice", "red", 3), eventRow("2", "bob", "blue", 5)}); err != nil {
		t.Fatal(err)
	}
	if err := f.ds.Table("totals").Create(ctx, &bigquery.TableMetadata{ViewQuery: "SELECT team, SUM(score) AS total FROM d.events GROUP BY team"}); err != nil {
		t.Fatal(err)
	}

	f.mustQuery(t, "CREATE TABLE d.events__copy AS SELECT * FROM d.events")
	cmd, err := f.ds.Table("events__copy").Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.TimePartitioning != nil || cmd.Clustering != nil {
		t.Errorf("CTAS copy has partitioning %+v / clustering %+v (the emulator used to drop them)", cmd.TimePartitioning, cmd.Clustering)
	}
	if err := tbl.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	tm := eventTable()
	tm.Schema = append(append(bigquery.Schema{}, eventSchema...), &bigquery.FieldSchema{Name: "level", Type: bigquery.IntegerFieldType, Description: "player level"})
	if err := tbl.Create(ctx, tm); err != nil {
		t.Fatal(err)
	}
	// INSERT … SELECT * is refused ("INSERT must specify a column list").
	_, err = f.query(t, "INSERT INTO d.events SELECT *, NULL FROM d.events__copy")
	wantErrContains(t, "INSERT without column list", err, "INSERT must specify a column list")
	f.mustQuery(t, "INSERT INTO d.events (user, team, score, ts, device) SELECT user, team, score, ts, device FROM d.events__copy")
	if err := f.ds.Table("events__copy").Delete(ctx); err != nil {
		t.Fatal(err)
	}

	wantRows(t, "rows after recreate", f.mustQuery(t, "SELECT user, team, score, ts, device.os, level FROM d.events ORDER BY user"),
		"[alice red 3 2024-05-01 10:00:00 +0000 UTC android <nil>]",
		"[bob blue 5 2024-05-01 10:00:00 +0000 UTC android <nil>]")
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Schema) != 6 || md.Schema[5].Description != "player level" || md.TimePartitioning == nil || md.Clustering == nil || md.Description != "scored events" {
		t.Errorf("metadata after recreate: %d fields, partitioning %+v, clustering %+v, description %q", len(md.Schema), md.TimePartitioning, md.Clustering, md.Description)
	}
	if err := tbl.Inserter().Put(ctx, []*bigquery.ValuesSaver{{Schema: tm.Schema, InsertID: "3", Row: []bigquery.Value{"carol", "red", int64(4), ts0, []bigquery.Value{"ios"}, int64(7)}}}); err != nil {
		t.Fatal(err)
	}
	wantRows(t, "view after recreate", f.mustQuery(t, "SELECT team, total FROM d.totals ORDER BY team"), "[blue 5]", "[red 7]")
	wantRows(t, "new column", f.mustQuery(t, "SELECT user FROM d.events WHERE level = 7"), "[carol]")
}

// TestBigQueryInsertAllValidation: insertAll is lax. Unknown fields are
// dropped silently, a missing REQUIRED field is stored as NULL, insertId
// does not deduplicate, and a value of the wrong type fails the whole
// request with HTTP 500 (which the Go client retries until its context
// ends) instead of a per-row insertErrors entry.
func TestBigQueryInsertAllValidation(t *testing.T) {
	f := newBQ(t)
	ctx := context.Background()
	tbl := f.ds.Table("events")
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: eventSchema}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Inserter().Put(ctx, []*bigquery.ValuesSaver{eventRow("1", "alice", "red", 3)}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Inserter().Put(ctx, []*bigquery.ValuesSaver{eventRow("1", "alice", "red", 3)}); err != nil {
		t.Fatal(err)
	}
	wantRows(t, "same insertId twice", f.mustQuery(t, "SELECT COUNT(*) FROM d.events"), "[2]")

	insertAll := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(f.st.BigQueryEndpoint+"/bigquery/v2/projects/"+f.st.Project+"/datasets/d/tables/events/insertAll", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := insertAll(`{"rows":[{"insertId":"u","json":{"user":"bob","no_such_column":1}}]}`); code != 200 || body != "{}" {
		t.Errorf("unknown field: %d %s", code, body)
	}
	if code, body := insertAll(`{"rows":[{"insertId":"r","json":{"score":9}}]}`); code != 200 || body != "{}" {
		t.Errorf("missing REQUIRED field: %d %s", code, body)
	}
	wantRows(t, "lax rows", f.mustQuery(t, "SELECT user, score FROM d.events WHERE user IS NULL OR user = 'bob' ORDER BY user"), "[<nil> 9]", "[bob <nil>]")
	code, body := insertAll(`{"rows":[{"insertId":"ok","json":{"user":"carol","score":1}},{"insertId":"bad","json":{"user":"dave","score":"many"}}]}`)
	if code != http.StatusInternalServerError || !strings.Contains(body, `strconv.ParseInt: parsing \"many\": invalid syntax`) {
		t.Errorf("wrong type: %d %s", code, body)
	}
	wantRows(t, "nothing of the failed request stored", f.mustQuery(t, "SELECT COUNT(*) FROM d.events WHERE user IN ('carol', 'dave')"), "[0]")

	// Through the client the 500 is retried until the context ends.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	bad := bigquery.Schema{{Name: "user", Type: bigquery.StringFieldType}, {Name: "score", Type: bigquery.StringFieldType}}
	err := tbl.Inserter().Put(cctx, []*bigquery.ValuesSaver{{Schema: bad, InsertID: "b", Row: []bigquery.Value{"erin", "many"}}})
	wantErrContains(t, "Inserter.Put with a wrong type", err, "context deadline exceeded")
}

// TestBigQueryViews: views created with tables.insert work and keep their
// metadata; deleting one with tables.delete fails (500, "use DROP VIEW"),
// DROP VIEW works; CREATE OR REPLACE VIEW over an existing view fails AND
// breaks that view; DDL-created views have no view metadata.
func TestBigQueryViews(t *testing.T) {
	f := newBQ(t)
	ctx := context.Background()
	f.mustQuery(t, "CREATE TABLE d.t (user STRING, team STRING, score INT64)")
	f.mustQuery(t, "INSERT INTO d.t (user, team, score) VALUES ('a', 'red', 1), ('b', 'blue', 2), ('c', 'red', 4)")

	v := f.ds.Table("by_team")
	if err := v.Create(ctx, &bigquery.TableMetadata{ViewQuery: "SELECT team, SUM(score) AS total FROM `" + f.st.Project + ".d.t` GROUP BY team", Description: "totals"}); err != nil {
		t.Fatal(err)
	}
	wantRows(t, "API view", f.mustQuery(t, "SELECT * FROM d.by_team ORDER BY team"), "[blue 2]", "[red 5]")
	md, err := v.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.Type != bigquery.ViewTable || !strings.Contains(md.ViewQuery, "SUM(score)") || md.Description != "totals" {
		t.Errorf("view metadata: type %v, query %q, description %q", md.Type, md.ViewQuery, md.Description)
	}

	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = v.Delete(dctx)
	cancel()
	wantErrContains(t, "Table.Delete on a view", err, "use DROP VIEW to delete view")
	f.mustQuery(t, "DROP VIEW d.by_team")
	if err := v.Create(ctx, &bigquery.TableMetadata{ViewQuery: "SELECT team, COUNT(*) AS n FROM d.t GROUP BY team"}); err != nil {
		t.Fatalf("re-creating a dropped view: %v", err)
	}
	wantRows(t, "re-created view", f.mustQuery(t, "SELECT * FROM d.by_team ORDER BY team"), "[blue 1]", "[red 2]")

	_, err = f.query(t, "CREATE OR REPLACE VIEW d.by_team AS SELECT user FROM d.t")
	wantErrContains(t, "CREATE OR REPLACE VIEW over an existing view", err, "table by_team: table is already created")
	_, err = f.query(t, "SELECT * FROM d.by_team")
	wantErrContains(t, "the view after the failed replace", err, "no such column")

	// CREATE OR REPLACE VIEW for a new name, and plain CREATE VIEW, work,
	// but the view's metadata says TABLE with no query.
	wantRows(t, "DDL view", f.mustQuery(t, "CREATE OR REPLACE VIEW d.users AS SELECT user FROM d.t"))
	wantRows(t, "DDL view rows", f.mustQuery(t, "SELECT * FROM d.users ORDER BY user"), "[a]", "[b]", "[c]")
	if md, err := f.ds.Table("users").Metadata(ctx); err != nil || md.Type != bigquery.RegularTable || md.ViewQuery != "" {
		t.Errorf("DDL view metadata: %+v, %v", md, err)
	}
}

// TestBigQueryDDLLimits: what railyard must not rely on in DDL.
func TestBigQueryDDLLimits(t *testing.T) {
	f := newBQ(t)
	ctx := context.Background()
	_, err := f.query(t, "CREATE TABLE d.p (ts TIMESTAMP, x INT64) PARTITION BY DATE(ts) CLUSTER BY x")
	wantErrContains(t, "CREATE TABLE … PARTITION BY", err, "CREATE TABLE with PARTITION BY is unsupported")
	// Column options and NOT NULL in DDL are not kept in the metadata.
	f.mustQuery(t, "CREATE TABLE d.q (ts TIMESTAMP OPTIONS(description = 'time'), x INT64 NOT NULL)")
	md, err := f.ds.Table("q").Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.Schema[0].Description != "" || md.Schema[1].Required {
		t.Errorf("DDL column options kept now: %+v %+v", *md.Schema[0], *md.Schema[1])
	}
	_, err = f.query(t, "DROP TABLE IF EXISTS d.nope")
	wantErrContains(t, "DROP TABLE IF EXISTS on a missing table", err, "failed to find table spec")
	_, err = f.query(t, "SELECT table_name FROM d.INFORMATION_SCHEMA.TABLES")
	wantErrContains(t, "INFORMATION_SCHEMA", err, "Table not found: d.INFORMATION_SCHEMA.TABLES")
	_, err = f.query(t, "SELECT _PARTITIONTIME FROM d.q")
	wantErrContains(t, "_PARTITIONTIME", err, "Unrecognized name: _PARTITIONTIME")
	// DELETE with a partition predicate (how a batch run replaces a
	// partition here) works.
	f.mustQuery(t, "INSERT INTO d.q (ts, x) VALUES (TIMESTAMP '2024-05-01 01:00:00', 1), (TIMESTAMP '2024-05-02 01:00:00', 2)")
	f.mustQuery(t, "DELETE FROM d.q WHERE DATE(ts) = '2024-05-01'")
	wantRows(t, "after partition delete", f.mustQuery(t, "SELECT x FROM d.q"), "[2]")
}
