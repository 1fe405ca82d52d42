package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/railyard-dev/railyard/internal/gen"
)

type genFlags struct {
	cfg           gen.Config
	start         string
	out           string
	eventsPerFile int
	maxOpenFiles  int
	progress      string
	summary       string
}

func newGenCommand() *cobra.Command {
	def := gen.DefaultConfig()
	f := &genFlags{}
	cmd := &cobra.Command{
		Use:   "gen --out DIR|gs://BUCKET/PREFIX|- [flags]",
		Short: "Generate deterministic synthetic game events into the lake",
		Long: `gen generates synthetic game events (Beam's mobile-gaming scenario: users in
Zipf-skewed teams scoring points) in the order a streaming source would see
them, with configurable shares of duplicates, invalid lines (every validation
reason in turn) and late events, and writes them into the lake layout

  <out>/game_events/dt=YYYY-MM-DD/hr=HH/part-s<seed>-NNNNN.jsonl.gz

partitioned by event hour (invalid lines without a usable event time go to
their arrival hour). <out> is a local directory or gs://bucket/prefix
(STORAGE_EMULATOR_HOST selects a Cloud Storage emulator); "-" writes plain
lines to standard output instead. The same flags give byte-identical output.

Progress goes to standard error, the summary (counts per kind and per invalid
reason, files, partitions) to standard output, or to standard error with
--out -. Reconcile with: lines = valid unique + duplicates + invalid.`,
		Example: `  railyard gen --out /tmp/lake --events 1000000
  railyard gen --out gs://my-bucket/dev --events 10000000 --hours 48 --seed 7
  railyard gen --out - --events 20 --format csv --invalid_rate 0.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGen(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.cfg.Events, "events", def.Events, "number of lines to generate, duplicates and invalid lines included")
	fl.Int64Var(&f.cfg.Seed, "seed", def.Seed, "random seed; the same flags and seed give byte-identical output")
	fl.StringVar(&f.start, "start", def.Start.Format(time.RFC3339), "start of the arrival interval, RFC 3339 (a fixed default keeps runs reproducible)")
	fl.IntVar(&f.cfg.Hours, "hours", def.Hours, "length of the arrival interval in hours; arrivals spread evenly over it")
	fl.StringVar(&f.out, "out", "", `where to write: a local directory, gs://bucket/prefix, or - for plain lines on standard output (required)`)
	fl.Float64Var(&f.cfg.DuplicateRate, "dup_rate", def.DuplicateRate, "fraction of lines that repeat a recent valid line exactly (same event_id)")
	fl.Float64Var(&f.cfg.InvalidRate, "invalid_rate", def.InvalidRate, "fraction of lines that fail validation, cycling through every reason")
	fl.Float64Var(&f.cfg.LateRate, "late_rate", def.LateRate, "fraction of valid unique events that arrive 10 min to 2 h after their event time")
	fl.IntVar(&f.cfg.Teams, "teams", def.Teams, "number of teams")
	fl.IntVar(&f.cfg.Users, "users", def.Users, "number of users (at least --teams); user k plays in team k mod teams")
	fl.Float64Var(&f.cfg.ZipfS, "zipf_s", def.ZipfS, "Zipf exponent (> 1) of the skew of teams and of users within a team; larger is more skewed")
	fl.StringVar(&f.cfg.Format, "format", def.Format, `line format: "json" (railyard's normalised JSON) or "csv" (Beam's user,team,score,timestamp_ms,readable_time)`)
	fl.IntVar(&f.eventsPerFile, "events_per_file", gen.DefaultEventsPerFile, "lines per part file before a partition rolls over to the next file")
	fl.IntVar(&f.maxOpenFiles, "max_open_files", gen.DefaultMaxOpenFiles, "part files open at once; the least recently written is closed when another is needed")
	fl.StringVar(&f.progress, "progress", "auto", `progress on standard error: "auto" (a bar on a terminal, else log lines), "bar", "log" or "none"`)
	fl.StringVar(&f.summary, "summary", "text", `summary format: "text" or "json"`)
	return cmd
}

func runGen(cmd *cobra.Command, f *genFlags) error {
	if f.out == "" {
		return errors.New("gen: --out is required: a local directory, gs://bucket/prefix, or - for standard output")
	}
	start, err := time.Parse(time.RFC3339Nano, f.start)
	if err != nil {
		return fmt.Errorf("gen: --start %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", f.start)
	}
	cfg := f.cfg
	cfg.Start = start
	if cfg.Hours <= 0 {
		return fmt.Errorf("gen: --hours %d must be at least 1", cfg.Hours)
	}
	if cfg.Teams <= 0 || cfg.Users <= 0 || cfg.ZipfS == 0 {
		return fmt.Errorf("gen: --teams (%d), --users (%d) and --zipf_s (%v) must be positive", cfg.Teams, cfg.Users, cfg.ZipfS)
	}
	if f.eventsPerFile <= 0 || f.maxOpenFiles <= 0 {
		return fmt.Errorf("gen: --events_per_file (%d) and --max_open_files (%d) must be positive", f.eventsPerFile, f.maxOpenFiles)
	}
	if f.summary != "text" && f.summary != "json" {
		return fmt.Errorf("gen: --summary %q is not text or json", f.summary)
	}
	g, err := gen.New(cfg)
	if err != nil {
		return err
	}
	cfg = g.Config()

	stderr := cmd.ErrOrStderr()
	report, finish, err := newProgress(stderr, f.progress, cfg.Events)
	if err != nil {
		return err
	}
	began := time.Now()
	var res gen.LakeResult
	summaryOut := cmd.OutOrStdout()
	if f.out == "-" {
		summaryOut = stderr
		res, err = writeLines(cmd, g, report)
	} else {
		res, err = gen.WriteLake(cmd.Context(), g, f.out, gen.LakeOptions{
			EventsPerFile: f.eventsPerFile,
			MaxOpenFiles:  f.maxOpenFiles,
		}, report)
	}
	finish()
	if err != nil {
		return err
	}
	if err := res.Summary.Check(); err != nil {
		return err
	}
	return printGenSummary(summaryOut, f, cfg, res, time.Since(began))
}

// writeLines writes the records as plain lines to standard output.
func writeLines(cmd *cobra.Command, g *gen.Generator, report func(gen.Progress)) (gen.LakeResult, error) {
	ctx := cmd.Context()
	w := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
	start := time.Now()
	total := g.Config().Events
	for r := range g.Records() {
		w.Write(r.Line)
		if err := w.WriteByte('\n'); err != nil {
			return gen.LakeResult{}, fmt.Errorf("gen: write standard output: %w", err)
		}
		if n := g.Generated(); n%gen.ProgressEvery == 0 {
			if ctx != nil && ctx.Err() != nil {
				return gen.LakeResult{}, fmt.Errorf("gen: %w", context.Cause(ctx))
			}
			report(gen.Progress{Written: n, Total: total, Elapsed: time.Since(start)})
		}
	}
	if err := w.Flush(); err != nil {
		return gen.LakeResult{}, fmt.Errorf("gen: write standard output: %w", err)
	}
	report(gen.Progress{Written: g.Generated(), Total: total, Elapsed: time.Since(start)})
	s := g.Summary()
	return gen.LakeResult{Summary: s, Lake: gen.LakeStats{Lines: s.Lines}}, nil
}

// newProgress returns a progress callback and a function that ends the
// display. mode is auto, bar, log or none.
func newProgress(w io.Writer, mode string, total int64) (func(gen.Progress), func(), error) {
	if mode == "auto" {
		mode = "log"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	switch mode {
	case "none":
		return func(gen.Progress) {}, func() {}, nil
	case "bar":
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("generating"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
		return func(p gen.Progress) { _ = bar.Set64(p.Written) }, func() { _ = bar.Finish() }, nil
	case "log":
		var (
			lastAt    time.Duration
			lastTenth int64
		)
		return func(p gen.Progress) {
			tenth := int64(10)
			if p.Total > 0 {
				tenth = p.Written * 10 / p.Total
			}
			if tenth <= lastTenth && p.Elapsed-lastAt < 5*time.Second {
				return
			}
			lastTenth, lastAt = tenth, p.Elapsed
			pct := 100.0
			if p.Total > 0 {
				pct = 100 * float64(p.Written) / float64(p.Total)
			}
			fmt.Fprintf(w, "railyard gen: %d/%d events (%.0f%%), %.0f events/s, %s elapsed\n",
				p.Written, p.Total, pct, rate(p.Written, p.Elapsed), p.Elapsed.Round(time.Millisecond))
		}, func() {}, nil
	}
	return nil, nil, fmt.Errorf("gen: --progress %q is not auto, bar, log or none", mode)
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func printGenSummary(w io.Writer, f *genFlags, cfg gen.Config, res gen.LakeResult, took time.Duration) error {
	if f.summary == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Out     string         `json:"out"`
			Seed    int64          `json:"seed"`
			Format  string         `json:"format"`
			Seconds float64        `json:"seconds"`
			Summary gen.Summary    `json:"summary"`
			Lake    *gen.LakeStats `json:"lake,omitempty"`
		}{f.out, cfg.Seed, cfg.Format, took.Seconds(), res.Summary, lakeStats(f, res)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "railyard gen: %d lines (seed %d, %s) to %s in %s, %.0f events/s\n",
		res.Summary.Lines, cfg.Seed, cfg.Format, f.out, took.Round(time.Millisecond), rate(res.Summary.Lines, took))
	b.WriteString(res.Summary.String())
	if f.out != "-" {
		fmt.Fprintf(&b, "files          %d (%s compressed)\n", len(res.Lake.Files), humanBytes(res.Lake.Bytes))
		p := res.Lake.Partitions
		switch len(p) {
		case 0:
			fmt.Fprintf(&b, "partitions     0\n")
		case 1:
			fmt.Fprintf(&b, "partitions     1 (%s)\n", p[0])
		default:
			fmt.Fprintf(&b, "partitions     %d (%s .. %s)\n", len(p), p[0], p[len(p)-1])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func lakeStats(f *genFlags, res gen.LakeResult) *gen.LakeStats {
	if f.out == "-" {
		return nil
	}
	return &res.Lake
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
