package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/runners/jobserver"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

var (
	events   = flag.Int64("events", 20000, "events to publish (all kinds: valid, late, duplicate, invalid); with --duration, ignored")
	duration = flag.Duration("duration", 0, "publish for this long at --rate instead of a number of events (e.g. 10m for the memory run)")
	rate     = flag.Float64("rate", 1000, "publish rate, events per second")
	poll     = flag.Duration("poll", 250*time.Millisecond, "how often the emulator is polled for visible rows")
	timeout  = flag.Duration("timeout", 10*time.Minute, "give up waiting for rows this long after publishing ended")
	// Late events hold the source's watermark back (it follows the earliest
	// event time of each Pull); 0 measures the job without them.
	lateRate   = flag.Float64("late_rate", gen.DefaultLateRate, "fraction of events that arrive 10 min to 2 h after their event time")
	runner     = flag.String("runner", "prism", "runner of the speed job: prism (in the job's process) or flink")
	endpoint   = flag.String("endpoint", "", "with --runner=flink: a running Flink job server's job endpoint (default: the bench starts one with runners/jobserver)")
	jobBin     = flag.String("job_bin", "", "the speed job's binary (go build ./pipelines/speed; scripts/bench-speed.sh builds it)")
	work       = flag.String("work", "/tmp/railyard-bench-speed", "directory for the processes' output and profiles")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the speed job's process (prism and the SDK workers included) to this file")
	memProfile = flag.String("memprofile", "", "write a heap profile of the speed job's process, taken at its largest Go heap, to this file")
	userDelay  = flag.Duration("user_delay", time.Second, "the job's user-score firing period (the job's default, 10 min, would measure the trigger, not the pipeline)")
	baseline   = flag.Bool("baseline", true, "pull a second subscription of the topic in this process, measuring pstest's own publish → pull latency (it costs pstest CPU too)")
	// The job must not stop before publishing starts: the bench starts
	// publishing once the job has reported progress, which it does after
	// the subscription has been idle for 5 s (the source's IdleAdvance).
	stopAfterIdle = flag.Duration("stop_after_idle", 20*time.Second, "the job's --stop_after_idle: it drains and ends once the subscription has been empty this long (more than 5 s)")
	rssEvery      = flag.Duration("rss_every", 10*time.Second, "how often the job's RSS is sampled for the timeline")
	// A backlog separates the job's capacity from the publisher's: on two
	// shared cores the driver and pstest cannot publish much faster than
	// the job reads.
	preload = flag.Bool("preload", false, "publish every event before the job starts, then measure how fast the job drains the backlog (sustained = valid unique events ÷ job start → last row visible; latencies are from the job's start)")
	// Internal: the Pub/Sub emulator mode of this binary.
	servePubSub = flag.String("serve_pubsub", "", "internal: run pstest on this address until interrupted")
)

const project = "railyard-bench"

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: speedbench --job_bin PATH [--events N | --duration D] [--rate R] [--runner prism|flink] [flags] [-- speed job flags]

