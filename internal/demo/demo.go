package demo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"cloud.google.com/go/pubsub/v2"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/railyard-dev/railyard/internal/archivejob"
	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/ingest"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/lock"
	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/internal/scheduler"
	"github.com/railyard-dev/railyard/internal/serving"
	"github.com/railyard-dev/railyard/internal/speedjob"
	"github.com/railyard-dev/railyard/runners"
	"github.com/railyard-dev/railyard/schemas"
)

// Defaults of Options.
const (
	DefaultDuration      = 2 * time.Minute
	DefaultRate          = 25
	DefaultBacklogEvents = 20_000
	DefaultListen        = "127.0.0.1:8081"
	DefaultReportEvery   = 15 * time.Second
	// Bucket and LakePrefix are where the demo's lake lives: the lake of
	// the example schedule's batch job (--lake=gs://railyard-lake/lake).
	Bucket     = "railyard-lake"
	LakePrefix = "lake"
)

// The streaming jobs' settings in the demo: panes every few seconds
// instead of Beam's LeaderBoard minutes, so that the leaderboard moves
// while you watch.
const (
	demoEarlyDelay   = 5 * time.Second
	demoLateDelay    = 5 * time.Second
	demoUserDelay    = 10 * time.Second
	demoFlushDelay   = time.Second
	demoProgress     = 5 * time.Second
	demoArchiveAge   = 10 * time.Second
	demoStopIdle     = 8 * time.Second
	demoRefresh      = 2 * time.Second
	demoAckDeadline  = 60 * time.Second
	subSpeed         = "speed"
	subArchive       = "archive"
	subDeadLetters   = "demo-dead-letters"
	catchupWaitLimit = 15 * time.Minute
)

// Options configure Run.
type Options struct {
	// Duration is how long live traffic is posted (default 2 min).
	Duration time.Duration
	// Rate is the live traffic in events per second (default 25).
	Rate float64
	// Keep leaves everything running after the report, until ctx ends.
	Keep bool
	// BacklogEvents is the number of yesterday's lines generated into the
	// lake (default 20,000); Seed selects them and the live traffic.
	BacklogEvents int64
	Seed          int64
	// Listen is the serving layer's address (default 127.0.0.1:8081, or a
	// free port when that is taken).
	Listen string
	// ScheduleFile is the example schedule (default
	// <Source>/schedules/railyard.yaml); Source is the railyard source tree
	// where the scheduler builds pipelines/batch.
	ScheduleFile string
	Source       string
	// WorkDir receives the logs and the posted lines (default a new
	// temporary directory, kept).
	WorkDir string
	// ReportEvery is the period of the status lines (default 15 s).
	ReportEvery time.Duration
	// Verbose also shows the stand-ins' and Beam's logs.
	Verbose bool
	// Out receives the demo's output; Err the errors of the jobs' logs.
	Out, Err io.Writer
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.BacklogEvents <= 0 {
		o.BacklogEvents = DefaultBacklogEvents
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = DefaultReportEvery
	}
	if o.ScheduleFile == "" && o.Source != "" {
		o.ScheduleFile = filepath.Join(o.Source, "schedules", "railyard.yaml")
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Err == nil {
		o.Err = os.Stderr
	}
	return o
}

// demo is one run.
type demo struct {
	o     Options
	out   io.Writer
	began time.Time
	now   time.Time // when the demo started: its "today" and "yesterday"
	today civil.Date

	// stoppers are what runs, in start order; shutdown stops them in
	// reverse and says so.
	mu       sync.Mutex
	stoppers []stopper

	logFile   *os.File
	logFilter *runners.SDKNoiseFilter
	logTee    *logTee
	url       string
	handler   atomic.Value // http.Handler of the page's address
	stack     *localstack.Stack
	bq        cliflags.BigQuery
	bqc       *bigquery.Client
	srv       *serving.Server
	sched     *schedWatch
	schedDone chan error
	backlog   *Tally
	backGen   gen.Summary
	live      *Tally
	traffic   *traffic
	gateway   *ingest.Gateway
	deadTopic atomic.Int64
	deadByWhy sync.Map // reason → *atomic.Int64
}

// stoppedNote is what a stopper returns when what it stopped is stopped
// but something about it is worth saying.
type stoppedNote string

func (n stoppedNote) Error() string { return string(n) }

// schedulerStopWait bounds the wait for the scheduler to record its
// cancelled attempt.
const schedulerStopWait = 15 * time.Second

// processesNaming lists the processes (pid and command) whose command line
// contains s, from /proc; none where there is no /proc.
func processesNaming(s string) []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), s) {
			continue
		}
		pid := filepath.Base(filepath.Dir(p))
		if pid == strconv.Itoa(os.Getpid()) || pid == strconv.Itoa(os.Getppid()) { // the demo itself, and go run
			continue
		}
		out = append(out, "pid "+pid+" "+strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
	}
	return out
}

