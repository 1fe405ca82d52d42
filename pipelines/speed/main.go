// Command speed is railyard's speed layer job: it reads game events from a
// Pub/Sub subscription and keeps the realtime views fresh in BigQuery (see
// package internal/speedjob).
//
//	go run ./pipelines/speed --subscription=projects/P/subscriptions/S [--pubsub_endpoint=HOST:PORT] \
//	    --bq_project=P [--bq_endpoint=URL] [--dataset_prefix=X] [--runner=prism|flink|dataflow …]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/railyard-dev/railyard/internal/profiling"
	"github.com/railyard-dev/railyard/internal/speedjob"
	"github.com/railyard-dev/railyard/runners"
)

func main() {
	var cfg speedjob.Config
	var cpuProfile, memProfile string
	runners.Command(`Usage: go run ./pipelines/speed --subscription=projects/P/subscriptions/S [--pubsub_endpoint=HOST:PORT]
       --bq_project=P [--bq_endpoint=URL] [--dataset_prefix=X] [--stop_after_idle=D]
       [--runner=prism|flink|dataflow|universal] [--profile=NAME] [runner flags]

Streams game events from the subscription through parse, streaming dedupe and
the leaderboard and game-stats views into realtime.team_scores,
realtime.user_scores, realtime.game_stats_team_scores and
realtime.game_stats_sessions (one row per pane, insert IDs derived from table,
job instance, key, window and pane), and every reject into ops.dead_letters.
Messages are acknowledged when the runner finalizes the bundle that read them.

It runs until interrupted, or with --stop_after_idle until the subscription
has been empty that long; then every window fires its final pane and the job
prints its reconciliation (read = valid + invalid, valid = unique + duplicates).`, func(fs *flag.FlagSet) {
		cfg.Register(fs)
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (the job, and prism or the LOOPBACK SDK workers in this process) to this file")
		fs.StringVar(&memProfile, "memprofile", "", "write a heap profile of this process taken at its largest Go heap (checked every 5s; prism's state and the SDK workers included) to this file")
	})
	if err := runners.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, cpuProfile, memProfile); err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg speedjob.Config, cpuProfile, memProfile string) (err error) {
	if cpuProfile != "" {
		stop, err := profiling.StartCPU(cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer stop()
	}
	if memProfile != "" {
		stop, err := profiling.PeakHeap(memProfile, profiling.DefaultPeakCheck)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		defer func() {
			peak, perr := stop()
			if perr != nil {
				if err == nil {
					err = fmt.Errorf("--memprofile: %w", perr)
				}
				return
			}
			fmt.Fprintf(os.Stderr, "speed: heap profile at the largest Go heap (%d MiB in use, %d MiB from the system, at %s) in %s\n",
				peak.HeapInuse>>20, peak.HeapSys>>20, peak.At.UTC().Format(time.TimeOnly), memProfile)
		}()
	}
	_, err = speedjob.Run(ctx, cfg, os.Stdout)
	return err
}
