package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/gen"
)

// waitRunning waits until the job has written a progress report for its
// run: then it reads the subscription and writes rows.
func waitRunning(ctx context.Context, client *bigquery.Client, table, instance string, job *child, within time.Duration) error {
	deadline := time.Now().Add(within)
	q := client.Query(fmt.Sprintf("SELECT COUNT(*) FROM `%s` WHERE run_id = @run", table))
	q.Parameters = []bigquery.QueryParameter{{Name: "run", Value: instance}}
	for {
		if !job.running() {
			return fmt.Errorf("the speed job exited before it reported progress: %v (see %s/job.log)", job.err, *work)
		}
		it, err := q.Read(ctx)
		if err != nil {
			return err
		}
		var row []bigquery.Value
		if err := it.Next(&row); err != nil && !errors.Is(err, iterator.Done) {
			return err
		}
		if len(row) == 1 && row[0].(int64) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no progress report from the speed job within %s (see %s/job.log)", within, *work)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
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
// events are still being published. It returns the latency of every event:
// the k-th published event of a user is taken as visible when a row of the
// user first counts k events. perUser (the confirmation times of each
// user's events, in publish order) is guarded by mu. It gives up when the
// job exits first.
func waitVisible(ctx context.Context, client *bigquery.Client, table string, mu *sync.Mutex, perUser map[string][]time.Time, want <-chan int64, job *child) ([]time.Duration, time.Time, error) {
	seen := map[string]int{}
	var lat []time.Duration
	var (
		deadline time.Time // set once publishing has ended
		target   int64     = -1
		total    int64
		last     time.Time
	)
	lastReport := time.Now()
	q := client.Query(fmt.Sprintf("SELECT user, MAX(events) AS events FROM `%s` GROUP BY user", table))
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
		if !job.running() {
			return nil, last, fmt.Errorf("the speed job exited (%v) with %d events visible (see %s/job.log)", job.err, total, *work)
		}
		select {
		case <-ctx.Done():
			return nil, last, ctx.Err()
		case <-time.After(*poll):
		}
		it, err := q.Read(ctx)
		if err != nil {
			return nil, last, err
		}
		now := time.Now()
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
				lat = append(lat, max(0, now.Sub(times[k])))
				total++
				last = now
			}
			mu.Unlock()
			seen[row.User] = max(seen[row.User], upTo)
		}
	}
	return lat, last, nil
}

// report prints the percentiles of ds and returns p50 and p99.
func report(name string, ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		fmt.Printf("%-40s %8s\n", name, "no samples")
		return 0, 0
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	fmt.Printf("%-40s %8s %8s %8s  (%d samples)\n", name,
		q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), len(ds))
	return q(0.50), q(0.99)
}