type stopper struct {
	name string
	stop func() error
}

// Run runs the demo until its report is printed (or, with Keep, until ctx
// ends), and stops everything it started. It returns an error when a step
// failed, ctx ended early, or the figures did not reconcile.
func Run(ctx context.Context, o Options) (err error) {
	o = o.withDefaults()
	d := &demo{o: o, out: o.Out, began: time.Now()}
	d.now = d.began.UTC()
	d.today = civil.DateOf(d.now)
	defer func() {
		interrupted := ctx.Err() != nil
		if interrupted {
			fmt.Fprintf(d.out, "\ninterrupted after %s: stopping everything\n", time.Since(d.began).Round(time.Second))
		}
		d.shutdown(interrupted || err != nil)
	}()
	return d.run(ctx)
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) step(n int, format string, args ...any) {
	fmt.Fprintf(d.out, "\n[%d/6] %s (at %s)\n", n, fmt.Sprintf(format, args...), time.Since(d.began).Round(time.Second))
}

func (d *demo) started(name string, stop func() error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stoppers = append(d.stoppers, stopper{name, stop})
}

// shutdown stops everything in reverse start order, each within a bound,
// and says what was stopped and what, if anything, is left running.
func (d *demo) shutdown(tell bool) {
	d.mu.Lock()
	ss := d.stoppers
	d.stoppers = nil
	d.mu.Unlock()
	if d.logTee != nil && !d.o.Verbose {
		d.logTee.quiet.Store(true)
	}
	var stopped, left []string
	for i := len(ss) - 1; i >= 0; i-- {
		done := make(chan error, 1)
		go func() { done <- ss[i].stop() }()
		select {
		case err := <-done:
			var note stoppedNote
			switch {
			case errors.As(err, &note):
				stopped = append(stopped, fmt.Sprintf("%s (%s)", ss[i].name, string(note)))
			case err != nil && !errors.Is(err, context.Canceled):
				left = append(left, fmt.Sprintf("%s (stopping it failed: %v)", cmp.Or(ss[i].name, "a setting"), err))
			case ss[i].name != "": // a nameless one restores a setting
				stopped = append(stopped, ss[i].name)
			}
		case <-time.After(30 * time.Second):
			left = append(left, ss[i].name+" (did not stop within 30 s)")
		}
	}
	if tell && len(ss) > 0 {
		d.say("stopped: %s", strings.Join(stopped, ", "))
		if len(left) > 0 {
			d.say("LEFT RUNNING: %s", strings.Join(left, "; "))
		} else {
			d.say("nothing is left running (prism's in-process job server ends with this process)")
		}
		if d.logFile != nil {
			d.say("the jobs' logs, their cancellation included: %s", d.logFile.Name())
		}
	}
	if d.logFile != nil {
		// prism's own goroutines may still log the end of the cancelled
		// jobs after this (at ERROR): into the demo's log, never onto the
		// terminal. The file stays open for them.
		slog.SetDefault(slog.New(runners.FilterSDKNoiseHandler(slog.NewTextHandler(d.logFile, nil))))
		log.SetOutput(runners.FilterSDKNoise(d.logFile))
	}
}

