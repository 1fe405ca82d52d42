package bqsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"cloud.google.com/go/bigquery"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/railyard-dev/railyard/internal/gcpclient"
)

var (
	rowsWritten       = beam.NewCounter(MetricNamespace, MetricRowsWritten)
	rowsStaged        = beam.NewCounter(MetricNamespace, MetricRowsStaged)
	retries           = beam.NewCounter(MetricNamespace, MetricRetries)
	rowErrors         = beam.NewCounter(MetricNamespace, MetricRowErrors)
	stagingDuplicates = beam.NewCounter(MetricNamespace, MetricStagingDuplicates)
	cleanupFailures   = beam.NewCounter(MetricNamespace, MetricCleanupFailures)
)

// writer is a DoFn instance's connection to BigQuery: a client and a
// retrier that counts its retries in bq_retries.
type writer struct {
	cfg    Config
	client *bigquery.Client
	retry  *retrier
}

func openWriter(ctx context.Context, cfg Config) (*writer, error) {
	cfg = cfg.withDefaults()
	client, err := gcpclient.Config{Project: cfg.Project, BigQueryEndpoint: cfg.Endpoint}.BigQuery(ctx)
	if err != nil {
		return nil, err
	}
	return &writer{cfg: cfg, client: client, retry: newRetrier(cfg.Retry, func(ctx context.Context, op string, attempt int, err error) {
		retries.Inc(ctx, 1)
		log.Warnf(ctx, "bqsink: %s: attempt %d failed, retrying: %v", op, attempt, err)
	})}, nil
}

func (w *writer) close() error {
	if w == nil || w.client == nil {
		return nil
	}
	return w.client.Close()
}

// call runs an API call (not a job) with retries.
func (w *writer) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return w.retry.do(ctx, op, w.cfg.Retry.AttemptTimeout, fn)
}

// pendingRow is one row of an insertAll request.
type pendingRow struct {
	insertID string
	// fields are the row's columns as JSON values, plus any extra columns.
	fields map[string]json.RawMessage
	// size approximates the row's share of the request body.
	size int
	// ref is the caller's handle on the row (an index).
	ref int
}

// Save implements bigquery.ValueSaver: the JSON values go into the request
// as they are.
func (p pendingRow) Save() (map[string]bigquery.Value, string, error) {
	m := make(map[string]bigquery.Value, len(p.fields))
	for k, v := range p.fields {
		m[k] = v
	}
	return m, p.insertID, nil
}

// newPendingRow splits a row's JSON object into columns and adds extra
// string columns.
func newPendingRow(ref int, insertID string, rowJSON []byte, extra map[string]string) (pendingRow, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rowJSON, &fields); err != nil {
		return pendingRow{}, fmt.Errorf("row is not a JSON object: %w", err)
	}
	if fields == nil {
		return pendingRow{}, errors.New("row is JSON null")
	}
	size := len(rowJSON) + len(insertID) + 32
	for k, v := range extra {
		b, err := json.Marshal(v)
		if err != nil {
			return pendingRow{}, err
		}
		fields[k] = b
		size += len(k) + len(b) + 4
	}
	return pendingRow{insertID: insertID, fields: fields, size: size, ref: ref}, nil
}

// rowFailure is a row BigQuery refused for good.
type rowFailure struct {
	ref    int
	detail string
}

// retryableRowReasons are per-row insertAll error reasons that say nothing
// about the row itself: "stopped" (not inserted because another row of the
// request was invalid) and transient backend trouble.
var retryableRowReasons = []string{"stopped", "backendError", "internalError", "timeout", "rateLimitExceeded"}

func rowRetryable(errs bigquery.MultiError) bool {
	if len(errs) == 0 {
		return false
	}
	for _, e := range errs {
		be, ok := e.(*bigquery.Error)
		if !ok || !slices.Contains(retryableRowReasons, be.Reason) {
			return false
		}
	}
	return true
}

// retryRowsError says that some rows of a request got transient per-row
// errors and are sent again.
type retryRowsError struct {
	rows   int
	detail string
}

func (e *retryRowsError) Error() string {
	return fmt.Sprintf("%d row(s) not inserted for a transient reason (%s)", e.rows, e.detail)
}

// insertBatch writes rows into dataset.table with one insertAll request,
// retried as a whole on transient errors with the same insert IDs; rows
// that get transient per-row errors are sent again. It returns the rows
// BigQuery refused for good (SkipInvalidRows is set, so the valid rows of a
// request are inserted). An error means the batch may be partly written:
// the caller fails its bundle, and the insert IDs (append) or the commit's
// de-duplication (replace) absorb the rows written twice.
func (w *writer) insertBatch(ctx context.Context, dataset, table string, rows []pendingRow) ([]rowFailure, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ins := w.client.Dataset(dataset).Table(table).Inserter()
	ins.SkipInvalidRows = true
	pending := rows
	var failed []rowFailure
	op := fmt.Sprintf("insertAll %s.%s (%d rows)", dataset, table, len(rows))
	err := w.call(ctx, op, func(ctx context.Context) error {
		savers := make([]bigquery.ValueSaver, len(pending))
		for i, r := range pending {
			savers[i] = r
		}
		err := ins.Put(ctx, savers)
		if err == nil {
			pending = nil
			return nil
		}
		var pme bigquery.PutMultiError
		if !errors.As(err, &pme) {
			return err // the whole request failed: send it all again
		}
		var again []pendingRow
		var lastDetail string
		for _, rie := range pme {
			if rie.RowIndex < 0 || rie.RowIndex >= len(pending) {
				return permanent(fmt.Errorf("insertAll reported an error for row %d of %d", rie.RowIndex, len(pending)))
			}
			r := pending[rie.RowIndex]
			detail := rowErrorDetail(rie.Errors)
			if rowRetryable(rie.Errors) {
				again = append(again, r)
				lastDetail = detail
				continue
			}
			failed = append(failed, rowFailure{ref: r.ref, detail: detail})
		}
		pending = again
		if len(again) > 0 {
			return &retryRowsError{rows: len(again), detail: lastDetail}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return failed, nil
}

// batcher cuts a stream of rows into insertAll requests of at most
// maxRows rows and maxBytes bytes.
type batcher struct {
	maxRows, maxBytes int
	rows              []pendingRow
	bytes             int
}

// full reports whether r does not fit into the current batch.
func (b *batcher) full(r pendingRow) bool {
	return len(b.rows) > 0 && (len(b.rows) >= b.maxRows || b.bytes+r.size > b.maxBytes)
}

func (b *batcher) add(r pendingRow) {
	b.rows = append(b.rows, r)
	b.bytes += r.size
}

func (b *batcher) take() []pendingRow {
	rows := b.rows
	b.rows, b.bytes = nil, 0
	return rows
}
