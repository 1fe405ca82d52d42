package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/lock"
	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/internal/scheduler"
)

// schedFlags are the settings shared by schedule run, schedule status and
// backfill.
type schedFlags struct {
	file     string
	lockURL  string
	lease    time.Duration
	source   string
	now      string
	poll     time.Duration
	jobLogs  string
	logLevel string
	bq       *cliflags.BigQuery
}

func addSchedFlags(cmd *cobra.Command) *schedFlags {
	f := &schedFlags{}
	fl := cmd.Flags()
	fl.StringVar(&f.file, "file", "", "schedule file (YAML; see schedules/railyard.yaml) (required)")
	fl.StringVar(&f.lockURL, "lock", os.Getenv("RAILYARD_LOCK"), "where the per-partition locks live: gs://BUCKET/PREFIX (several machines) or file:///DIR (one machine); default file://<user cache>/railyard/locks (env RAILYARD_LOCK)")
	fl.DurationVar(&f.lease, "lock_lease", lock.DefaultLease, "how long a lock stays valid without renewal; a dead holder's lock is taken over after it (renewed every third of it)")
	fl.StringVar(&f.source, "source", "", "railyard source tree to build beam jobs' pipelines in (default: found from the schedule file's directory or the working directory)")
	fl.StringVar(&f.now, "now", "", "pretend the time is this RFC 3339 time (it then runs on at the real pace); default: now")
	fl.DurationVar(&f.poll, "poll", scheduler.DefaultPoll, "how often to reread the ledger when no firing comes sooner, and to retry a lock held elsewhere")
	fl.StringVar(&f.jobLogs, "job_logs", filepath.Join(os.TempDir(), "railyard-job-logs"), "directory for one log file per pipeline attempt")
	fl.StringVar(&f.logLevel, "log_level", "info", "JSON log level on standard error: debug, info, warn or error")
	f.bq = bigQueryFlags(cmd)
	_ = cmd.MarkFlagRequired("file")
	return f
}

func (f *schedFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log_level %q is not debug, info, warn or error", f.logLevel)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}

func (f *schedFlags) clock() (clock.Clock, error) {
	if f.now == "" {
		return clock.Real(), nil
	}
	t, err := time.Parse(time.RFC3339, f.now)
	if err != nil {
		return nil, fmt.Errorf("--now %q is not an RFC 3339 time such as 2026-11-02T02:30:00Z", f.now)
	}
	return clock.Offset(t), nil
}

// findSource looks for the railyard module root above dir.
func findSource(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/railyard-dev/railyard\n") {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// open loads the schedule file and builds the scheduler.
func (f *schedFlags) open(ctx context.Context, log *slog.Logger, metrics *scheduler.Metrics) (*scheduler.Scheduler, *lock.Locker, error) {
	source := f.source
	if source == "" {
		if source = findSource(filepath.Dir(f.file)); source == "" {
			wd, _ := os.Getwd()
			source = findSource(wd)
		}
	}
	file, err := schedule.Load(f.file, schedule.Options{SourceDir: source})
	if err != nil {
		return nil, nil, err
	}
	c, err := f.clock()
	if err != nil {
		return nil, nil, err
	}
	if err := f.bq.Validate(); err != nil {
		return nil, nil, err
	}
	lockURL := f.lockURL
	if lockURL == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		lockURL = "file://" + filepath.Join(dir, "railyard", "locks")
		log.Info("locks in a local directory: they keep schedulers of this machine apart; give --lock gs://BUCKET/PREFIX for several machines", "lock", lockURL)
	}
	// gs:// locks use the Cloud Storage client's defaults, which honour
	// STORAGE_EMULATOR_HOST.
	locker, err := lock.Open(ctx, lockURL, lock.Options{Lease: f.lease, Clock: c, Log: log})
	if err != nil {
		return nil, nil, err
	}
	s, err := scheduler.New(ctx, scheduler.Options{File: file, BQ: *f.bq, Lock: locker, Clock: c, Log: log, Metrics: metrics,
		Source: source, JobLogs: f.jobLogs, Poll: f.poll})
	if err != nil {
		locker.Close()
		return nil, nil, err
	}
	return s, locker, nil
}

func newScheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run scheduled batch jobs from a schedule file, with catch-up, retries and locks",
		Long: `Runs the jobs of a schedule file (see schedules/railyard.yaml and the README's
"Scheduling" section): Beam pipelines of pipelines/ and BigQuery SQL scripts,
each on its cron, for the partition (event date) the firing names.

The state lives in BigQuery's ops.batch_runs ledger, not in the scheduler:
firings missed while no scheduler ran are caught up (up to each job's catchup,
oldest first), and any instance on any machine continues where another
stopped. A lock per job and partition (--lock) keeps two schedulers, or a
scheduler and a backfill, off the same partition.`,
	}
	cmd.AddCommand(newScheduleRunCommand(), newScheduleStatusCommand(), newScheduleInstallCommand())
	return cmd
}

