package batchjob

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/reconcile"
	"github.com/railyard-dev/railyard/runners"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/bqsink"
	"github.com/railyard-dev/railyard/transforms/gaming"
	"github.com/railyard-dev/railyard/transforms/lakeio"
)

// pipelineName labels the job's dead letters and ledger rows.
const pipelineName = "batch"

// view is one batch view the job can recompute.
type view struct {
	Name            string // --views name
	Table           string // catalog reference
	PartitionColumn string
	Build           func(s beam.Scope, events beam.PCollection) beam.PCollection
	// FromPartials computes the same rows from the hourly plan's partials.
	FromPartials func(s beam.Scope, parts gaming.Partials) beam.PCollection
}

var views = []view{
	{"user_scores_daily", catalog.TableUserScoresDaily, "day", gaming.UserScoresDaily,
		func(s beam.Scope, parts gaming.Partials) beam.PCollection {
			return gaming.UserScoresDailyFromPartials(s, parts.UserDays)
		}},
	{"team_scores_hourly", catalog.TableTeamScoresHourly, "window_start", func(s beam.Scope, events beam.PCollection) beam.PCollection {
		return gaming.CalculateTeamScores(s, events, gaming.TeamScoreOptions{Batch: true})
	}, func(s beam.Scope, parts gaming.Partials) beam.PCollection {
		return gaming.TeamScoresHourlyFromPartials(s, parts.TeamHours)
	}},
	{"game_stats_daily", catalog.TableGameStatsDaily, "day", gaming.GameStatsDaily,
		func(s beam.Scope, parts gaming.Partials) beam.PCollection {
			return gaming.GameStatsDailyFromPartials(s, parts.UserHours, parts.Sessions)
		}},
}

func viewList(vs []view) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ",")
}

// ViewNames are the views the job can recompute, for --views.
func ViewNames() []string {
	names := make([]string, len(views))
	for i, v := range views {
		names[i] = v.Name
	}
	return names
}

// Config is the batch job's command line.
type Config struct {
	Lake  string
	Date  string
	To    string
	Views string
	RunID string
	// Sink is "bigquery" (default) or "discard": compute and count every
	// view's rows but write nothing, for benchmarks and trial runs.
	Sink string
	// Plan is the execution plan: PlanHourly (default) or PlanGlobal.
	Plan string
	BQ   cliflags.BigQuery
	// Sched is what the scheduler says about the run (railyard schedule
	// and backfill pass it); empty for a run started by hand.
	Sched Scheduled
}

// Scheduled identifies a scheduler's attempt: the ledger rows of the run
// carry it, so the scheduler can tell from ops.batch_runs alone what is due.
type Scheduled struct {
	Job          string // schedule job name
	Attempt      int64  // 1 for the first try
	ScheduledFor string // RFC 3339: the firing time (or backfill start) the attempt stands for
}

// Sink choices.
const (
	SinkBigQuery = "bigquery"
	SinkDiscard  = "discard"
)

// Register adds the job's flags to fs.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Lake, "lake", "", "lake root: a local directory or gs://BUCKET/PREFIX (required)")
	fs.StringVar(&c.Date, "date", "", "first event date to recompute, YYYY-MM-DD (required)")
	fs.StringVar(&c.To, "to", "", "last event date to recompute, YYYY-MM-DD (default: --date)")
	fs.StringVar(&c.Views, "views", strings.Join(ViewNames(), ","), "comma-separated views to recompute")
	fs.StringVar(&c.Sink, "sink", SinkBigQuery, `"bigquery" writes the views, dead letters and ledger; "discard" computes and counts the views' rows but writes nothing (benchmarks, trial runs; no BigQuery needed)`)
	fs.StringVar(&c.Plan, "plan", PlanHourly, `execution plan: "hourly" parses, deduplicates and pre-aggregates each lake hour partition on its own (bounded memory; an event_id must not appear in two hour partitions); "global" deduplicates run-wide, element by element`)
	fs.StringVar(&c.RunID, "run_id", "", "identifier of this run in ops.batch_runs and ops.dead_letters (default: batch-<date>-<start time>)")
	fs.StringVar(&c.Sched.Job, "job", "", "schedule job this run is an attempt of, recorded in ops.batch_runs (set by railyard schedule and backfill)")
	fs.Int64Var(&c.Sched.Attempt, "attempt", 0, "attempt number of the scheduled run, recorded in ops.batch_runs (set by railyard schedule and backfill)")
	fs.StringVar(&c.Sched.ScheduledFor, "scheduled_for", "", "RFC 3339 time the scheduled attempt stands for, recorded in ops.batch_runs (set by railyard schedule and backfill)")
	c.BQ.Register(fs)
}

// plan is a validated config.
type plan struct {
	Config
	From, Through civil.Date
	Dates         []civil.Date
	Views         []view
	Catalog       catalog.Catalog
	Start         time.Time
	ScheduledFor  time.Time // zero unless --scheduled_for
}

