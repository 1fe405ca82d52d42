package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/klauspost/compress/gzip"
	"github.com/spf13/cobra"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/batchjob"
	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

const (
	demoBucket     = "railyard-lake"
	demoLakePrefix = "lake"
	demoSteps      = 6
)

type demoFlags struct {
	events   int64
	seed     int64
	hours    int
	prefix   string
	keep     bool
	verbose  bool
	progress string
}

func newDemoCommand() *cobra.Command {
	f := &demoFlags{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run railyard end to end on local stand-ins (no cloud account needed)",
		Long: `demo starts the local stack (pstest for Pub/Sub, fake-gcs-server for Cloud
Storage, goccy's BigQuery emulator), applies the catalog to the emulator,
generates synthetic game events into the lake on the Cloud Storage stand-in,
reads the lake back to check that every generated line landed, runs the batch
layer (pipelines/batch, on prism) over the generated days into the emulator,
prints its reconciliation and the top teams, and stops.

The first run builds the BigQuery emulator (needs clang; ≈9 minutes on 2 cores);
later runs reuse the cached binary and take seconds. With --keep the stack
stays up until Ctrl-C and the settings to reach it are printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, f) },
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.events, "events", 20_000, "events to generate")
	fl.Int64Var(&f.seed, "seed", 1, "generator seed")
	fl.IntVar(&f.hours, "hours", 24, "hours of event time to spread the events over, from "+gen.DefaultStart.Format(time.RFC3339))
	fl.StringVar(&f.prefix, "dataset_prefix", "", "prefix of the BigQuery dataset names")
	fl.BoolVar(&f.keep, "keep", false, "keep the local stack running after the demo until Ctrl-C")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "show the stand-ins' own logs")
	fl.StringVar(&f.progress, "progress", "auto", `generator progress: "auto", "bar", "log" or "none"`)
	return cmd
}

func runDemo(cmd *cobra.Command, f *demoFlags) error {
	ctx := cmd.Context()
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	began := time.Now()
	step := func(n int, format string, args ...any) {
		fmt.Fprintf(out, "\n[%d/%d] %s (%s)\n", n, demoSteps, fmt.Sprintf(format, args...), time.Since(began).Round(time.Millisecond))
	}

	step(1, "starting the local stack: Pub/Sub, Cloud Storage, BigQuery emulator")
	opts := localstack.Options{Buckets: []string{demoBucket}}
	if f.verbose {
		opts.Log = errw
	}
	stack, err := localstack.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer stack.Close()
	// Beam's gs:// filesystem, which the lake writer uses, builds its client
	// from the environment.
	defer stack.SetEnv()()
	printStack(out, stack)

	step(2, "applying the catalog to the BigQuery emulator")
	bq := cliflags.BigQuery{Project: stack.Project, Endpoint: stack.BigQueryEndpoint, DatasetPrefix: f.prefix}
	if err := applyCatalog(cmd, bq); err != nil {
		return err
	}

	root := fmt.Sprintf("gs://%s/%s", demoBucket, demoLakePrefix)
	step(3, "generating %d events into the lake at %s", f.events, root)
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed, cfg.Hours = f.events, f.seed, f.hours
	g, err := gen.New(cfg)
	if err != nil {
		return err
	}
	report, finish, err := newProgress(errw, f.progress, cfg.Events)
	if err != nil {
		return err
	}
	genStart := time.Now()
	res, err := gen.WriteLake(ctx, g, root, gen.LakeOptions{}, report)
	finish()
	if err != nil {
		return err
	}
	if err := res.Summary.Check(); err != nil {
		return err
	}
	if err := printGenSummary(out, &genFlags{out: root, summary: "text"}, g.Config(), res, time.Since(genStart)); err != nil {
		return err
	}

	step(4, "reading the lake back from Cloud Storage")
	lines, objects, err := countLakeLines(ctx, stack, demoBucket, demoLakePrefix+"/")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "lake: %d lines in %d objects under %s\n", lines, objects, root)
	if lines != res.Summary.Lines {
		return fmt.Errorf("demo: the lake holds %d lines but %d were generated", lines, res.Summary.Lines)
	}
	fmt.Fprintf(out, "reconciled: lines %d = valid unique %d + duplicates %d + invalid %d\n",
		res.Summary.Lines, res.Summary.ValidUnique, res.Summary.Duplicates, res.Summary.Invalid)

	from := civil.DateOf(cfg.Start)
	to := civil.DateOf(g.Config().End().Add(-time.Nanosecond))
	step(5, "batch layer: recomputing %s..%s from the lake on prism into the emulator", from, to)
	beam.Init()
	if _, err := batchjob.Run(ctx, batchjob.Config{
		Lake: root, Date: from.String(), To: to.String(),
		Views: strings.Join(batchjob.ViewNames(), ","), BQ: bq,
	}, out); err != nil {
		return err
	}
	batchTop, err := printTopTeams(ctx, out, bq, from)
	if err != nil {
		return err
	}

	step(6, "speed layer: the same events posted to the ingest gateway → Pub/Sub → speed job on prism → realtime tables")
	realtimeTop, err := demoSpeedLayer(ctx, out, stack, bq, cfg, from)
	if err != nil {
		return err
	}
	if !slices.Equal(batchTop, realtimeTop) {
		return fmt.Errorf("demo: the realtime top teams differ from the batch view's")
	}
	fmt.Fprintln(out, "realtime = batch for the top teams: the speed layer converged to the batch view")
	fmt.Fprintf(out, "\ndemo complete in %s\n", time.Since(began).Round(time.Millisecond))

	if f.keep {
		fmt.Fprintln(out, "\nthe local stack keeps running; press Ctrl-C to stop it")
		printStack(out, stack)
		<-ctx.Done()
	}
	return nil
}

// countLakeLines reads every gzip object under prefix through the official
// storage client, independently of the writer, and counts its lines.
func countLakeLines(ctx context.Context, stack *localstack.Stack, bucket, prefix string) (lines, objects int64, err error) {
	client, err := stack.GCPConfig().Storage(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer client.Close()
	it := client.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return lines, objects, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("listing gs://%s/%s: %w", bucket, prefix, err)
		}
		if !strings.HasSuffix(attrs.Name, ".jsonl.gz") {
			continue
		}
		n, err := countGzipLines(ctx, client.Bucket(bucket).Object(attrs.Name))
		if err != nil {
			return 0, 0, fmt.Errorf("reading gs://%s/%s: %w", bucket, attrs.Name, err)
		}
		lines += n
		objects++
	}
}

func countGzipLines(ctx context.Context, obj *storage.ObjectHandle) (int64, error) {
	r, err := obj.NewReader(ctx)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	var n int64
	br := bufio.NewReaderSize(zr, 1<<16)
	for {
		_, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			n++
		case errors.Is(err, bufio.ErrBufferFull):
			// A line longer than the buffer: keep reading it.
		case errors.Is(err, io.EOF):
			return n, nil
		default:
			return 0, err
		}
	}
}

// printTopTeams shows what the batch layer wrote: the day's top teams,
// summed from batch.team_scores_hourly in the emulator.
func printTopTeams(ctx context.Context, out io.Writer, bq cliflags.BigQuery, day civil.Date) ([]teamTotal, error) {
	table := bq.Catalog().TableID(catalog.TableTeamScoresHourly)
	sql := fmt.Sprintf("SELECT team, SUM(score) AS score, SUM(events) AS events FROM %s "+
		"WHERE DATE(window_start) = '%s' GROUP BY team ORDER BY score DESC, team LIMIT 5", table, day)
	return printTeams(ctx, out, bq, fmt.Sprintf("top teams on %s (SELECT … FROM %s):", day, table), sql)
}

// teamTotal is a team's score and event count over a day.
type teamTotal struct {
	Team   string `bigquery:"team"`
	Score  int64  `bigquery:"score"`
	Events int64  `bigquery:"events"`
}

// printTeams prints the teamTotal rows of sql under title and returns them.
func printTeams(ctx context.Context, out io.Writer, bq cliflags.BigQuery, title, sql string) ([]teamTotal, error) {
	client, err := bq.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	it, err := client.Query(sql).Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sql, err)
	}
	fmt.Fprintf(out, "\n%s\n", title)
	var rows []teamTotal
	for {
		var row teamTotal
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
		fmt.Fprintf(out, "  %-28s %10d points %8d events\n", row.Team, row.Score, row.Events)
	}
}

// discardLogger drops the gateway's request logs, which would drown the
// demo's output.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