func newScheduleRunCommand() *cobra.Command {
	var (
		once          bool
		metricsListen string
		metricsFile   string
	)
	cmd := &cobra.Command{
		Use:   "run --file F [--once] [--now T] [--lock URL] [BigQuery flags]",
		Short: "Run due jobs: as a daemon, or once (--once) for cron-driven installs",
		Long: `Without --once, runs as a daemon: at every firing (and every --poll) it reads the
ledger and starts what is due, until SIGINT/SIGTERM; attempts still running
then are cancelled and recorded CANCELLED (they do not use up retries).

With --once, runs what is due at --now (default now), catch-up, retries and
dependencies included, waits for it, prints a table of what happened and
exits: non-zero if a firing failed. A second --once at the same time runs
nothing.

Logs are JSON lines on standard error; each pipeline attempt's own output goes
to a file in --job_logs. Metrics: --metrics_listen serves /metrics
(Prometheus); --metrics_file writes them once at exit (for a textfile
collector).`,
		Args: cobra.NoArgs,
	}
	f := addSchedFlags(cmd)
	cmd.Flags().BoolVar(&once, "once", false, "run what is due now (catch-up included), wait for it and exit")
	cmd.Flags().StringVar(&metricsListen, "metrics_listen", "127.0.0.1:9471", "address to serve Prometheus /metrics on (daemon only unless given with --once; empty: off)")
	cmd.Flags().StringVar(&metricsFile, "metrics_file", "", "write the metrics in Prometheus text format to this file at exit")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		log, err := f.logger(cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		metrics := scheduler.NewMetrics()
		s, locker, err := f.open(ctx, log, metrics)
		if err != nil {
			return err
		}
		defer locker.Close()
		defer s.Close()
		if metricsListen != "" && (!once || cmd.Flags().Changed("metrics_listen")) {
			stop, err := serveMetrics(metricsListen, metrics.Registry, log)
			if err != nil {
				return err
			}
			defer stop()
		}
		if metricsFile != "" {
			defer func() {
				if err := prometheus.WriteToTextfile(metricsFile, metrics.Registry); err != nil {
					log.Error("writing the metrics file failed", "file", metricsFile, "error", err.Error())
				}
			}()
		}
		if !once {
			return s.Run(ctx)
		}
		outcomes, err := s.Once(ctx)
		printOutcomes(cmd.OutOrStdout(), outcomes)
		if err != nil {
			return err
		}
		var failed []string
		for _, o := range outcomes {
			if o.Failed() {
				failed = append(failed, o.Job+" "+o.Partition.String())
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("schedule: %d firing(s) failed: %s", len(failed), strings.Join(failed, ", "))
		}
		return nil
	}
	return cmd
}

func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics_listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err.Error())
		}
	}()
	log.Info("serving metrics", "url", "http://"+l.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// printOutcomes prints one line per firing (or backfill date).
func printOutcomes(w io.Writer, outcomes []scheduler.Outcome) {
	if len(outcomes) == 0 {
		fmt.Fprintln(w, "nothing was due")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tPARTITION\tSCHEDULED FOR\tSTATUS\tATTEMPTS\tROWS\tDURATION\tRUN / DETAIL")
	for _, o := range outcomes {
		sched := "-"
		if !o.ScheduledFor.IsZero() {
			sched = o.ScheduledFor.UTC().Format(time.RFC3339)
		}
		detail := o.RunID
		if o.Error != "" {
			if detail != "" {
				detail += ": "
			}
			detail += firstLine(o.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", o.Job, o.Partition, sched, o.Status, o.Attempts, o.Rows,
			o.Duration.Round(time.Millisecond), detail)
	}
	tw.Flush()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func newScheduleStatusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status --file F [BigQuery flags]",
		Short: "Per job: last success, next firing, due and missed partitions, failures with their errors",
		Long: `Reads the ledger (ops.batch_runs) and prints, per job of the schedule file: the
last success, the next firing and the partition it will recompute, the firings
due now (and what they wait for, or who runs them), partitions missed beyond the
catch-up window (run them with railyard backfill) and recent failures with
their errors.`,
		Args: cobra.NoArgs,
	}
	f := addSchedFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		if !cmd.Flags().Changed("log_level") {
			f.logLevel = "warn"
		}
		log, err := f.logger(cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		s, locker, err := f.open(ctx, log, nil)
		if err != nil {
			return err
		}
		defer locker.Close()
		defer s.Close()
		st, err := s.Status(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(statusJSON(st))
		}
		printStatus(cmd.OutOrStdout(), st)
		return nil
	}
	return cmd
}

type jobStatusJSON struct {
	Job            string            `json:"job"`
	Kind           string            `json:"kind"`
	Cron           string            `json:"cron"`
	Timezone       string            `json:"timezone"`
	LastSuccess    *attemptJSON      `json:"last_success"`
	NextFiring     string            `json:"next_firing"`
	NextPartition  string            `json:"next_partition"`
	Due            []dueJSON         `json:"due"`
	Failed         []dueJSON         `json:"failed"`
	Missed         []string          `json:"missed"`
	RecentFailures []attemptJSON     `json:"recent_failures"`
	Running        map[string]string `json:"running,omitempty"`
}

type dueJSON struct {
	ScheduledFor string `json:"scheduled_for"`
	Partition    string `json:"partition"`
	NextAttempt  int    `json:"next_attempt"`
	NotBefore    string `json:"not_before,omitempty"`
	LastError    string `json:"last_error,omitempty"`
	WaitingFor   string `json:"waiting_for,omitempty"`
	RunningBy    string `json:"running_by,omitempty"`
}

type attemptJSON struct {
	Partition    string `json:"partition"`
	RunID        string `json:"run_id"`
	Attempt      int64  `json:"attempt"`
	ScheduledFor string `json:"scheduled_for,omitempty"`
	End          string `json:"end"`
	Status       string `json:"status"`
	Rows         int64  `json:"rows"`
	Error        string `json:"error,omitempty"`
}

func toAttemptJSON(a scheduler.Attempt) attemptJSON {
	out := attemptJSON{Partition: a.Partition.String(), RunID: a.RunID, Attempt: a.Attempt, End: a.End.UTC().Format(time.RFC3339),
		Status: a.Status, Rows: a.Rows, Error: a.Error}
	if !a.ScheduledFor.IsZero() {
		out.ScheduledFor = a.ScheduledFor.UTC().Format(time.RFC3339)
	}
	return out
}

func statusJSON(st []scheduler.JobStatus) []jobStatusJSON {
	var out []jobStatusJSON
	for _, js := range st {
		j := jobStatusJSON{Job: js.Job.Name, Kind: js.Job.Kind, Cron: js.Job.Cron, Timezone: js.Job.Timezone,
			Due: []dueJSON{}, Failed: []dueJSON{}, Missed: []string{}, RecentFailures: []attemptJSON{}, Running: js.Running}
		if js.Last != nil {
			a := toAttemptJSON(*js.Last)
			j.LastSuccess = &a
		}
		if !js.NextFiring.IsZero() {
			j.NextFiring, j.NextPartition = js.NextFiring.UTC().Format(time.RFC3339), js.NextPartition.String()
		}
		conv := func(s scheduler.IntervalState) dueJSON {
			d := dueJSON{ScheduledFor: s.ScheduledFor.UTC().Format(time.RFC3339), Partition: s.Partition.String(), NextAttempt: s.NextAttempt(),
				LastError: s.LastError(), WaitingFor: js.Waiting[key(s)], RunningBy: js.Running[key(s)]}
			if !s.NotBefore.IsZero() {
				d.NotBefore = s.NotBefore.UTC().Format(time.RFC3339)
			}
			return d
		}
		for _, s := range js.Due {
			j.Due = append(j.Due, conv(s))
		}
		for _, s := range js.Failed {
			j.Failed = append(j.Failed, conv(s))
		}
		for _, p := range js.Missed {
			j.Missed = append(j.Missed, p.String())
		}
		for _, a := range js.RecentFailures {
			j.RecentFailures = append(j.RecentFailures, toAttemptJSON(a))
		}
		out = append(out, j)
	}
	return out
}

func key(s scheduler.IntervalState) string {
	return s.Job.Name + " " + s.ScheduledFor.UTC().Format(time.RFC3339)
}

func printStatus(w io.Writer, st []scheduler.JobStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tCRON\tLAST SUCCESS\tNEXT FIRING\tDUE\tMISSED\tFAILED")
	for _, js := range st {
		last := "never"
		if js.Last != nil {
			last = fmt.Sprintf("%s (ended %s)", js.Last.Partition, js.Last.End.UTC().Format(time.RFC3339))
		}
		next := "-"
		if !js.NextFiring.IsZero() {
			next = fmt.Sprintf("%s for %s", js.NextFiring.UTC().Format(time.RFC3339), js.NextPartition)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%d\t%d\t%d\n", js.Job.Name, js.Job.Kind, js.Job.Cron, js.Job.Timezone, last, next,
			len(js.Due), len(js.Missed), len(js.Failed))
	}
	tw.Flush()
	for _, js := range st {
		if len(js.Due)+len(js.Missed)+len(js.Failed)+len(js.RecentFailures) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", js.Job.Name)
		for _, s := range js.Due {
			line := fmt.Sprintf("  due      %s (firing %s), attempt %d of %d", s.Partition, s.ScheduledFor.UTC().Format(time.RFC3339), s.NextAttempt(), js.Job.Attempts())
			if !s.NotBefore.IsZero() && s.NotBefore.After(js.Now) {
				line += ", not before " + s.NotBefore.UTC().Format(time.RFC3339)
			}
			if r := js.Running[key(s)]; r != "" {
				line += "; running: " + r
			}
			if r := js.Waiting[key(s)]; r != "" {
				line += "; " + r
			}
			fmt.Fprintln(w, line)
		}
		for _, s := range js.Failed {
			fmt.Fprintf(w, "  failed   %s (firing %s) after %d attempts: %s\n", s.Partition, s.ScheduledFor.UTC().Format(time.RFC3339),
				len(s.Failures), firstLine(s.LastError()))
		}
		if len(js.Missed) > 0 {
			fmt.Fprintf(w, "  missed   %s — beyond the catch-up window (catchup: %d); run railyard backfill --job %s --from … --to …\n",
				scheduler.DateRanges(js.Missed), js.Job.Catchup, js.Job.Name)
		}
		for _, a := range js.RecentFailures {
			fmt.Fprintf(w, "  error    %s attempt %d (run %s, ended %s): %s\n", a.Partition, a.Attempt, a.RunID,
				a.End.UTC().Format(time.RFC3339), firstLine(a.Error))
		}
	}
}
