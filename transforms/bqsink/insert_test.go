package bqsink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/railyard-dev/railyard/schemas"
)

// fakeInsertAll is a loopback stand-in for BigQuery's insertAll that
// answers what respond says: the emulator never reports per-row errors.
type fakeInsertAll struct {
	*httptest.Server
	mu       sync.Mutex
	requests [][]string // insert IDs of each request
	rows     []map[string]json.RawMessage
	respond  func(n int, ids []string) (status int, body string)
}

func newFakeInsertAll(t *testing.T, respond func(n int, ids []string) (int, string)) *fakeInsertAll {
	f := &fakeInsertAll{respond: respond}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/insertAll") {
			http.Error(w, `{"error":{"code":404,"message":"not found"}}`, http.StatusNotFound)
			return
		}
		var req struct {
			Rows []struct {
				InsertID string                     `json:"insertId"`
				JSON     map[string]json.RawMessage `json:"json"`
			} `json:"rows"`
			SkipInvalidRows bool `json:"skipInvalidRows"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !req.SkipInvalidRows {
			t.Errorf("insertAll without skipInvalidRows")
		}
		var ids []string
		f.mu.Lock()
		for _, row := range req.Rows {
			ids = append(ids, row.InsertID)
			f.rows = append(f.rows, row.JSON)
		}
		n := len(f.requests)
		f.requests = append(f.requests, ids)
		f.mu.Unlock()
		status, body := f.respond(n, ids)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeInsertAll) calls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func rowErrorBody(errs map[int][2]string) string {
	var parts []string
	for i, e := range errs {
		parts = append(parts, fmt.Sprintf(`{"index":%d,"errors":[{"reason":%q,"message":%q,"location":"bogus"}]}`, i, e[0], e[1]))
	}
	return `{"kind":"bigquery#tableDataInsertAllResponse","insertErrors":[` + strings.Join(parts, ",") + `]}`
}

func fakeConfig(endpoint, table string) Config {
	return Config{Project: "p", Endpoint: endpoint, Table: table, Shards: 2, BatchRows: 10, Pipeline: "test", RunID: "run-1",
		Retry: Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 4, AttemptTimeout: 5 * time.Second}}
}

func pendingRows(t *testing.T, ids ...string) []pendingRow {
	var out []pendingRow
	for i, id := range ids {
		p, err := newPendingRow(i, id, []byte(fmt.Sprintf(`{"n":%d}`, i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestInsertBatchRowErrors: an invalid row is reported for the dead
// letters; a "stopped" row (not inserted because of the invalid one) is
// sent again with the same insert ID, alone.
func TestInsertBatchRowErrors(t *testing.T) {
	fake := newFakeInsertAll(t, func(n int, ids []string) (int, string) {
		if n == 0 {
			return 200, rowErrorBody(map[int][2]string{1: {"invalid", "no such field: bogus."}, 2: {"stopped", ""}})
		}
		return 200, `{}`
	})
	w, err := openWriter(context.Background(), fakeConfig(fake.URL, "d.t"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	failed, err := w.insertBatch(context.Background(), "d", "t", pendingRows(t, "a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	want := []rowFailure{{ref: 1, detail: "invalid: no such field: bogus. (at bogus)"}}
	if !slices.Equal(failed, want) {
		t.Errorf("failures = %+v, want %+v", failed, want)
	}
	if got := fake.calls(); len(got) != 2 || !slices.Equal(got[0], []string{"a", "b", "c"}) || !slices.Equal(got[1], []string{"c"}) {
		t.Errorf("requests = %v, want [[a b c] [c]]", got)
	}
}

// TestInsertBatchRequestErrors: 429 and 5xx are retried with the same
// insert IDs; other 4xx fail at once.
func TestInsertBatchRequestErrors(t *testing.T) {
	t.Run("429 then OK", func(t *testing.T) {
		fake := newFakeInsertAll(t, func(n int, _ []string) (int, string) {
			if n == 0 {
				return 429, `{"error":{"code":429,"message":"slow down"}}`
			}
			return 200, `{}`
		})
		w, err := openWriter(context.Background(), fakeConfig(fake.URL, "d.t"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.close()
		if _, err := w.insertBatch(context.Background(), "d", "t", pendingRows(t, "a", "b")); err != nil {
			t.Fatal(err)
		}
		if got := fake.calls(); len(got) != 2 || !slices.Equal(got[0], got[1]) {
			t.Errorf("requests = %v, want the same insert IDs twice", got)
		}
	})
	t.Run("400 fails", func(t *testing.T) {
		fake := newFakeInsertAll(t, func(int, []string) (int, string) {
			return 400, `{"error":{"code":400,"message":"bad request","errors":[{"reason":"invalid","message":"bad request"}]}}`
		})
		w, err := openWriter(context.Background(), fakeConfig(fake.URL, "d.t"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.close()
		_, err = w.insertBatch(context.Background(), "d", "t", pendingRows(t, "a"))
		if err == nil || !strings.Contains(err.Error(), "bad request") || len(fake.calls()) != 1 {
			t.Errorf("err = %v after %d request(s); want the 400 after one", err, len(fake.calls()))
		}
	})
	t.Run("transient row errors until attempts run out", func(t *testing.T) {
		fake := newFakeInsertAll(t, func(int, []string) (int, string) {
			return 200, rowErrorBody(map[int][2]string{0: {"backendError", "try later"}})
		})
		w, err := openWriter(context.Background(), fakeConfig(fake.URL, "d.t"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.close()
		_, err = w.insertBatch(context.Background(), "d", "t", pendingRows(t, "a"))
		if err == nil || len(fake.calls()) != 4 {
			t.Errorf("err = %v after %d request(s); want an error after 4", err, len(fake.calls()))
		}
	})
}

func TestBatcher(t *testing.T) {
	b := &batcher{maxRows: 3, maxBytes: 100}
	var batches [][]int
	add := func(size int) {
		p := pendingRow{size: size}
		if b.full(p) {
			batches = append(batches, sizes(b.take()))
		}
		b.add(p)
	}
	for _, s := range []int{10, 10, 10, 10, 60, 50, 200, 1} {
		add(s)
	}
	batches = append(batches, sizes(b.take()))
	want := [][]int{{10, 10, 10}, {10, 60}, {50}, {200}, {1}}
	if fmt.Sprint(batches) != fmt.Sprint(want) {
		t.Errorf("batches = %v, want %v", batches, want)
	}
}

func sizes(rows []pendingRow) []int {
	var out []int
	for _, r := range rows {
		out = append(out, r.size)
	}
	return out
}

func keyDeadLetter(d schemas.DeadLetter) (string, schemas.DeadLetter) {
	return InsertID(d.Source, string(d.Payload)), d
}

func deadDetail(d schemas.DeadLetter) string {
	return d.Reason + "|" + d.Detail + "|" + d.Source + "|" + string(d.Payload) + "|" + d.Attributes
}

func countRows(c PartitionCount) int { return int(c.Rows) }

func init() {
	register.Function1x1(countRows)
	register.Function1x2(keyDeadLetter)
	register.Function1x1(deadDetail)
}

// TestAppendRowErrors: per-row errors from insertAll become dead letters
// with BigQuery's message, the row's JSON and the table; the other rows
// count as written.
func TestAppendRowErrors(t *testing.T) {
	bad := `{"attributes":"{}","detail":"","payload":"YmFk","pipeline":"p","reason":"r","run_id":"","source":"bad","stage":"s","time":"2026-11-01T00:00:00Z"}`
	fake := newFakeInsertAll(t, func(_ int, ids []string) (int, string) {
		errs := map[int][2]string{}
		for i, id := range ids {
			if id == InsertID("bad", "bad") {
				errs[i] = [2]string{"invalid", "Cannot convert value to bytes."}
			}
		}
		if len(errs) == 0 {
			return 200, `{}`
		}
		return 200, rowErrorBody(errs)
	})
	var in []schemas.DeadLetter
	for i := range 5 {
		src := fmt.Sprintf("src%d", i)
		in = append(in, schemas.DeadLetter{Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Pipeline: "p", Stage: "s", Reason: "r", Source: src, Payload: []byte(src), Attributes: "{}"})
	}
	in = append(in, schemas.DeadLetter{Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Pipeline: "p", Stage: "s", Reason: "r", Source: "bad", Payload: []byte("bad"), Attributes: "{}"})

	p, s := beam.NewPipelineWithRoot()
	res := Append(s, AppendConfig{Config: fakeConfig(fake.URL, "ops.dead_letters")}, beam.ParDo(s, keyDeadLetter, beam.CreateList(s, in)))
	passert.Equals(s, beam.ParDo(s, deadDetail, res.DeadLetters),
		"bigquery_row_error|invalid: Cannot convert value to bytes. (at bogus)|ops.dead_letters|"+bad+`|{"insert_id":"`+InsertID("bad", "bad")+`"}`)
	passert.Equals(s, stats.Sum(s, beam.ParDo(s, countRows, res.Written)), 5)
	pr, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := counter(pr, MetricRowErrors); n != 1 {
		t.Errorf("bq_row_errors = %d, want 1", n)
	}
	if n := counter(pr, MetricRowsWritten); n != 5 {
		t.Errorf("bq_rows_written = %d, want 5", n)
	}
}
