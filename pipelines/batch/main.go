// Command batch is railyard's batch layer job: it recomputes the batch views
// of the given event dates from the lake and replaces their partitions in
// BigQuery (see package internal/batchjob).
//
//	go run ./pipelines/batch --lake=DIR|gs://BUCKET/PREFIX --date=YYYY-MM-DD [--to=YYYY-MM-DD] \
//	    [--views=…] --bq_project=P [--bq_endpoint=URL] [--dataset_prefix=X] [--runner=… runner flags]
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/railyard-dev/railyard/internal/batchjob"
	"github.com/railyard-dev/railyard/internal/profiling"
	"github.com/railyard-dev/railyard/runners"
)

func main() {
	var cfg batchjob.Config
	runners.Command(fmt.Sprintf(`Usage: go run ./pipelines/batch --lake=DIR|gs://BUCKET/PREFIX --date=YYYY-MM-DD [--to=YYYY-MM-DD]
       [--views=%s] --bq_project=P [--bq_endpoint=URL] [--dataset_prefix=X]
       [--plan=hourly|global] [--sink=bigquery|discard]
       [--runner=prism|direct|flink|spark|dataflow|universal] [--profile=NAME] [runner flags]

Recomputes the batch views of the given event dates from the lake and replaces
their date partitions in BigQuery, appends rejects to ops.dead_letters and one
ledger row per view and date to ops.batch_runs, then prints the
reconciliation (read = valid + invalid, valid = unique + duplicates) and exits
non-zero if the run failed or did not reconcile.`, strings.Join(batchjob.ViewNames(), ",")), cfg.Register)
	if err := runners.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		os.Exit(2)
	}
	stopProfile := func() {}
	if path := os.Getenv("RAILYARD_CPUPROFILE"); path != "" {
		// Profiling aid for benchmarks: the whole run, prism included (it runs
		// in this process).
		stop, err := profiling.StartCPU(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "batch:", err)
			os.Exit(2)
		}
		stopProfile = stop
	}
	if _, err := batchjob.Run(context.Background(), cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		stopProfile()
		os.Exit(1)
	}
	stopProfile()
}