func (c Config) plan(now time.Time) (plan, error) {
	var errs []error
	p := plan{Config: c, Start: now.UTC()}
	if c.Lake == "" {
		errs = append(errs, errors.New("--lake is required (a local directory or gs://BUCKET/PREFIX)"))
	}
	var err error
	if p.From, err = civil.ParseDate(c.Date); err != nil {
		errs = append(errs, fmt.Errorf("--date %q is not a YYYY-MM-DD date", c.Date))
	}
	p.Through = p.From
	if c.To != "" {
		if p.Through, err = civil.ParseDate(c.To); err != nil {
			errs = append(errs, fmt.Errorf("--to %q is not a YYYY-MM-DD date", c.To))
		}
	}
	if p.From.IsValid() && p.Through.IsValid() {
		if p.Dates, err = lakeio.Dates(p.From, p.Through); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range strings.Split(c.Views, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(views, func(v view) bool { return v.Name == name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("--views: unknown view %q (known: %s)", name, strings.Join(ViewNames(), ", ")))
			continue
		}
		p.Views = append(p.Views, views[i])
	}
	switch c.Sink {
	case "", SinkBigQuery:
		p.Sink = SinkBigQuery
		if err := c.BQ.Validate(); err != nil {
			errs = append(errs, err)
		}
	case SinkDiscard:
	default:
		errs = append(errs, fmt.Errorf("--sink %q is not %q or %q", c.Sink, SinkBigQuery, SinkDiscard))
	}
	switch c.Plan {
	case "", PlanHourly:
		p.Plan = PlanHourly
	case PlanGlobal:
	default:
		errs = append(errs, fmt.Errorf("--plan %q is not %q or %q", c.Plan, PlanHourly, PlanGlobal))
	}
	if c.Sched.ScheduledFor != "" {
		if p.ScheduledFor, err = time.Parse(time.RFC3339Nano, c.Sched.ScheduledFor); err != nil {
			errs = append(errs, fmt.Errorf("--scheduled_for %q is not an RFC 3339 time", c.Sched.ScheduledFor))
		}
	}
	if c.Sched.Attempt < 0 {
		errs = append(errs, fmt.Errorf("--attempt %d is negative", c.Sched.Attempt))
	}
	if p.RunID == "" {
		p.RunID = fmt.Sprintf("batch-%s-%s", c.Date, p.Start.Format("20060102T150405.000Z"))
	}
	p.Catalog = c.BQ.Catalog()
	return p, errors.Join(errs...)
}

func (p plan) sinkConfig(table string) bqsink.Config {
	return bqsink.Config{
		Project: p.BQ.Project, Endpoint: p.BQ.Endpoint, Table: p.Catalog.TableID(table),
		Pipeline: pipelineName, RunID: p.RunID,
	}
}

// Metric names the job adds: rows written per table and partition, and
// dead letters written. With the BigQuery sink the reconciliation and the
// ledger count the destination instead (destinationCounts); the metrics
// serve --sink=discard and the runner's own monitoring.
const (
	metricRowsWrittenPrefix = "rows_written/"
	metricDeadLetters       = bqsink.MetricDeadLettersWritten
)

// build constructs the batch pipeline: lake → parse → dedupe → views →
// partition replace (the plan decides how the middle runs, see compute),
// with every reject to ops.dead_letters. View rows are re-windowed into the
// global window before the sink: a partition replace commits once, after
// all of the run's rows, whatever windows computed them.
func (p plan) build() *beam.Pipeline {
	pipeline, s := beam.NewPipelineWithRoot()
	rows, dead := p.compute(s)

	if p.Sink == SinkDiscard {
		for i, v := range p.Views {
			beam.ParDo0(s.Scope(v.Name), &countRowsFn{Table: p.Catalog.TableID(v.Table)}, rows[i])
		}
		beam.ParDo0(s, countDiscardedDeadLetter, dead)
		return pipeline
	}
	deadLetters := []beam.PCollection{dead}
	for i, v := range p.Views {
		vs := s.Scope(v.Name)
		res := bqsink.ReplacePartitions(vs, bqsink.ReplaceConfig{
			Config:          p.sinkConfig(v.Table),
			PartitionColumn: v.PartitionColumn,
			Partitions:      p.Dates,
			OnEmulator:      p.BQ.OnEmulator(),
		}, beam.WindowInto(vs, window.NewGlobalWindows(), rows[i]))
		beam.ParDo0(vs, countRowsWritten, res.Written)
		deadLetters = append(deadLetters, res.DeadLetters)
	}
	allDead := beam.Flatten(s, deadLetters...)
	// A dead letter that cannot be written either fails the run.
	bqsink.AppendDeadLetters(s, bqsink.AppendConfig{Config: p.sinkConfig(catalog.TableDeadLetters)},
		beam.ParDo(s, bqsink.DeadLetterInsertID, allDead))
	return pipeline
}

func countRowsWritten(ctx context.Context, c bqsink.PartitionCount) {
	beam.NewCounter(transforms.MetricsNamespace, metricRowsWrittenPrefix+c.Table+"/"+c.Partition).Inc(ctx, c.Rows)
}

// deadLettersWritten counts, under the sink's own name, the dead letters
// --sink=discard does not write.
var deadLettersWritten = beam.NewCounter(transforms.MetricsNamespace, metricDeadLetters)

// countRowsFn counts a view's rows per partition without writing them
// (--sink=discard), under the same counter names the sink path uses.
type countRowsFn struct {
	Table string
}

func (fn *countRowsFn) ProcessElement(ctx context.Context, row beam.X) {
	var day string
	switch r := row.(type) {
	case schemas.UserScoreDaily:
		day = r.Day.String()
	case schemas.GameStatsDaily:
		day = r.Day.String()
	case schemas.TeamScore:
		day = r.WindowStart.UTC().Format(time.DateOnly)
	}
	beam.NewCounter(transforms.MetricsNamespace, metricRowsWrittenPrefix+fn.Table+"/"+day).Inc(ctx, 1)
}

func countDiscardedDeadLetter(ctx context.Context, _ schemas.DeadLetter) {
	deadLettersWritten.Inc(ctx, 1)
}

func init() {
	register.DoFn2x0[context.Context, beam.X](&countRowsFn{})
	register.Function2x0(countDiscardedDeadLetter)
	register.Function2x0(countRowsWritten)
}

func reconcileErr(rec Reconciliation) error {
	if rec.OK() {
		return nil
	}
	return fmt.Errorf("did not reconcile: %s", strings.Join(rec.Problems, "; "))
}

// Reconciliation is the run's account (package reconcile).
type Reconciliation = reconcile.Reconciliation

// Run executes the job on the runner the flags select and writes its
// ledger; out receives the progress and the reconciliation. It returns an
// error when the run failed or did not reconcile.
func Run(ctx context.Context, cfg Config, out io.Writer) (Reconciliation, error) {
	p, err := cfg.plan(time.Now())
	if err != nil {
		return Reconciliation{}, err
	}
	fmt.Fprintf(out, "batch run %s: lake %s, dates %s..%s, views %s, plan %s, runner %s\n",
		p.RunID, p.Lake, p.From, p.Through, viewList(p.Views), p.Plan, runners.RunnerName())
	if runners.DryRun() {
		// Nothing is read or written: the lake is not checked (it is listed
		// only when the job runs, in its first stage), no ledger row.
		if _, err := runners.Run(ctx, p.build(), runners.Batch); err != nil {
			return Reconciliation{}, fmt.Errorf("batch run %s (dry run): %w", p.RunID, err)
		}
		fmt.Fprintf(out, "batch run %s: dry run, the job was printed and not run: nothing read, no reconciliation, no ledger row\n", p.RunID)
		return Reconciliation{}, nil
	}
	if err := lakeio.CheckRoot(ctx, p.Lake); err != nil {
		return Reconciliation{}, err
	}
	res, runErr := runners.Run(ctx, p.build(), runners.Batch)
	end := time.Now().UTC()
	c := reconcile.Counters(res)
	rows := map[string]int64{}
	for name, v := range c {
		if k, ok := strings.CutPrefix(name, metricRowsWrittenPrefix); ok {
			rows[strings.Replace(k, "/", " ", 1)] = v
		}
	}
	deadWritten := c[metricDeadLetters]
	var countErr error
	if runErr == nil && p.Sink == SinkBigQuery {
		rows, deadWritten, countErr = destinationCounts(ctx, p)
	}
	rec := reconcile.Of(c, rows, deadWritten)
	if runErr == nil && countErr == nil {
		rec.Print(out)
		if n := c[MetricHourStrays]; n > 0 {
			fmt.Fprintf(out, "warning: %d valid event(s) were filed in an hour partition other than their event hour's; "+
				"they count in their event hour, but --plan=hourly deduplicates within a partition only: "+
				"if any has a copy in another partition, rerun with --plan=global\n", n)
		}
	}
	status := schemas.RunSucceeded
	if runErr != nil || countErr != nil || !rec.OK() {
		status = schemas.RunFailed
	}
	var ledgerErr error
	if p.Sink == SinkBigQuery {
		ledgerErr = writeLedger(ctx, p, c, rows, end, status, errors.Join(runErr, countErr, reconcileErr(rec)))
	}
	switch {
	case runErr != nil:
		return rec, errors.Join(fmt.Errorf("batch run %s failed: %w", p.RunID, runErr), ledgerErr)
	case countErr != nil:
		return rec, errors.Join(fmt.Errorf("batch run %s: counting what it wrote: %w", p.RunID, countErr), ledgerErr)
	case !rec.OK():
		return rec, errors.Join(fmt.Errorf("batch run %s did not reconcile: %s", p.RunID, strings.Join(rec.Problems, "; ")), ledgerErr)
	case ledgerErr != nil:
		return rec, ledgerErr
	}
	if p.Sink == SinkDiscard {
		fmt.Fprintf(out, "batch run %s succeeded in %s; --sink=discard: nothing written\n", p.RunID, end.Sub(p.Start).Round(time.Millisecond))
		return rec, nil
	}
	fmt.Fprintf(out, "batch run %s succeeded in %s; ledger: %d row(s) in %s\n",
		p.RunID, end.Sub(p.Start).Round(time.Millisecond), len(p.Views)*len(p.Dates), p.Catalog.TableID(catalog.TableBatchRuns))
	return rec, nil
}
