package batchjob

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/bigquery"

	"github.com/railyard-dev/railyard/runners"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/bqsink"
)

// ledgerRows are the run's ops.batch_runs rows: one per view and date. A
// scheduled run's rows also carry the job, attempt and scheduled time the
// scheduler passed, so that it computes what is due from the ledger alone;
// a failed run's rows say why.
func ledgerRows(p plan, c map[string]int64, rowsWritten map[string]int64, end time.Time, status string, runErr error) []schemas.BatchRun {
	var rows []schemas.BatchRun
	var sched schemas.BatchRun
	if p.Sched.Job != "" {
		sched.Job = bigquery.NullString{StringVal: p.Sched.Job, Valid: true}
	}
	if p.Sched.Attempt > 0 {
		sched.Attempt = bigquery.NullInt64{Int64: p.Sched.Attempt, Valid: true}
	}
	if !p.ScheduledFor.IsZero() {
		sched.ScheduledFor = bigquery.NullTimestamp{Timestamp: p.ScheduledFor.UTC(), Valid: true}
	}
	runner := bigquery.NullString{StringVal: runners.RunnerName(), Valid: true}
	var errText bigquery.NullString
	if runErr != nil && status != schemas.RunSucceeded {
		errText = bigquery.NullString{StringVal: truncate(runErr.Error(), maxErrorText), Valid: true}
	}
	for _, v := range p.Views {
		for _, d := range p.Dates {
			date := d.String()
			rows = append(rows, schemas.BatchRun{
				View:        v.Table,
				Partition:   date,
				RunID:       p.RunID,
				StartTime:   p.Start,
				EndTime:     end,
				InputEvents: c[transforms.MetricLakeDateLines+date],
				RowsWritten: rowsWritten[p.Catalog.TableID(v.Table)+" "+date],
				DeadLetters: c[transforms.MetricLakeDateDeadLetters+date],
				Status:      status,
				Job:         sched.Job, Attempt: sched.Attempt, ScheduledFor: sched.ScheduledFor,
				Runner: runner, Error: errText,
			})
		}
	}
	return rows
}

// writeLedger appends the run's ledger rows, with insert IDs derived from
// run, view and partition so a retried insert does not add a row twice.
func writeLedger(ctx context.Context, p plan, c map[string]int64, rowsWritten map[string]int64, end time.Time, status string, runErr error) error {
	client, err := p.BQ.Client(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer client.Close()
	ds, table := splitID(p.Catalog.TableID(catalog.TableBatchRuns))
	ins := client.Dataset(ds).Table(table).Inserter()
	var savers []*bigquery.StructSaver
	for _, r := range ledgerRows(p, c, rowsWritten, end, status, runErr) {
		savers = append(savers, &bigquery.StructSaver{Struct: r, InsertID: bqsink.InsertID(r.RunID, r.View, r.Partition)})
	}
	attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := ins.Put(attemptCtx, savers); err != nil {
		return fmt.Errorf("ledger: appending %d row(s) to %s.%s: %w", len(savers), ds, table, err)
	}
	return nil
}

// maxErrorText bounds the error text a ledger row keeps: enough for the
// cause, short enough to read in a table.
const maxErrorText = 4000

// truncate keeps at most n bytes of s, cut at a rune boundary (BigQuery
// refuses strings that are not UTF-8).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func splitID(id string) (dataset, table string) {
	dataset, table, _ = strings.Cut(id, ".")
	return dataset, table
}

// destinationCounts counts, after the run, what the run left in BigQuery:
// each view's rows per owned date and the run's dead letters. Reading the
// destination rather than trusting end-of-job metrics matters: counters
// updated by a pipeline's last stages have been seen to come back short
// from prism when the job completes.
func destinationCounts(ctx context.Context, p plan) (rows map[string]int64, dead int64, err error) {
	client, err := p.BQ.Client(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer client.Close()
	count := func(sql string, params ...bigquery.QueryParameter) (int64, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		q := client.Query(sql)
		q.Parameters = params
		it, err := q.Read(ctx)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", sql, err)
		}
		var row struct {
			N int64 `bigquery:"n"`
		}
		if err := it.Next(&row); err != nil {
			return 0, fmt.Errorf("%s: %w", sql, err)
		}
		return row.N, nil
	}
	rows = map[string]int64{}
	for _, v := range p.Views {
		table := p.Catalog.TableID(v.Table)
		expr := v.PartitionColumn
		if v.PartitionColumn == "window_start" {
			expr = "DATE(window_start)"
		}
		for _, d := range p.Dates {
			n, err := count(fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s` WHERE %s = @day", table, expr),
				bigquery.QueryParameter{Name: "day", Value: d})
			if err != nil {
				return nil, 0, err
			}
			rows[table+" "+d.String()] = n
		}
	}
	dead, err = count(fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s` WHERE run_id = @run", p.Catalog.TableID(catalog.TableDeadLetters)),
		bigquery.QueryParameter{Name: "run", Value: p.RunID})
	return rows, dead, err
}
