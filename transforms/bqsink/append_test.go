package bqsink

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// insertIDs returns the sorted insert IDs of recorded insertAll bodies.
func insertIDs(t *testing.T, bodies [][]byte) []string {
	t.Helper()
	var ids []string
	for _, b := range bodies {
		var req struct {
			Rows []struct {
				InsertID string `json:"insertId"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		for _, r := range req.Rows {
			ids = append(ids, r.InsertID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestAppend: dead letters appended to an ops.dead_letters table on the
// emulator land whole, in batches over shards; a second run (what a
// retried bundle does) sends the very same insert IDs — which the emulator,
// unlike BigQuery, does not de-duplicate.
func TestAppend(t *testing.T) {
	e := newBQEnv(t)
	table := e.createTable(t, "dead_letters", catalog.TableDeadLetters)
	proxy := newFaultProxy(t, e.st.BigQueryEndpoint)
	proxy.passAll = true
	cfg := AppendConfig{Config: e.config(table)}
	cfg.Endpoint = proxy.URL

	var rows []schemas.DeadLetter
	for i := range 11 {
		rows = append(rows, schemas.DeadLetter{
			Time: time.Date(2026, 11, 1, 10, i, 0, 0, time.UTC), Pipeline: "ingest", RunID: "gw-1", Stage: "parse",
			Reason: "malformed_json", Detail: "unexpected end of JSON input", Source: fmt.Sprintf("POST /events #%d", i),
			Payload: []byte(fmt.Sprintf(`{"event_id":"e-%d"`, i)), Attributes: `{"content-type":"application/json"}`,
		})
	}
	run := func() {
		t.Helper()
		p, s := beam.NewPipelineWithRoot()
		res := Append(s, cfg, beam.ParDo(s, DeadLetterInsertID, beam.CreateList(s, rows)))
		passert.Equals(s, stats.Sum(s, beam.ParDo(s, countRows, res.Written)), len(rows))
		passert.Empty(s, res.DeadLetters)
		pr, err := ptest.RunWithMetrics(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := counter(pr, MetricRowsWritten); n != int64(len(rows)) {
			t.Errorf("bq_rows_written = %d, want %d", n, len(rows))
		}
	}
	read := func() []schemas.DeadLetter {
		got := readAll[schemas.DeadLetter](t, e.client, "SELECT time, pipeline, run_id, stage, reason, detail, source, payload, attributes FROM `"+table+"`")
		// goccy's emulator v0.6.6 stores a BYTES value sent through insertAll
		// as its base64 text (also with the client's own Inserter): decode.
		for i := range got {
			b, err := base64.StdEncoding.DecodeString(string(got[i].Payload))
			if err != nil {
				t.Fatalf("payload %q: %v (has the emulator stopped storing base64 text?)", got[i].Payload, err)
			}
			got[i].Payload = b
		}
		return got
	}

	run()
	equalRows(t, "after one run", read(), rows)
	first := insertIDs(t, proxy.bodies["insertAll"])
	var want []string
	for _, r := range rows {
		id, _ := DeadLetterInsertID(r)
		want = append(want, id)
	}
	slices.Sort(want)
	if !slices.Equal(first, want) {
		t.Errorf("insert IDs sent = %v, want DeadLetterInsertID of each row %v", first, want)
	}
	if n := len(proxy.bodies["insertAll"]); n < 3 {
		t.Errorf("%d insertAll requests for %d rows in batches of %d; want ≥ 3", n, len(rows), cfg.BatchRows)
	}

	proxy.mu.Lock()
	proxy.bodies["insertAll"] = nil
	proxy.mu.Unlock()
	run()
	if again := insertIDs(t, proxy.bodies["insertAll"]); !slices.Equal(again, first) {
		t.Errorf("the second run sent other insert IDs:\n%v\n%v", again, first)
	}
	// BigQuery would drop the second copies (best effort, within about a
	// minute); goccy's emulator v0.6.6 keeps them.
	equalRows(t, "after two runs (the emulator does not de-duplicate insert IDs)", read(), append(slices.Clone(rows), rows...))
}