func (d *demo) run(ctx context.Context) error {
	o := d.o
	if o.Source == "" {
		return errors.New("demo: run it from the railyard repository: the scheduler builds pipelines/batch from its source")
	}
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "railyard-demo-")
		if err != nil {
			return err
		}
		d.o.WorkDir = dir
	} else if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return err
	}
	if err := d.routeLogs(ctx); err != nil {
		return err
	}
	if err := d.listen(); err != nil {
		return err
	}
	d.say("railyard demo: the lambda architecture on this machine, everything on 127.0.0.1")
	d.say("  the page:  %s/   (open it now; it fills in as the demo goes)", d.url)
	d.say("  work dir:  %s   (logs, the lines posted)", d.o.WorkDir)
	d.say("  plan:      yesterday %s in the lake → the scheduler's batch run; today %s live → gateway → speed job; both served merged",
		d.today.AddDays(-1), d.today)

	d.step(1, "set-up: the BigQuery emulator, the local stack (Pub/Sub, Cloud Storage, BigQuery) and the catalog")
	if err := ensureEmulator(ctx, d.out, d.logFile); err != nil {
		return err
	}
	if err := d.startStack(ctx); err != nil {
		return err
	}
	if err := d.applyCatalog(ctx); err != nil {
		return err
	}
	if err := d.startServing(ctx); err != nil {
		return err
	}

	d.step(2, "yesterday's events into the lake: the backlog the batch layer has not seen")
	if err := d.writeBacklog(ctx); err != nil {
		return err
	}

	d.step(3, "the scheduler, with the example schedule file: it catches up yesterday's batch partition by itself")
	if err := d.startScheduler(ctx); err != nil {
		return err
	}

	d.step(4, "the speed layer: ingest gateway (HTTP + MQTT) → Pub/Sub → speed job and lake archiver on prism")
	speedDone, archiveDone, stopTraffic, trafficDone, err := d.startStreaming(ctx)
	if err != nil {
		return err
	}

	d.step(5, "live traffic for %s at %.0f events/s for %s, with duplicates, late and invalid events; the leaderboard as it moves",
		d.today, o.Rate, o.Duration)
	if err := d.watch(ctx, trafficDone); err != nil {
		close(stopTraffic)
		return err
	}
	close(stopTraffic)
	if err := <-trafficDone; err != nil {
		return err
	}

	d.step(6, "draining: the streaming jobs finish their panes and report; the figures are checked")
	fmt.Fprintf(d.out, "  traffic stopped: %d lines posted; the speed job and the archiver end after %s without messages\n",
		d.traffic.posted.Load(), demoStopIdle)
	var speedRes jobResult[speedjob.Reconciliation]
	var archiveRes jobResult[archivejob.Report]
	_, err = during(ctx, d.out, "draining the streaming jobs", 20*time.Second, func() error {
		speedRes, archiveRes = <-speedDone, <-archiveDone
		return nil
	})
	if err != nil {
		return err
	}
	if err := d.waitCatchup(ctx); err != nil {
		return err
	}
	if err := d.srv.Refresh(ctx); err != nil {
		return fmt.Errorf("demo: reading the serving views: %w", err)
	}
	if err := d.report(ctx, true); err != nil {
		return err
	}
	checkErr := d.reconcile(ctx, speedRes, archiveRes)
	if checkErr != nil {
		d.say("\nDEMO FAILED: %v", checkErr)
	} else {
		d.say("\ndemo complete in %s: yesterday is served from batch, today from realtime, and every figure reconciles", time.Since(d.began).Round(time.Second))
		d.say("  the page: %s/", d.url)
	}
	if !o.Keep || ctx.Err() != nil {
		return checkErr
	}
	if err := d.keep(ctx); err != nil {
		return err
	}
	return checkErr
}

// routeLogs sends the standard logger (Beam's and prism's logs go through
// log/slog's default handler, which writes to it) to the demo's log file,
// without the known harmless SDK line, and shows ERROR entries on the
// terminal too (every entry with --verbose).
func (d *demo) routeLogs(ctx context.Context) error {
	f, err := os.Create(filepath.Join(d.o.WorkDir, "demo.log"))
	if err != nil {
		return err
	}
	d.logFile = f
	d.logTee = &logTee{file: f, term: d.o.Err, all: d.o.Verbose}
	d.logFilter = runners.FilterSDKNoise(d.logTee)
	log.SetOutput(d.logFilter)
	// Ctrl-C cancels the streaming jobs at once, and prism logs their end
	// at ERROR: from then on the log file has it all, the terminal only
	// the demo's account of what it stopped.
	if !d.o.Verbose {
		tee := d.logTee
		context.AfterFunc(ctx, func() { tee.quiet.Store(true) })
	}
	return nil
}

