package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/cliflags"
)

// sqlExecutor runs a kind: sql job: its script, with the partition as the
// DATE parameter @partition, as one BigQuery query job; then it counts the
// destination partition's rows.
type sqlExecutor struct {
	client *bigquery.Client
	bq     cliflags.BigQuery
}

func (x *sqlExecutor) Execute(ctx context.Context, req Request) (Result, error) {
	res := Result{Runner: "bigquery"}
	j := req.Job
	cat := x.bq.Catalog()
	sql, err := j.RenderSQL(x.bq.Project, cat)
	if err != nil {
		return res, err
	}
	q := x.client.Query(sql)
	q.Parameters = []bigquery.QueryParameter{{Name: "partition", Value: req.Partition}}
	q.Labels = map[string]string{"railyard-job": j.Name, "railyard-partition": req.Partition.String()}
	job, err := q.Run(ctx)
	if err != nil {
		return res, fmt.Errorf("%s: starting the script: %w", j.SQL, err)
	}
	status, err := job.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// Timeout or shutdown: cancel the query job too (best effort).
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = job.Cancel(cctx)
			cancel()
			return res, fmt.Errorf("%w; BigQuery job %s cancelled", context.Cause(ctx), job.ID())
		}
		return res, fmt.Errorf("%s: %w", j.SQL, err)
	}
	if err := status.Err(); err != nil {
		return res, fmt.Errorf("%s: %w", j.SQL, err)
	}
	res.Rows, err = x.countPartition(ctx, req)
	return res, err
}

// countPartition counts the destination's rows in the partition.
func (x *sqlExecutor) countPartition(ctx context.Context, req Request) (int64, error) {
	j := req.Job
	col := "`" + j.PartitionColumn + "`"
	if j.PartitionIsTimestamp {
		col = "DATE(" + col + ")"
	}
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	q := x.client.Query(fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s.%s` WHERE %s = @partition", x.bq.Project, x.bq.Catalog().TableID(j.Destination), col))
	q.Parameters = []bigquery.QueryParameter{{Name: "partition", Value: req.Partition}}
	it, err := q.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("counting %s partition %s: %w", j.Destination, req.Partition, err)
	}
	var row struct {
		N int64 `bigquery:"n"`
	}
	if err := it.Next(&row); err != nil && !errors.Is(err, iterator.Done) {
		return 0, fmt.Errorf("counting %s partition %s: %w", j.Destination, req.Partition, err)
	}
	return row.N, nil
}
