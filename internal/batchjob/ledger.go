package batchjob

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/bqsink"
)

// ledgerRows are the run's ops.batch_runs rows: one per view and date.
func ledgerRows(p plan, c map[string]int64, end time.Time, status string) []schemas.BatchRun {
	var rows []schemas.BatchRun
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
				RowsWritten: c[metricRowsWrittenPrefix+p.Catalog.TableID(v.Table)+"/"+date],
				DeadLetters: c[transforms.MetricLakeDateDeadLetters+date],
				Status:      status,
			})
		}
	}
	return rows
}

// writeLedger appends the run's ledger rows, with insert IDs derived from
// run, view and partition so a retried insert does not add a row twice.
func writeLedger(ctx context.Context, p plan, c map[string]int64, end time.Time, status string) error {
	client, err := p.BQ.Client(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer client.Close()
	ds, table := splitID(p.Catalog.TableID(catalog.TableBatchRuns))
	ins := client.Dataset(ds).Table(table).Inserter()
	var savers []*bigquery.StructSaver
	for _, r := range ledgerRows(p, c, end, status) {
		savers = append(savers, &bigquery.StructSaver{Struct: r, InsertID: bqsink.InsertID(r.RunID, r.View, r.Partition)})
	}
	attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := ins.Put(attemptCtx, savers); err != nil {
		return fmt.Errorf("ledger: appending %d row(s) to %s.%s: %w", len(savers), ds, table, err)
	}
	return nil
}

func splitID(id string) (dataset, table string) {
	dataset, table, _ = strings.Cut(id, ".")
	return dataset, table
}