// logTee writes every log entry to file and the errors (all entries when
// all is set) to term.
type logTee struct {
	file, term io.Writer
	all        bool
	// quiet stops the terminal copies once the demo stops everything:
	// cancelling a streaming job makes prism log its end at ERROR ("job
	// failed … context canceled"), which is the stop asked for, not a
	// failure; it stays in the log file.
	quiet atomic.Bool
}

func (t *logTee) Write(p []byte) (int, error) {
	n, err := t.file.Write(p)
	if !t.quiet.Load() && (t.all || isErrorEntry(p)) {
		_, _ = t.term.Write(p)
	}
	return n, err
}

// isErrorEntry recognises log/slog's default "… ERROR msg" and Beam's
// own severity words.
func isErrorEntry(p []byte) bool {
	s := string(p)
	return strings.Contains(s, " ERROR ") || strings.Contains(s, "level=ERROR") || strings.Contains(s, "[ERROR]") || strings.Contains(s, " FATAL ")
}

// listen binds the serving address first, so that the page's URL can be
// printed before anything else; until the serving layer is up the page
// says what the demo is doing.
func (d *demo) listen() error {
	ln, err := net.Listen("tcp", d.o.Listen)
	if err != nil && d.o.Listen == DefaultListen {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("demo: listening on %s: %w", d.o.Listen, err)
	}
	d.url = "http://" + ln.Addr().String()
	d.handler.Store(http.Handler(http.HandlerFunc(d.waitPage)))
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.handler.Load().(http.Handler).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = hs.Serve(ln) }()
	d.started("the serving layer "+d.url, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(ctx)
	})
	return nil
}

func (d *demo) waitPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		w.Header().Set("Retry-After", "2")
		http.Error(w, `{"error":"the demo is still setting up","reason":"not_ready"}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>railyard demo</title>
<body style="font-family:sans-serif;margin:3em"><h1>railyard demo</h1><p>Setting up (%s so far): the leaderboard appears here once the serving layer is up. This page reloads itself.</p>`,
		time.Since(d.began).Round(time.Second))
}

func (d *demo) startStack(ctx context.Context) error {
	opts := localstack.Options{Buckets: []string{Bucket}, Log: d.logFile}
	if d.o.Verbose {
		opts.Log = io.MultiWriter(d.logFile, d.o.Err)
	}
	var stack *localstack.Stack
	took, err := during(ctx, d.out, "starting the local stack", 10*time.Second, func() error {
		var err error
		stack, err = localstack.Start(ctx, opts)
		return err
	})
	if err != nil {
		return err
	}
	d.stack = stack
	d.started(fmt.Sprintf("the local stack (BigQuery emulator pid %d, pstest, fake-gcs-server)", stack.BigQueryPID()), stack.Close)
	// Beam's gs:// filesystem (the archiver's lake writer), the batch
	// pipeline the scheduler starts and the locks read these.
	restore := stack.SetEnv()
	d.started("the emulator settings in this process's environment", func() error { restore(); return nil })
	d.say("  local stack up in %s: Pub/Sub %s (pstest), Cloud Storage %s (fake-gcs-server), BigQuery %s (emulator)",
		took.Round(100*time.Millisecond), stack.PubSubEndpoint, stack.GCSEndpoint, stack.BigQueryEndpoint)
	d.bq = cliflags.BigQuery{Project: stack.Project, Endpoint: stack.BigQueryEndpoint}
	c, err := d.bq.Client(ctx)
	if err != nil {
		return err
	}
	d.bqc = c
	d.started("the BigQuery client", c.Close)
	return nil
}

func (d *demo) applyCatalog(ctx context.Context) error {
	c := d.bq.Catalog()
	took, err := during(ctx, d.out, "applying the catalog", 15*time.Second, func() error {
		return d.bq.ApplyCatalog(ctx, d.bqc)
	})
	if err != nil {
		return fmt.Errorf("demo: applying the catalog: %w", err)
	}
	var datasets []string
	for _, ds := range c.Datasets {
		datasets = append(datasets, ds.Name)
	}
	d.say("  catalog applied in %s: datasets %s, %d tables and views (serving.team_scores_hourly and serving.user_scores_daily merge batch and realtime by the ledger)",
		took.Round(100*time.Millisecond), strings.Join(datasets, ", "), len(c.Tables))
	return nil
}

