// Command speedbench measures the speed layer on this machine (run it through
// scripts/bench-speed.sh): it starts pstest and the BigQuery emulator,
// publishes generated events at a fixed rate into the game-events topic, runs
// the speed job on prism in this process, and polls realtime.user_scores
// until every valid, unique event is visible. In the same run a plain unary
// Pull loop on a second subscription of the same topic measures what pstest
// itself delivers.
//
// It reports the sustained events/s through the job and the end-to-end
// latency (publish confirmed → the user's row in the emulator counts the
// event) at p50/p99, next to pstest's publish → receive latency.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/speedjob"
	"github.com/railyard-dev/railyard/runners"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

var (
	events  = flag.Int64("events", 20000, "events to publish (all kinds: valid, late, duplicate, invalid)")
	rate    = flag.Float64("rate", 1000, "publish rate, events per second")
	poll    = flag.Duration("poll", 250*time.Millisecond, "how often the emulator is polled for visible rows")
	timeout = flag.Duration("timeout", 10*time.Minute, "give up waiting for rows this long after publishing ended")
	// Late events hold the source's watermark back (it follows the earliest
	// event time of each Pull); 0 measures the job without them.
	lateRate = flag.Float64("late_rate", gen.DefaultLateRate, "fraction of events that arrive 10 min to 2 h after their event time")
)

func main() {
	var job speedjob.Config
	job.Register(flag.CommandLine)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./internal/speedbench [--events N] [--rate R] [--user_delay D]\n\n")
		flag.PrintDefaults()
	}
	if err := runners.Init(); err != nil {
		fail(err)
	}
	if err := run(context.Background(), job); err != nil {
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

func run(ctx context.Context, job speedjob.Config) error {
	logf("starting pstest and the BigQuery emulator")
	stack, err := localstack.Start(ctx, localstack.Options{PubSub: true, BigQuery: true})
	if err != nil {
		return err
	}
	defer stack.Close()
	bq := cliflags.BigQuery{Project: stack.Project, Endpoint: stack.BigQueryEndpoint}
	bqClient, err := bq.Client(ctx)
	if err != nil {
		return err
	}
	defer bqClient.Close()
	if err := bq.ApplyCatalog(ctx, bqClient); err != nil {
		return err
	}
	c := bq.Catalog()
	ps, err := stack.GCPConfig().PubSub(ctx)
	if err != nil {
		return err
	}
	defer ps.Close()
	topic := gcpclient.TopicName(stack.Project, "game-events")
	speedSub := gcpclient.SubscriptionName(stack.Project, "speed")
	baseSub := gcpclient.SubscriptionName(stack.Project, "baseline")
	if err := gcpclient.EnsureTopic(ctx, ps, topic, time.Minute, speedSub, baseSub); err != nil {
		return err
	}

	cfg := gen.DefaultConfig()
	cfg.Events = *events
	cfg.LateRate = *lateRate
	// Event times lie in the hours just before the run, so none is from the
	// future; the latency measured is that of the user scores, which fire
	// in processing time whatever the event times.
	cfg.Hours = max(1, int(float64(*events) / *rate / 3600)+1)
	cfg.Start = time.Now().UTC().Add(-time.Duration(cfg.Hours) * time.Hour).Truncate(time.Millisecond)
	g, err := gen.New(cfg)
	if err != nil {
		return err
	}

	job.Subscription = speedSub
	job.PubSubEndpoint = stack.PubSubEndpoint
	job.BQ = bq
	// The job's default firing period (10 min) would measure the trigger,
	// not the pipeline; the bench fires every second unless told otherwise.
	userDelaySet := false
	flag.Visit(func(f *flag.Flag) { userDelaySet = userDelaySet || f.Name == "user_delay" })
	if !userDelaySet {
		job.UserDelay = time.Second
	}
	if job.StopAfterIdle == 0 {
		job.StopAfterIdle = 5 * time.Second
	}
	jobCtx, cancelJob := context.WithCancel(ctx)
	defer cancelJob()
	jobDone := make(chan error, 1)
	go func() {
		_, err := speedjob.Run(jobCtx, job, os.Stderr)
		jobDone <- err
	}()

	var mu sync.Mutex
	byID := map[string]published{}
	perUser := map[string][]time.Time{}
	var baseLatencies []time.Duration
	baseCtx, stopBase := context.WithCancel(ctx)
	defer stopBase()
	baseDone := make(chan error, 1)
	go func() {
		baseDone <- pullBaseline(baseCtx, ps.SubscriptionAdminClient, baseSub, &mu, byID, &baseLatencies)
	}()

	// The table is polled while events are published, so that a row's
	// latency is measured when it first becomes visible, not when
	// publishing ends.
	wantCh := make(chan int64, 1)
	type visibleResult struct {
		lat  map[string][]time.Duration
		last time.Time
		err  error
	}
	visibleDone := make(chan visibleResult, 1)
	go func() {
		lat, last, err := waitVisible(ctx, bqClient, c.TableID(catalog.TableRealtimeUser), &mu, perUser, wantCh)
		visibleDone <- visibleResult{lat, last, err}
	}()

	logf("publishing %d events at %.0f/s", *events, *rate)
	pubStart := time.Now()
	publisher := ps.Publisher(topic)
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
		return err
	}
	pubElapsed := time.Since(pubStart)
	logf("published %s in %s (%.0f events/s)", summary.String(), pubElapsed.Round(time.Millisecond), float64(summary.Lines)/pubElapsed.Seconds())

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
	stopBase()
	<-baseDone
	if vr.err != nil {
		return vr.err
	}
	visible, last := vr.lat, vr.last
	var latencies []time.Duration
	for _, times := range visible {
		latencies = append(latencies, times...)
	}
	// Everything is measured: stop the job (a hard stop, which prism
	// reports as a failed run).
	cancelJob()
	<-jobDone

	span := last.Sub(pubStart)
	fmt.Printf("speed job on prism: %d valid unique events visible in %s → %.0f events/s sustained (publish rate %.0f/s)\n",
		len(latencies), span.Round(time.Millisecond), float64(len(latencies))/span.Seconds(), *rate)
	fmt.Printf("%-40s %8s %8s %8s\n", "latency", "p50", "p99", "max")
	report("publish → row visible (speed job)", latencies)
	mu.Lock()
	report("publish → pull (pstest, same run)", baseLatencies)
	mu.Unlock()
	return nil
}

