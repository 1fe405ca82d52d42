// Command archive is railyard's lake archiver: a streaming job that writes
// every message of a Pub/Sub subscription, unchanged, into the data lake,
// partitioned by event hour, and acks each message only once the file that
// holds it is durable (see package internal/archivejob).
//
//	go run ./pipelines/archive --subscription=projects/P/subscriptions/S [--pubsub_endpoint=HOST:PORT] \
//	    --lake=DIR|gs://BUCKET/PREFIX [--max_events=N --max_bytes=N --max_age=D] [--shards=N] \
//	    [--stop_after_idle=D] [--runner=prism|flink|dataflow …]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/railyard-dev/railyard/internal/archivejob"
	"github.com/railyard-dev/railyard/runners"
)

func main() {
	var cfg archivejob.Config
	runners.Command(`Usage: go run ./pipelines/archive --subscription=projects/P/subscriptions/S [--pubsub_endpoint=HOST:PORT]
       --lake=DIR|gs://BUCKET/PREFIX [--max_events=N] [--max_bytes=N] [--max_age=D] [--shards=N]
       [--stop_after_idle=D] [--bq_project=P [--bq_endpoint=URL] [--dataset_prefix=X]]
       [--runner=prism|flink|dataflow|universal] [--profile=NAME] [runner flags]

Writes every message of the subscription, byte for byte, as one line of
<lake>/game_events/dt=YYYY-MM-DD/hr=HH/part-….jsonl.gz, partitioned by its
event time (attribute event_time, else the publish time). Files are rolled
per hour and shard by --max_events, --max_bytes and --max_age, created
exclusively and never rewritten; late events become new files in their own
hour. A message is acked only once its file is durable, so the
subscription's ack deadline must be at least 2 × --max_age + 10s (checked at
start; Pub/Sub allows up to 600s): a message not acked in time is redelivered
and written again, a duplicate that the batch layer's dedupe removes.
Messages that cannot be one line unchanged (empty, with a line break, with a
byte order mark) go to <lake>/_dead_letters/… and, with --bq_project, to
ops.dead_letters.

It runs until interrupted, or with --stop_after_idle until the subscription
has been empty that long; then it writes and acks what is pending and prints
read = written + dead-lettered.`, cfg.Register)
	if err := runners.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := archivejob.Run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(1)
	}
}