func (d *demo) startServing(ctx context.Context) error {
	logger := slog.New(slog.NewJSONHandler(d.logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := serving.New(serving.Options{
		Source:  &serving.BigQuerySource{Client: d.bqc, Catalog: d.bq.Catalog(), LiveWithin: 30 * time.Second, Job: "speed"},
		Refresh: demoRefresh, Logger: logger,
	})
	if err != nil {
		return err
	}
	d.srv = srv
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go srv.Run(rctx)
	d.started("the serving layer's refresh", func() error { cancel(); return nil })
	d.handler.Store(srv.Handler())
	d.say("  serving layer up: %s/ (API %s, refreshed every %s from the serving views)", d.url, serving.PathTeams, demoRefresh)
	return nil
}

func (d *demo) lakeRoot() string { return "gs://" + Bucket + "/" + LakePrefix }

// writeBacklog generates yesterday's events into the lake and tallies
// what the batch view must show for them.
func (d *demo) writeBacklog(ctx context.Context) error {
	cfg := BacklogConfig(d.today, d.o.BacklogEvents, d.o.Seed)
	g, err := gen.New(cfg)
	if err != nil {
		return err
	}
	var res gen.LakeResult
	took, err := during(ctx, d.out, "generating yesterday's events", 5*time.Second, func() error {
		var err error
		res, err = gen.WriteLake(ctx, g, d.lakeRoot(), gen.LakeOptions{}, nil)
		return err
	})
	if err != nil {
		return err
	}
	d.backGen = res.Summary
	d.backlog = NewTally()
	tg, _ := gen.New(cfg)
	now := time.Now()
	for r := range tg.Records() {
		d.backlog.Add(r.Line, now)
	}
	s := res.Summary
	d.say("  %d lines for %s in %s/game_events/dt=%s/ in %s: %d valid unique + %d duplicates + %d invalid (%d of them late)",
		s.Lines, d.today.AddDays(-1), d.lakeRoot(), d.today.AddDays(-1), took.Round(100*time.Millisecond), s.ValidUnique, s.Duplicates, s.Invalid, s.Late)
	if d.backlog.Unique() != s.ValidUnique || d.backlog.Invalid != s.Invalid {
		return fmt.Errorf("demo: the backlog's tally (%d unique, %d invalid) differs from the generator's summary", d.backlog.Unique(), d.backlog.Invalid)
	}
	return nil
}

// BacklogConfig is the generator of the demo's backlog: events lines over
// yesterday (UTC) relative to today, the generator's default shares of
// duplicates, invalid and late lines.
func BacklogConfig(today civil.Date, events, seed int64) gen.Config {
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed = events, seed
	cfg.Start = today.AddDays(-1).In(time.UTC)
	cfg.Hours = 24
	return cfg.WithDefaults()
}

// TrafficSeed is the seed of the live traffic for a demo seed.
func TrafficSeed(seed int64) int64 { return seed + 1000 }

func (d *demo) startScheduler(ctx context.Context) error {
	f, err := schedule.Load(d.o.ScheduleFile, schedule.Options{SourceDir: d.o.Source})
	if err != nil {
		return err
	}
	clk, at, notes := narrowSchedule(f, time.Now())
	rel, _ := filepath.Rel(d.o.Source, d.o.ScheduleFile)
	d.say("  schedule file %s, narrowed for the demo (the example would catch up 7 days, about 20 s of pipeline each):", rel)
	for _, n := range notes {
		d.say("    %s", n)
	}
	if !at.IsZero() {
		d.say("  its crons have not fired yet today (UTC): the scheduler runs as with --now %s, when yesterday's firings are due", at.Format(time.RFC3339))
	}
	schedLog, err := os.Create(filepath.Join(d.o.WorkDir, "scheduler.log"))
	if err != nil {
		return err
	}
	d.sched = newSchedWatch(d.out, schedLog)
	logger := slog.New(d.sched)
	locker, err := lock.Open(ctx, "file://"+filepath.Join(d.o.WorkDir, "locks"), lock.Options{Clock: clk, Log: logger})
	if err != nil {
		schedLog.Close()
		return err
	}
	s, err := scheduler.New(ctx, scheduler.Options{File: f, BQ: d.bq, Lock: locker, Clock: clk, Log: logger,
		Source: d.o.Source, BuildDir: filepath.Join(d.o.WorkDir, "bin"), JobLogs: filepath.Join(d.o.WorkDir, "job-logs"), Poll: 5 * time.Second})
	if err != nil {
		locker.Close()
		schedLog.Close()
		return err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.schedDone = make(chan error, 1)
	go func() { d.schedDone <- s.Run(sctx) }()
	d.started("the scheduler (a running attempt is cancelled and recorded CANCELLED)", func() error {
		d.sched.st.stopping.Store(true)
		cancel()
		select {
		case err := <-d.schedDone:
			d.schedDone <- err
			s.Close()
			locker.Close()
			schedLog.Close()
			return err
		case <-time.After(schedulerStopWait):
		}
		// Its attempt's pipeline is stopped before the attempt is
		// recorded: what is pending is the ledger row, unless a process
		// it started is still there.
		if procs := processesNaming(d.o.WorkDir); len(procs) > 0 {
			return fmt.Errorf("its processes still run: %s", strings.Join(procs, "; "))
		}
		return stoppedNote(fmt.Sprintf("its pipeline stopped; the attempt's CANCELLED row was not written within %s: "+
			"the BigQuery emulator stops answering once a request is cut off mid-flight (see Known limits), and the ledger lives in the emulator, which stops now", schedulerStopWait))
	})
	d.say("  scheduler started (daemon, locks in %s/locks, job logs in %s/job-logs); it reads the empty ledger ops.batch_runs and finds yesterday due", d.o.WorkDir, d.o.WorkDir)
	return nil
}

// waitCatchup waits until the scheduler has run yesterday's firings of
// every job (they may still run when a short --duration ends).
func (d *demo) waitCatchup(ctx context.Context) error {
	jobs := []string{"batch-daily", "top-teams-daily"}
	allDone := func() bool {
		_, done := d.sched.state()
		for _, j := range jobs {
			if !done[j] {
				return false
			}
		}
		return true
	}
	if allDone() {
		return nil
	}
	d.say("  waiting for the scheduler to finish yesterday's catch-up")
	_, err := during(ctx, d.out, "waiting for the scheduler", time.Minute, func() error {
		deadline := time.After(catchupWaitLimit)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for !allDone() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-deadline:
				status, _ := d.sched.state()
				return fmt.Errorf("demo: the scheduler has not caught up yesterday after %s: %v (see %s/scheduler.log)", catchupWaitLimit, status, d.o.WorkDir)
			case <-t.C:
			}
		}
		return nil
	})
	return err
}

// jobResult is what a streaming job's Run returned.
type jobResult[T any] struct {
	res T
	err error
}

// startStreaming creates the topics and subscriptions, starts the gateway,
// the traffic, the speed job and the archiver.
func (d *demo) startStreaming(ctx context.Context) (speedDone chan jobResult[speedjob.Reconciliation], archiveDone chan jobResult[archivejob.Report],
	stopTraffic chan struct{}, trafficDone chan error, err error) {
	ps, err := d.stack.GCPConfig().PubSub(ctx)
	if err != nil {
		return
	}
	d.started("the Pub/Sub client", ps.Close)
	project := d.stack.Project
	topic := gcpclient.TopicName(project, ingest.DefaultTopic)
	deadTopic := gcpclient.TopicName(project, ingest.DefaultDeadLetterTopic)
	if err = gcpclient.EnsureTopic(ctx, ps, topic, demoAckDeadline,
		gcpclient.SubscriptionName(project, subSpeed), gcpclient.SubscriptionName(project, subArchive)); err != nil {
		return
	}
	if err = gcpclient.EnsureTopic(ctx, ps, deadTopic, demoAckDeadline, gcpclient.SubscriptionName(project, subDeadLetters)); err != nil {
		return
	}
	d.countDeadLetters(ctx, ps)

	mqttAddr, err := freeAddr()
	if err != nil {
		return
	}
	gw, err := ingest.New(ingest.Config{Topic: topic, DeadLetterTopic: deadTopic, HTTPAddr: "127.0.0.1:0", MQTTAddr: mqttAddr,
		Logger: slog.New(slog.NewJSONHandler(d.logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))}, ps)
	if err != nil {
		return
	}
	if err = gw.Start(); err != nil {
		return
	}
	d.gateway = gw
	d.started("the ingest gateway", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return gw.Shutdown(ctx)
	})
	d.say("  gateway: HTTP %s%s, MQTT %s (topic %s<game>), publishing to %s; rejects to %s",
		gw.HTTPURL(), ingest.EventsPath, gw.MQTTAddr(), ingest.MQTTTopicPrefix, ingest.DefaultTopic, ingest.DefaultDeadLetterTopic)

	// The traffic starts before the jobs: a job with --stop_after_idle
	// would end on an empty subscription.
	start := time.Now()
	d.live = NewTally()
	t, err := newTraffic(trafficConfig(start, d.o.Rate, TrafficSeed(d.o.Seed), d.o.Duration), gw.HTTPURL(), gw.MQTTAddr(), d.o.WorkDir, d.live)
	if err != nil {
		return
	}
	d.traffic = t
	stopTraffic, trafficDone = make(chan struct{}), make(chan error, 1)
	tctx, cancelTraffic := context.WithCancel(ctx)
	go func() { trafficDone <- t.run(tctx, start, stopTraffic) }()
	d.started("the traffic generator", func() error { cancelTraffic(); t.close(); return nil })

	if err = d.startPrism(ctx); err != nil {
		return
	}
	speedDone, archiveDone = d.runStreamingJobs(ctx, demoStopIdle, "")
	return
}

