package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms/bqsink"
)

// Ledger reads and appends ops.batch_runs: the scheduler keeps no state of
// its own, so any instance continues where another stopped.
type Ledger struct {
	client *bigquery.Client
	table  string // dataset.table with the prefix
}

// ledgerTimeout bounds one ledger call: the emulator answers some mistakes
// with 500s that the client would retry for ever.
const ledgerTimeout = 2 * time.Minute

// ledgerRow is a ledger row as read back: the scheduler's columns are
// NULL on rows of runs started by hand.
type ledgerRow struct {
	View         string                 `bigquery:"view"`
	Partition    string                 `bigquery:"partition"`
	RunID        string                 `bigquery:"run_id"`
	StartTime    time.Time              `bigquery:"start_time"`
	EndTime      time.Time              `bigquery:"end_time"`
	RowsWritten  bigquery.NullInt64     `bigquery:"rows_written"`
	Status       string                 `bigquery:"status"`
	Job          bigquery.NullString    `bigquery:"job"`
	Attempt      bigquery.NullInt64     `bigquery:"attempt"`
	ScheduledFor bigquery.NullTimestamp `bigquery:"scheduled_for"`
	Runner       bigquery.NullString    `bigquery:"runner"`
	Error        bigquery.NullString    `bigquery:"error"`
}

const ledgerColumns = "`view`, `partition`, `run_id`, `start_time`, `end_time`, `rows_written`, `status`, `job`, `attempt`, `scheduled_for`, `runner`, `error`"

// query reads the attempts matching where. A read in flight is never
// cancelled: the BigQuery emulator closes its database connection for good
// when a query's context ends mid-flight (README, Known limits), after
// which a stopping scheduler could not record its cancelled attempt. When
// ctx ends first the caller gets its error at once and the read finishes
// in the background, bounded by ledgerTimeout.
func (l *Ledger) query(ctx context.Context, where string, params ...bigquery.QueryParameter) ([]Attempt, error) {
	type result struct {
		as  []Attempt
		err error
	}
	done := make(chan result, 1)
	go func() {
		as, err := l.read(context.WithoutCancel(ctx), where, params...)
		done <- result{as, err}
	}()
	select {
	case r := <-done:
		return r.as, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("reading the ledger %s: %w", l.table, context.Cause(ctx))
	}
}

func (l *Ledger) read(ctx context.Context, where string, params ...bigquery.QueryParameter) ([]Attempt, error) {
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	sql := fmt.Sprintf("SELECT %s FROM `%s` WHERE %s", ledgerColumns, l.table, where)
	q := l.client.Query(sql)
	q.Parameters = params
	it, err := q.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger %s: %w", l.table, err)
	}
	byRun := map[string]*Attempt{}
	var order []string
	for {
		var r ledgerRow
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the ledger %s: %w", l.table, err)
		}
		p, err := civil.ParseDate(r.Partition)
		if err != nil {
			continue // not a date partition: not the scheduler's concern
		}
		a, ok := byRun[r.RunID]
		if !ok {
			a = &Attempt{Job: r.Job.StringVal, Partition: p, RunID: r.RunID, Attempt: r.Attempt.Int64,
				Start: r.StartTime, End: r.EndTime, Status: r.Status, Runner: r.Runner.StringVal}
			if r.ScheduledFor.Valid {
				a.ScheduledFor = r.ScheduledFor.Timestamp
			}
			byRun[r.RunID] = a
			order = append(order, r.RunID)
		}
		// A pipeline writes one row per view, all with the run's status;
		// should they ever disagree, a failure wins.
		if r.Status != schemas.RunSucceeded && a.Status == schemas.RunSucceeded {
			a.Status = r.Status
		}
		if a.Error == "" && r.Error.Valid {
			a.Error = r.Error.StringVal
		}
		if r.StartTime.Before(a.Start) {
			a.Start = r.StartTime
		}
		if r.EndTime.After(a.End) {
			a.End = r.EndTime
		}
		a.Rows += r.RowsWritten.Int64
		a.Views = append(a.Views, r.View)
	}
	out := make([]Attempt, 0, len(order))
	for _, id := range order {
		a := byRun[id]
		sort.Strings(a.Views)
		out = append(out, *a)
	}
	return out, nil
}

// History reads the attempts of jobs for partitions from `from` on.
func (l *Ledger) History(ctx context.Context, jobs []string, from civil.Date) (History, error) {
	as, err := l.query(ctx, "`job` IN UNNEST(@jobs) AND `partition` >= @from",
		bigquery.QueryParameter{Name: "jobs", Value: jobs},
		bigquery.QueryParameter{Name: "from", Value: from.String()})
	if err != nil {
		return History{}, err
	}
	return NewHistory(as), nil
}

// Partition reads the attempts of one job for one partition.
func (l *Ledger) Partition(ctx context.Context, job string, p civil.Date) (History, error) {
	as, err := l.query(ctx, "`job` = @job AND `partition` = @p",
		bigquery.QueryParameter{Name: "job", Value: job},
		bigquery.QueryParameter{Name: "p", Value: p.String()})
	if err != nil {
		return History{}, err
	}
	return NewHistory(as), nil
}

// Run reads the attempt recorded under runID, if any.
func (l *Ledger) Run(ctx context.Context, runID string) (Attempt, bool, error) {
	as, err := l.query(ctx, "`run_id` = @run", bigquery.QueryParameter{Name: "run", Value: runID})
	if err != nil || len(as) == 0 {
		return Attempt{}, false, err
	}
	return as[0], true, nil
}

// Record appends one row, with an insert ID derived from run, view and
// partition so that a retried insert does not add it twice.
func (l *Ledger) Record(ctx context.Context, r schemas.BatchRun) error {
	ds, table, _ := strings.Cut(l.table, ".")
	ins := l.client.Dataset(ds).Table(table).Inserter()
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * 2 * time.Second)
		}
		cctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
		err = ins.Put(cctx, &bigquery.StructSaver{Struct: r, InsertID: bqsink.InsertID(r.RunID, r.View, r.Partition)})
		cancel()
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("recording run %s in %s: %w", r.RunID, l.table, err)
}

// newLedger is the ledger of catalog c.
func newLedger(client *bigquery.Client, c catalog.Catalog) *Ledger {
	return &Ledger{client: client, table: c.TableID(catalog.TableBatchRuns)}
}

// maxErrorText bounds the error text a ledger row keeps.
const maxErrorText = 4000

// clip keeps at most n bytes of s, cut at a rune boundary (BigQuery
// refuses strings that are not UTF-8).
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
