package bqsink

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// TestAppendDeadLetters: the dead letters land in the table and are counted
// in dead_letters_written; one the table refuses fails the run, never
// silently.
func TestAppendDeadLetters(t *testing.T) {
	e := newBQEnv(t)
	table := e.createTable(t, "dead_letters", catalog.TableDeadLetters)
	proxy := newFaultProxy(t, e.st.BigQueryEndpoint)
	proxy.passAll = true
	cfg := AppendConfig{Config: e.config(table)}
	cfg.Endpoint = proxy.URL
	var rows []schemas.DeadLetter
	for i := range 4 {
		rows = append(rows, schemas.DeadLetter{
			Time: time.Date(2026, 11, 1, 10, i, 0, 0, time.UTC), Pipeline: "speed", RunID: "r-1", Stage: "parse",
			Reason: "malformed_json", Detail: "unexpected end of JSON input", Source: fmt.Sprintf("msg-%d", i),
			Payload: []byte(`{"event_id":`), Attributes: "{}",
		})
	}
	run := func() (beam.PipelineResult, error) {
		p, s := beam.NewPipelineWithRoot()
		AppendDeadLetters(s, cfg, beam.ParDo(s, DeadLetterInsertID, beam.CreateList(s, rows)))
		return ptest.RunWithMetrics(p)
	}

	pr, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if n := counter(pr, MetricDeadLettersWritten); n != int64(len(rows)) {
		t.Errorf("%s = %d, want %d", MetricDeadLettersWritten, n, len(rows))
	}
	got := readAll[schemas.DeadLetter](t, e.client, "SELECT source FROM `"+table+"`")
	if len(got) != len(rows) {
		t.Fatalf("%d rows in %s, want %d", len(got), table, len(rows))
	}

	proxy.rejectRow = func(row map[string]json.RawMessage) string {
		if string(row["source"]) == `"msg-2"` {
			return "no such field: source."
		}
		return ""
	}
	_, err = run()
	// The sink's own dead letter for the refused row names the table and
	// BigQuery's reason.
	if err == nil || !strings.Contains(err.Error(), "dead letter from "+table+" ("+ReasonRowError+") could not be written") ||
		!strings.Contains(err.Error(), "no such field: source.") {
		t.Fatalf("a refused dead letter: err = %v, want the run to fail naming the table and the reason", err)
	}
}