// startPrism starts prism's job server in this process on a free port and
// points the in-process jobs at it: two jobs submitted at once to Beam's
// default in-process prism would race to start one each.
func (d *demo) startPrism(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: p}); err != nil {
		return fmt.Errorf("demo: starting prism's job server: %w", err)
	}
	for name, v := range map[string]string{"endpoint": "localhost:" + port, "environment_type": "LOOPBACK"} {
		f := flag.Lookup(name)
		if f == nil {
			return fmt.Errorf("demo: Beam's --%s flag is not defined", name)
		}
		prev := f.Value.String()
		if err := flag.Set(name, v); err != nil {
			return fmt.Errorf("demo: --%s: %w", name, err)
		}
		// Restored at the end, so that later pipelines of this process
		// (tests) do not submit to the stopped job server.
		d.started("", func() error { return flag.Set(name, prev) })
	}
	if !beam.Initialized() {
		beam.Init()
	}
	// beam.Init points log/slog's default logger at standard error; prism
	// and the SDK harness log through it: into the demo's log instead,
	// without the known harmless line, errors shown on the terminal.
	slog.SetDefault(slog.New(runners.FilterSDKNoiseHandler(slog.NewTextHandler(d.logTee, nil))))
	d.say("  prism job server on localhost:%s (in this process; the jobs' SDK workers run here too, LOOPBACK)", port)
	return nil
}