// pullBaseline pulls and acks the baseline subscription until ctx ends,
// recording each valid, unique event's publish → receive latency.
func pullBaseline(ctx context.Context, client *vkit.SubscriptionAdminClient, sub string, mu *sync.Mutex, byID map[string]published, out *[]time.Duration) error {
	for ctx.Err() == nil {
		resp, err := client.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 1000})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := time.Now()
		ids := make([]string, 0, len(resp.ReceivedMessages))
		mu.Lock()
		for _, m := range resp.ReceivedMessages {
			ids = append(ids, m.AckId)
			if p, ok := byID[m.Message.Attributes[gen.AttrEventID]]; ok {
				*out = append(*out, max(0, now.Sub(p.confirmed)))
			}
		}
		mu.Unlock()
		if len(ids) > 0 {
			if err := client.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: ids}); err != nil && ctx.Err() == nil {
				return err
			}
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// waitVisible polls the user score table until the users' visible event
// counts add up to the number of valid unique events published, which
// arrives on want once publishing has ended; it polls from the start, while
// events are still being published. It returns, per user, the latency of
// each of the user's events: the k-th published event of a user is taken
// as visible when a row of the user first counts k events. perUser (the
// confirmation times of each user's events, in publish order) is guarded
// by mu.
func waitVisible(ctx context.Context, client *bigquery.Client, table string, mu *sync.Mutex, perUser map[string][]time.Time, want <-chan int64) (map[string][]time.Duration, time.Time, error) {
	seen := map[string]int{}
	lat := map[string][]time.Duration{}
	var (
		deadline time.Time // set once publishing has ended
		target   int64     = -1
		total    int64
		last     time.Time
	)
	lastReport := time.Now()
	for target < 0 || total < target {
		select {
		case w := <-want:
			target = w
			deadline = time.Now().Add(*timeout)
		default:
		}
		if time.Since(lastReport) > 5*time.Second {
			logf("%d events visible in %s", total, table)
			lastReport = time.Now()
		}
		if target >= 0 && time.Now().After(deadline) {
			return nil, last, fmt.Errorf("only %d of %d events visible in %s %s after publishing ended", total, target, table, *timeout)
		}
		select {
		case <-ctx.Done():
			return nil, last, ctx.Err()
		case <-time.After(*poll):
		}
		now := time.Now()
		q := client.Query(fmt.Sprintf("SELECT user, MAX(events) AS events FROM `%s` GROUP BY user", table))
		it, err := q.Read(ctx)
		if err != nil {
			return nil, last, err
		}
		for {
			var row struct {
				User   string `bigquery:"user"`
				Events int64  `bigquery:"events"`
			}
			err := it.Next(&row)
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return nil, last, err
			}
			mu.Lock()
			times := perUser[row.User]
			// Counted events whose publish confirmation has not been
			// recorded yet are taken up by a later poll.
			upTo := min(int(row.Events), len(times))
			for k := seen[row.User]; k < upTo; k++ {
				lat[row.User] = append(lat[row.User], max(0, now.Sub(times[k])))
				total++
				last = now
			}
			mu.Unlock()
			seen[row.User] = max(seen[row.User], upTo)
		}
	}
	return lat, last, nil
}

func report(name string, ds []time.Duration) {
	if len(ds) == 0 {
		fmt.Printf("%-40s %8s\n", name, "no samples")
		return
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	fmt.Printf("%-40s %8s %8s %8s  (%d samples)\n", name,
		q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), len(ds))
}
