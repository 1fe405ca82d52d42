package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/railyard-dev/railyard/internal/demo"
)

type demoFlags struct {
	duration time.Duration
	rate     float64
	keep     bool
	backlog  int64
	seed     int64
	listen   string
	schedule string
	source   string
	workDir  string
	every    time.Duration
	verbose  bool
}

func newDemoCommand() *cobra.Command {
	f := &demoFlags{}
	cmd := &cobra.Command{
		Use:   "demo [--duration D] [--rate N] [--keep]",
		Short: "Run the whole lambda architecture on this machine, on loopback stand-ins (no cloud account needed)",
		Long: `demo runs railyard end to end on prism, everything on 127.0.0.1, and prints the
serving page's address first:

  1. the local stack (pstest for Pub/Sub, fake-gcs-server for Cloud Storage, goccy's
     BigQuery emulator) and the catalog, serving views included;
  2. yesterday's events generated into the lake (a backlog the batch layer has not seen);
  3. the scheduler, started with the example schedule file (schedules/railyard.yaml,
     narrowed to yesterday), catches up yesterday's batch partition by itself;
  4. the ingest gateway (HTTP and MQTT), the lake archiver and the speed job; live
     traffic for today posted through HTTP and MQTT at --rate, with duplicates, late
     and invalid events;
  5. the serving layer (the server of 'railyard serve', with its page): the demo
     prints the leaderboard as it moves, yesterday from batch and today from
     realtime, and the dead-letter counts;
  6. after --duration the streaming jobs drain, and every job's reconciliation and
     the check of the served figures against what was generated and posted are
     printed.

Ctrl-C stops everything at any point and says what, if anything, was left running.
--keep leaves it all up after the report and prints the settings (environment
variables and flags) that point other commands at it.

The first run on a fresh machine builds the BigQuery emulator once (it needs clang:
as root on Debian/Ubuntu the demo installs it with apt-get, otherwise it stops at
once with the command to run); later runs reuse the binary cached in
~/.cache/railyard. Run it from the railyard repository: the scheduler builds
pipelines/batch from the source.`,
		Example: `  go run ./cmd/railyard demo
  go run ./cmd/railyard demo --duration 1m --rate 50
  go run ./cmd/railyard demo --keep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			source := f.source
			if source == "" {
				wd, _ := os.Getwd()
				if source = findSource(wd); source == "" {
					return fmt.Errorf("demo: run it inside the railyard repository (or give --source): the scheduler builds pipelines/batch from its source")
				}
			}
			err := demo.Run(cmd.Context(), demo.Options{
				Duration: f.duration, Rate: f.rate, Keep: f.keep, BacklogEvents: f.backlog, Seed: f.seed,
				Listen: f.listen, ScheduleFile: f.schedule, Source: source, WorkDir: f.workDir,
				ReportEvery: f.every, Verbose: f.verbose, Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr(),
			})
			if err != nil && cmd.Context().Err() != nil {
				// Ctrl-C: the demo has said what it stopped.
				return fmt.Errorf("demo interrupted")
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", demo.DefaultDuration, "how long live traffic is posted; then the streaming jobs drain and the figures are checked")
	fl.Float64Var(&f.rate, "rate", demo.DefaultRate, "live events per second, posted half over HTTP and half over MQTT")
	fl.BoolVar(&f.keep, "keep", false, "leave everything running after the report, until Ctrl-C, and print the settings that point other commands at it")
	fl.Int64Var(&f.backlog, "backlog", demo.DefaultBacklogEvents, "yesterday's lines generated into the lake")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the backlog and the live traffic")
	fl.StringVar(&f.listen, "listen", demo.DefaultListen, "address of the serving layer and its page (a free port when the default is taken)")
	fl.StringVar(&f.schedule, "schedule", "", "schedule file (default schedules/railyard.yaml of the source tree; narrowed to yesterday)")
	fl.StringVar(&f.source, "source", "", "the railyard source tree (default: found from the working directory)")
	fl.StringVar(&f.workDir, "work_dir", "", "directory for the logs and the lines posted (default a new temporary directory, kept)")
	fl.DurationVar(&f.every, "report_every", demo.DefaultReportEvery, "how often the leaderboard and counts are printed")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "also show the stand-ins' and Beam's logs")
	return cmd
}
