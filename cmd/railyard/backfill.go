package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/civil"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/railyard-dev/railyard/internal/scheduler"
)

func newBackfillCommand() *cobra.Command {
	var (
		job, from, to, progress string
		exclude                 []string
		parallel                int
		dryRun                  bool
	)
	cmd := &cobra.Command{
		Use:   "backfill --file F --job J --from D --to D [--parallel N] [--exclude D…] [--dry_run] [--lock URL] [BigQuery flags]",
		Short: "Run one scheduled job for a range of dates, with a progress bar and a per-date report",
		Long: `Runs job J of the schedule file for every date from --from to --to (inclusive),
--parallel at a time, oldest first, with the job's retries and timeout; each
attempt is recorded in ops.batch_runs like a scheduled one.

A date that a scheduler or another backfill is running right now is waited
for, not run twice (if that run succeeds, the date is reported DONE
ELSEWHERE). A sql job's date whose upstream jobs (depends_on) have not
succeeded is BLOCKED. Backfills use their own --parallel slots: they never
take the schedule's.

At the end it prints one line per date (status, rows, duration), lists the
failed dates and exits non-zero if any failed. --dry_run prints what would run
(and which dates are locked now) without running anything.`,
		Args: cobra.NoArgs,
	}
	f := addSchedFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&job, "job", "", "job of the schedule file to run (required)")
	fl.StringVar(&from, "from", "", "first date, YYYY-MM-DD (required)")
	fl.StringVar(&to, "to", "", "last date, YYYY-MM-DD (default: --from)")
	fl.StringSliceVar(&exclude, "exclude", nil, "dates to leave out, YYYY-MM-DD (repeatable or comma-separated)")
	fl.IntVar(&parallel, "parallel", 1, "dates to run at once")
	fl.BoolVar(&dryRun, "dry_run", false, "print what would run, run nothing")
	fl.StringVar(&progress, "progress", "auto", "progress display on standard error: auto (a bar on a terminal, log lines otherwise), bar, log or none")
	_ = cmd.MarkFlagRequired("job")
	_ = cmd.MarkFlagRequired("from")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		var o scheduler.BackfillOptions
		o.Job, o.Parallel, o.DryRun = job, parallel, dryRun
		var err error
		if o.From, err = civil.ParseDate(from); err != nil {
			return fmt.Errorf("--from %q is not a YYYY-MM-DD date", from)
		}
		o.To = o.From
		if to != "" {
			if o.To, err = civil.ParseDate(to); err != nil {
				return fmt.Errorf("--to %q is not a YYYY-MM-DD date", to)
			}
		}
		for _, x := range exclude {
			d, err := civil.ParseDate(strings.TrimSpace(x))
			if err != nil {
				return fmt.Errorf("--exclude %q is not a YYYY-MM-DD date", x)
			}
			o.Exclude = append(o.Exclude, d)
		}
		if parallel < 1 || parallel > 64 {
			return fmt.Errorf("--parallel %d is out of range 1..64", parallel)
		}
		stderr := cmd.ErrOrStderr()
		mode := progress
		if mode == "auto" {
			mode = "log"
			if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
				mode = "bar"
			}
		}
		if mode == "bar" && !cmd.Flags().Changed("log_level") {
			f.logLevel = "warn" // the bar shows the progress; keep the JSON logs to problems
		}
		log, err := f.logger(stderr)
		if err != nil {
			return err
		}
		s, locker, err := f.open(ctx, log, nil)
		if err != nil {
			return err
		}
		defer locker.Close()
		defer s.Close()
		if !dryRun {
			o.Progress, o.Started, err = backfillProgress(stderr, mode, o)
			if err != nil {
				return err
			}
		}
		outcomes, err := s.Backfill(ctx, o)
		printBackfill(cmd.OutOrStdout(), outcomes)
		if err != nil {
			return err
		}
		var failed []string
		for _, oc := range outcomes {
			if oc.Failed() || oc.Status == "CANCELLED" {
				failed = append(failed, oc.Partition.String())
			}
		}
		if len(failed) > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "failed dates: %s\n", strings.Join(failed, " "))
			return fmt.Errorf("backfill: %d of %d date(s) failed", len(failed), len(outcomes))
		}
		return nil
	}
	return cmd
}

// backfillProgress returns the callbacks that show a backfill's progress.
func backfillProgress(w io.Writer, mode string, o scheduler.BackfillOptions) (func(int, int, scheduler.Outcome), func(civil.Date, string), error) {
	total := o.To.DaysSince(o.From) + 1 - len(o.Exclude)
	start := time.Now()
	switch mode {
	case "none":
		return nil, nil, nil
	case "bar":
		var mu sync.Mutex
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("backfill "+o.Job),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("dates"),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
		_ = bar.RenderBlank()
		return func(done, total int, oc scheduler.Outcome) {
				mu.Lock()
				defer mu.Unlock()
				bar.Describe(fmt.Sprintf("backfill %s: %s %s", o.Job, oc.Partition, oc.Status))
				_ = bar.Add(1)
			}, func(d civil.Date, what string) {
				mu.Lock()
				defer mu.Unlock()
				bar.Describe(fmt.Sprintf("backfill %s: %s %s", o.Job, d, firstLine(what)))
			}, nil
	case "log":
		return func(done, total int, oc scheduler.Outcome) {
				fmt.Fprintf(w, "railyard backfill: %d/%d dates, %s %s in %s (%s elapsed)\n", done, total, oc.Partition, oc.Status,
					oc.Duration.Round(time.Millisecond), time.Since(start).Round(time.Second))
			}, func(d civil.Date, what string) {
				fmt.Fprintf(w, "railyard backfill: %s %s\n", d, firstLine(what))
			}, nil
	}
	return nil, nil, fmt.Errorf("--progress %q is not auto, bar, log or none", mode)
}

func printBackfill(w io.Writer, outcomes []scheduler.Outcome) {
	printOutcomes(w, outcomes)
}
