package bqsink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/localstack"
)

func probeQuery(t *testing.T, c *bigquery.Client, sql string, params ...bigquery.QueryParameter) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := c.Query(sql)
	q.Parameters = params
	job, err := q.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	st, err := job.Wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait: %w", err)
	}
	if st.Err() != nil {
		return nil, fmt.Errorf("status: %w", st.Err())
	}
	it, err := job.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var out []string
	for {
		var r []bigquery.Value
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, fmt.Sprint(r))
	}
}

func TestProbe(t *testing.T) {
	st := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	ctx := context.Background()
	c, err := st.GCPConfig().BigQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds := c.Dataset("d")
	if err := ds.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	schema := bigquery.Schema{
		{Name: "day", Type: bigquery.DateFieldType, Required: true},
		{Name: "k", Type: bigquery.StringFieldType},
		{Name: "v", Type: bigquery.IntegerFieldType},
		{Name: "ts", Type: bigquery.TimestampFieldType},
	}
	tbl := ds.Table("t")
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: schema, TimePartitioning: &bigquery.TimePartitioning{Field: "day"}}); err != nil {
		t.Fatal(err)
	}
	d1 := civil.Date{Year: 2024, Month: 5, Day: 1}
	d2 := civil.Date{Year: 2024, Month: 5, Day: 2}
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	rows := []*bigquery.ValuesSaver{
		{Schema: schema, InsertID: "a", Row: []bigquery.Value{d1, "a", 1, ts}},
		{Schema: schema, InsertID: "b", Row: []bigquery.Value{d2, "b", 2, ts}},
	}
	if err := tbl.Inserter().Put(ctx, rows); err != nil {
		t.Fatal(err)
	}
	dump := func(what string) {
		r, err := probeQuery(t, c, "SELECT day, k, v, ts FROM d.t ORDER BY k")
		t.Logf("%s: %v err=%v", what, r, err)
	}
	dump("initial")

	// 1. load job WRITE_TRUNCATE into t$20240501
	src := bigquery.NewReaderSource(strings.NewReader(`{"day":"2024-05-01","k":"L","v":9,"ts":"2024-05-01T00:00:00Z"}` + "\n"))
	src.SourceFormat = bigquery.JSON
	l := ds.Table("t$20240501").LoaderFrom(src)
	l.WriteDisposition = bigquery.WriteTruncate
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	job, err := l.Run(lctx)
	if err == nil {
		s, werr := job.Wait(lctx)
		t.Logf("load to decorator: status %+v err %v", s, werr)
		if s != nil {
			t.Logf("load status err: %v", s.Err())
		}
	} else {
		t.Logf("load to decorator: %v", err)
	}
	cancel()
	dump("after load WRITE_TRUNCATE t$20240501")
	it := ds.Tables(ctx)
	for {
		tt, err := it.Next()
		if err != nil {
			break
		}
		t.Logf("table: %s", tt.TableID)
	}

	// 2. copy job WRITE_TRUNCATE
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	cp := ds.Table("t$20240501").CopierFrom(ds.Table("t"))
	cp.WriteDisposition = bigquery.WriteTruncate
	job, err = cp.Run(cctx)
	t.Logf("copy: job=%v err=%v", job != nil, err)
	cancel()

	// 3. query job with destination t$20240501 WRITE_TRUNCATE
	q := c.Query("SELECT DATE '2024-05-01' AS day, 'Q' AS k, 5 AS v, CURRENT_TIMESTAMP() AS ts")
	q.Dst = ds.Table("t$20240501")
	q.WriteDisposition = bigquery.WriteTruncate
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	job, err = q.Run(qctx)
	if err == nil {
		s, werr := job.Wait(qctx)
		t.Logf("query dst decorator: %v %v", werr, s.Err())
	} else {
		t.Logf("query dst decorator: %v", err)
	}
	cancel()
	dump("after query dst WRITE_TRUNCATE")

	// 4. script transaction
	_, err = probeQuery(t, c, "CREATE TABLE d.stg (day DATE, k STRING, v INT64, ts TIMESTAMP, _rid STRING)")
	t.Logf("create stg: %v", err)
	r, err := probeQuery(t, c, "INSERT INTO d.stg (day,k,v,ts,_rid) VALUES (DATE '2024-05-01','n1',10,TIMESTAMP '2024-05-01 01:00:00+00','x'),(DATE '2024-05-01','n1',10,TIMESTAMP '2024-05-01 01:00:00+00','x'),(DATE '2024-05-01','n2',11,NULL,'y')")
	t.Logf("insert stg: %v %v", r, err)
	script := "BEGIN TRANSACTION;\nDELETE FROM `d.t` WHERE day IN UNNEST(@days);\nINSERT INTO `d.t` (day, k, v, ts) SELECT ANY_VALUE(day), ANY_VALUE(k), ANY_VALUE(v), ANY_VALUE(ts) FROM `d.stg` GROUP BY _rid;\nCOMMIT TRANSACTION;"
	r, err = probeQuery(t, c, script, bigquery.QueryParameter{Name: "days", Value: []civil.Date{d1}})
	t.Logf("script: %v %v", r, err)
	dump("after script")
	// 5. failing script: insert from missing table
	script2 := "BEGIN TRANSACTION;\nDELETE FROM `d.t` WHERE day IN UNNEST(@days);\nINSERT INTO `d.t` (day, k, v, ts) SELECT day, k, v, ts FROM `d.missing`;\nCOMMIT TRANSACTION;"
	r, err = probeQuery(t, c, script2, bigquery.QueryParameter{Name: "days", Value: []civil.Date{d1}})
	t.Logf("failing script: %v %v", r, err)
	dump("after failing script")
	// 6. dry run of deleting script
	q = c.Query("DELETE FROM `d.t` WHERE day IN UNNEST(@days)")
	q.Parameters = []bigquery.QueryParameter{{Name: "days", Value: []civil.Date{d2}}}
	q.DryRun = true
	job, err = q.Run(ctx)
	t.Logf("dry run: %v", err)
	if job != nil {
		s := job.LastStatus()
		t.Logf("dry run status: %+v", s)
	}
	dump("after dry run delete d2")
	q = c.Query("DELETE FROM `d.t` WHERE day IN UNNEST(@days); INSERT INTO `d.t` (day, k, v, ts) SELECT day, k, v, ts FROM `d.missing`")
	q.Parameters = []bigquery.QueryParameter{{Name: "days", Value: []civil.Date{d2}}}
	q.DryRun = true
	job, err = q.Run(ctx)
	t.Logf("dry run failing: %v", err)
	if job != nil {
		t.Logf("dry run failing status: %+v %v", job.LastStatus(), job.LastStatus().Err())
	}
	dump("after dry run failing")
	// 7. timestamp partition filter
	r, err = probeQuery(t, c, "SELECT COUNT(*) FROM d.t WHERE DATE(ts) IN UNNEST(@days)", bigquery.QueryParameter{Name: "days", Value: []civil.Date{d1}})
	t.Logf("DATE(ts): %v %v", r, err)
	// 8. insertAll into decorator
	err = ds.Table("t$20240502").Inserter().Put(ctx, rows[:1])
	t.Logf("insertAll decorator: %v", err)
	dump("end")
}