// runStreamingJobs starts the speed job and the archiver in this process.
// With stopIdle > 0 they end once their subscriptions have been empty
// that long and report; suffix names the runs of --keep.
func (d *demo) runStreamingJobs(ctx context.Context, stopIdle time.Duration, suffix string) (chan jobResult[speedjob.Reconciliation], chan jobResult[archivejob.Report]) {
	project := d.stack.Project
	stamp := time.Now().UTC().Format("20060102T150405Z")
	speedOut, _ := os.Create(filepath.Join(d.o.WorkDir, "speed"+suffix+".log"))
	archiveOut, _ := os.Create(filepath.Join(d.o.WorkDir, "archive"+suffix+".log"))
	jctx, cancel := context.WithCancel(ctx)
	speedDone := make(chan jobResult[speedjob.Reconciliation], 1)
	archiveDone := make(chan jobResult[archivejob.Report], 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		rec, err := speedjob.Run(jctx, speedjob.Config{
			Subscription: gcpclient.SubscriptionName(project, subSpeed), PubSubEndpoint: d.stack.PubSubEndpoint,
			Instance: "speed-demo-" + stamp + suffix, StopAfterIdle: stopIdle,
			Team: speedTeamOptions(), UserDelay: demoUserDelay, FlushDelay: demoFlushDelay, ProgressInterval: demoProgress, BQ: d.bq,
		}, speedOut)
		speedDone <- jobResult[speedjob.Reconciliation]{rec, err}
	}()
	go func() {
		defer wg.Done()
		rep, err := archivejob.Run(jctx, archivejob.Config{
			Subscription: gcpclient.SubscriptionName(project, subArchive), PubSubEndpoint: d.stack.PubSubEndpoint,
			EventTimeAttribute: schemas.AttrEventTime, Lake: d.lakeRoot(), Shards: 2, MaxEvents: 100_000, MaxBytes: 64 << 20,
			MaxAge: demoArchiveAge, StopAfterIdle: stopIdle, RunID: "archive-demo-" + stamp + suffix, BQ: d.bq,
		}, archiveOut)
		archiveDone <- jobResult[archivejob.Report]{rep, err}
	}()
	name := "the speed job and the lake archiver"
	if suffix != "" {
		name += " (" + strings.TrimPrefix(suffix, "-") + ")"
	}
	d.started(name, func() error {
		cancel()
		wg.Wait()
		speedOut.Close()
		archiveOut.Close()
		return nil
	})
	d.say("  speed job (panes every %s, logs %s) and archiver (files every %s into %s, logs %s) submitted to prism",
		demoEarlyDelay, speedOut.Name(), demoArchiveAge, d.lakeRoot(), archiveOut.Name())
	return speedDone, archiveDone
}