Run it through scripts/bench-speed.sh. Flags after -- go to the speed job
(e.g. --flush_delay 1s).

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if *servePubSub != "" {
		if err := runPubSub(*servePubSub); err != nil {
			fail(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "speedbench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...)
}

// published is what the bench knows of one valid, unique event.
type published struct {
	user      string
	confirmed time.Time
}

// role is a process whose CPU time the bench reports.
type role struct {
	name string
	pid  int
	cpu0 float64
}

func run(ctx context.Context) error {
	if *jobBin == "" {
		return errors.New("--job_bin is required (scripts/bench-speed.sh builds and passes it)")
	}
	if *runner != "prism" && *runner != "flink" {
		return fmt.Errorf("--runner %q: want prism or flink", *runner)
	}
	if err := os.MkdirAll(*work, 0o755); err != nil {
		return err
	}
	total := *events
	if *preload && *baseline {
		logf("--preload: no baseline subscription (a backlog has no publish → pull latency to compare)")
		*baseline = false
	}
	if *duration > 0 {
		total = int64(duration.Seconds() * *rate)
	}
	startLoad := loadAverage()
	logf("%d CPUs, load average %s", numCPU(), startLoad)

	ps, err := startPubSubProcess(ctx, filepath.Join(*work, "pubsub.log"))
	if err != nil {
		return err
	}
	defer ps.stop()
	logf("pstest (pid %d) on %s", ps.pid(), ps.addr)

	logf("starting the BigQuery emulator")
	stack, err := localstack.Start(ctx, localstack.Options{BigQuery: true, Project: project})
	if err != nil {
		return err
	}
	defer stack.Close()
	bq := cliflags.BigQuery{Project: project, Endpoint: stack.BigQueryEndpoint}
	bqClient, err := bq.Client(ctx)
	if err != nil {
		return err
	}
	defer bqClient.Close()
	if err := bq.ApplyCatalog(ctx, bqClient); err != nil {
		return err
	}
	c := bq.Catalog()

	psClient, err := gcpclient.Config{Project: project, PubSubEndpoint: ps.addr}.PubSub(ctx)
	if err != nil {
		return err
	}
	defer psClient.Close()
	topic := gcpclient.TopicName(project, "game-events")
	speedSub := gcpclient.SubscriptionName(project, "speed")
	baseSub := gcpclient.SubscriptionName(project, "baseline")
	subs := []string{speedSub}
	if *baseline {
		subs = append(subs, baseSub)
	}
	if err := gcpclient.EnsureTopic(ctx, psClient, topic, time.Minute, subs...); err != nil {
		return err
	}

	roles := []*role{{name: "pstest", pid: ps.pid()}, {name: "bigquery emulator", pid: stack.BigQueryPID()}}
	var runnerArgs []string
	if *runner == "flink" {
		ep := *endpoint
		if ep == "" {
			logf("starting a Flink job server (runners/jobserver)")
			start := time.Now()
			js, err := jobserver.Start(ctx, jobserver.Options{Kind: jobserver.Flink})
			if err != nil {
				return err
			}
			defer js.Close()
			ep = js.Endpoint()
			roles = append(roles, &role{name: "flink job server", pid: js.PID()})
			logf("Flink job server (pid %d) at %s, ready in %s", js.PID(), ep, time.Since(start).Round(time.Millisecond))
		}
		runnerArgs = []string{"--runner=flink", "--endpoint=" + ep, "--environment_type=LOOPBACK"}
	}

	cfg := gen.DefaultConfig()
	cfg.Events = total
	cfg.LateRate = *lateRate
	// Event times lie in the hours just before the run, so none is from the
	// future; the latency measured is that of the user scores, which fire
	// in processing time whatever the event times.
	cfg.Hours = max(1, int(float64(total) / *rate / 3600)+1)
	cfg.Start = time.Now().UTC().Add(-time.Duration(cfg.Hours) * time.Hour).Truncate(time.Millisecond)
	g, err := gen.New(cfg)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	byID := map[string]published{}
	perUser := map[string][]time.Time{}
	var (
		summary    gen.Summary
		pubElapsed time.Duration
		pubStart   time.Time
	)
	publish := func() (gen.Summary, time.Duration, error) {
		logf("publishing %d events at %.0f/s", total, *rate)
		pubStart = time.Now()
		publisher := psClient.Publisher(topic)
		summary, err := gen.Publish(ctx, g, publisher, gen.PublishOptions{
			Rate: *rate,
			OnPublish: func(r gen.Record, confirmed time.Time) {
				if r.Kind != gen.KindValid && r.Kind != gen.KindLate {
					return
				}
				e, err := schemas.DecodeLine(r.Line, time.Now())
				if err != nil {
					return
				}
				mu.Lock()
				byID[r.EventID] = published{user: e.User, confirmed: confirmed}
				perUser[e.User] = append(perUser[e.User], confirmed)
				mu.Unlock()
			},
		})
		publisher.Stop()
		if err != nil {
			return summary, 0, err
		}
		pubElapsed := time.Since(pubStart)
		logf("published %s in %s (%.0f events/s)", summary.String(), pubElapsed.Round(time.Millisecond), float64(summary.Lines)/pubElapsed.Seconds())
		return summary, pubElapsed, nil
	}
	if *preload {
		logf("preloading the subscription (--preload): the job starts once every event is published")
		if summary, pubElapsed, err = publish(); err != nil {
			return err
		}
	}

	instance := "bench-" + time.Now().UTC().Format("20060102T150405Z")
	jobArgs := append([]string{
		"--subscription=" + speedSub, "--pubsub_endpoint=" + ps.addr,
		"--bq_project=" + project, "--bq_endpoint=" + stack.BigQueryEndpoint,
		"--instance=" + instance, "--stop_after_idle=" + stopAfterIdle.String(), "--user_delay=" + userDelay.String(),
	}, runnerArgs...)
	if *cpuProfile != "" {
		jobArgs = append(jobArgs, "--cpuprofile="+*cpuProfile)
	}
	if *memProfile != "" {
		jobArgs = append(jobArgs, "--memprofile="+*memProfile)
	}
	jobArgs = append(jobArgs, flag.Args()...)
	job, err := startJob(*jobBin, jobArgs, filepath.Join(*work, "job.log"))
	if err != nil {
		return err
	}
	defer job.kill()
	logf("speed job (pid %d) on %s: %s %s", job.pid(), *runner, *jobBin, strings.Join(jobArgs, " "))
	jobRole := &role{name: "speed job", pid: job.pid()}
	// The driver (publishing, the baseline pull, the polls) runs on the
	// same cores: its share is reported too, last.
	roles = append(append([]*role{jobRole}, roles...), &role{name: "bench driver", pid: os.Getpid()})

	jobStart := time.Now()
	if *preload {
		// The job drains from its start, startup included in the figures.
		for _, r := range roles {
			r.cpu0, _ = cpuSeconds(r.pid)
		}
	} else {
		// Measure from the moment the job reads: its first progress report.
		logf("waiting for the job's first progress report in %s", catalog.TableStreamProgress)
		if err := waitRunning(ctx, bqClient, c.TableID(catalog.TableStreamProgress), instance, job, 5*time.Minute); err != nil {
			return err
		}
	}

	var baseLatencies []time.Duration
	baseCtx, stopBase := context.WithCancel(ctx)
	defer stopBase()
	baseDone := make(chan error, 1)
	if *baseline {
		go func() {
			baseDone <- pullBaseline(baseCtx, psClient.SubscriptionAdminClient, baseSub, &mu, byID, &baseLatencies)
		}()
	} else {
		baseDone <- nil
	}

	wantCh := make(chan int64, 1)
	type visibleResult struct {
		lat  []time.Duration
		last time.Time
		err  error
	}
	visibleDone := make(chan visibleResult, 1)
	go func() {
		lat, last, err := waitVisible(ctx, bqClient, c.TableID(catalog.TableRealtimeUser), &mu, perUser, wantCh, job)
		visibleDone <- visibleResult{lat, last, err}
	}()

	if !*preload {
		for _, r := range roles {
			r.cpu0, _ = cpuSeconds(r.pid)
		}
	}
	sampler := startRSSSampler(job.pid(), *rssEvery)
	if *preload {
		// Every confirmation time becomes the job's start: latencies are
		// then how long after it started the job made each event visible.
		mu.Lock()
		for _, times := range perUser {
			for k := range times {
				times[k] = jobStart
			}
		}
		mu.Unlock()
		pubStart = jobStart
	} else if summary, pubElapsed, err = publish(); err != nil {
		return err
	}
	var want int64
	mu.Lock()
	for _, times := range perUser {
		want += int64(len(times))
	}
	mu.Unlock()
	if want != summary.ValidUnique {
		return fmt.Errorf("recorded %d valid unique events, the generator made %d", want, summary.ValidUnique)
	}
	wantCh <- want
	vr := <-visibleDone
	endLoad := loadAverage()
	cpu := make([]float64, len(roles))
	for i, r := range roles {
		c1, err := cpuSeconds(r.pid)
		if err == nil {
			cpu[i] = c1 - r.cpu0
		}
	}
	rssNow, _, _ := memory(job.pid())
	stopBase()
	if err := <-baseDone; err != nil {
		logf("baseline pull: %v", err)
	}
	if vr.err != nil {
		return vr.err
	}

	logf("every event visible; waiting for the job to drain (--stop_after_idle %s)", *stopAfterIdle)
	jobRes := job.wait(ctx, 10*time.Minute)
	samples := sampler.Stop()

	span := vr.last.Sub(pubStart)
	fmt.Printf("\nspeed job on %s, %d events published at %.0f/s (%s), %d CPUs; load average %s at the start, %s at the end\n",
		*runner, summary.Lines, *rate, summary.String(), numCPU(), startLoad, endLoad)
	fmt.Printf("sustained: %d valid unique events visible in %s → %.0f events/s (publishing took %s: %.0f events/s)\n",
		len(vr.lat), span.Round(time.Millisecond), float64(len(vr.lat))/span.Seconds(),
		pubElapsed.Round(time.Millisecond), float64(summary.Lines)/pubElapsed.Seconds())
	fmt.Printf("%-40s %8s %8s %8s\n", "latency", "p50", "p99", "max")
	latName, spanName := "publish → row visible (speed job)", "publish start → last row visible"
	if *preload {
		latName, spanName = "job start → row visible (backlog)", "job start → last row visible, backlog preloaded"
	}
	p50, p99 := report(latName, vr.lat)
	mu.Lock()
	b50, b99 := report("publish → pull (pstest, same run)", baseLatencies)
	mu.Unlock()
	fmt.Printf("CPU over the measured %s (%s), per published event:\n", span.Round(time.Millisecond), spanName)
	for i, r := range roles {
		fmt.Printf("  %-20s %8.1f s  %8.1f µs/event  (%.0f%% of one core)\n", r.name, cpu[i], cpu[i]*1e6/float64(summary.Lines), 100*cpu[i]/span.Seconds())
	}
	var peakRSS int64
	for _, s := range samples {
		peakRSS = max(peakRSS, s.rss)
	}
	if jobRes.maxRSS > 0 {
		peakRSS = max(peakRSS, jobRes.maxRSS)
	}
	fmt.Printf("speed job memory: peak RSS %s (at the last row visible: %s); exit: %v\n", mib(peakRSS), mib(rssNow), jobRes.errString())
	if len(samples) > 1 {
		var parts []string
		for _, s := range samples {
			parts = append(parts, fmt.Sprintf("%s=%s", s.at.Round(time.Second), mib(s.rss)))
		}
		fmt.Printf("  RSS timeline (since publish start): %s\n", strings.Join(parts, " "))
	}
	for _, l := range job.reportLines() {
		fmt.Printf("  job: %s\n", l)
	}
	// One machine-readable line, as bench-ingest prints.
	fmt.Printf("result preload=%t runner=%s rate=%.0f events=%d visible=%d span_s=%.3f sustained=%.0f p50_ms=%d p99_ms=%d pstest_p50_ms=%d pstest_p99_ms=%d job_cpu_us=%.1f pstest_cpu_us=%.1f bq_cpu_us=%.1f job_peak_rss_mb=%.0f load_start=%q load_end=%q\n",
		*preload, *runner, *rate, summary.Lines, len(vr.lat), span.Seconds(), float64(len(vr.lat))/span.Seconds(),
		p50.Milliseconds(), p99.Milliseconds(), b50.Milliseconds(), b99.Milliseconds(),
		cpu[0]*1e6/float64(summary.Lines), cpu[1]*1e6/float64(summary.Lines), cpu[2]*1e6/float64(summary.Lines),
		float64(peakRSS)/(1<<20), startLoad, endLoad)
	if jobRes.err != nil {
		return fmt.Errorf("the speed job failed (see %s): %v", filepath.Join(*work, "job.log"), jobRes.err)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