// countDeadLetters counts the gateway's rejects on the dead-letter topic
// by reason: they are kept there (the gateway answered the client with
// the reason too).
func (d *demo) countDeadLetters(ctx context.Context, ps *pubsub.Client) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ps.Subscriber(gcpclient.SubscriptionName(d.stack.Project, subDeadLetters)).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
			var dl schemas.DeadLetter
			reason := "unreadable"
			if err := json.Unmarshal(m.Data, &dl); err == nil {
				reason = dl.Reason
			}
			v, _ := d.deadByWhy.LoadOrStore(reason, &atomic.Int64{})
			v.(*atomic.Int64).Add(1)
			d.deadTopic.Add(1)
			m.Ack()
		})
	}()
	d.started("the dead-letter counter", func() error { cancel(); <-done; return nil })
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// keep leaves everything up: new instances of the streaming jobs read
// what is posted from now on; it prints the settings and waits for ctx.
func (d *demo) keep(ctx context.Context) error {
	d.runStreamingJobs(ctx, 0, "-keep")
	project, bq := d.stack.Project, d.stack.BigQueryEndpoint
	d.say("\neverything keeps running (new instances of the speed job and the archiver read what you post); Ctrl-C stops it all")
	d.say("  the page:      %s/", d.url)
	d.say("  serving API:   curl '%s%s?limit=5'", d.url, serving.PathTeams)
	d.say("  post events:   curl -X POST %s%s -H 'Content-Type: application/json' -d '{\"event_id\":\"me-1\",\"user\":\"me\",\"team\":\"Mine\",\"score\":50,\"event_time\":\"%s\"}'",
		d.gateway.HTTPURL(), ingest.EventsPath, time.Now().UTC().Format(time.RFC3339))
	d.say("  over MQTT:     mosquitto_pub -h %s -p %s -q 1 -t %sdemo -m '{…}'", hostOf(d.gateway.MQTTAddr()), portOf(d.gateway.MQTTAddr()), ingest.MQTTTopicPrefix)
	d.say("  in another shell, to point railyard's commands at this stack:")
	for _, kv := range d.stack.Env() {
		d.say("    export %s", kv)
	}
	d.say("    export RAILYARD_BQ_PROJECT=%s RAILYARD_BQ_ENDPOINT=%s RAILYARD_LOCK=file://%s/locks", project, bq, d.o.WorkDir)
	d.say("    go run ./cmd/railyard schedule status --file %s", d.o.ScheduleFile)
	d.say("    go run ./cmd/railyard backfill --file %s --job batch-daily --from %s --to %s", d.o.ScheduleFile, d.today.AddDays(-1), d.today.AddDays(-1))
	d.say("    go run ./pipelines/batch --lake=%s --date=%s --sink=discard", d.lakeRoot(), d.today)
	<-ctx.Done()
	return nil
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
