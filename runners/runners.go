package runners

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	beamrunners "github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	// Beam's optimized runtime and the filesystems pipelines read and write.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec/optimized"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"

	// The runners in the capability table register themselves on import.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	//lint:ignore SA1019 the legacy direct runner is deprecated in Beam; railyard accepts it for batch with a warning.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
)

var profileFlag = flag.String("profile", "",
	"Runner profile: a named set of flag defaults (local, flink, spark, dataflow); flags given on the command line win.")

// RunnerName returns the canonical name of the runner selected by --runner
// (aliases such as FlinkRunner map to flink), or DefaultRunner if it is empty.
// An unknown name is returned unchanged.
func RunnerName() string {
	name := strings.TrimSpace(*beamrunners.Runner)
	if c, ok := Lookup(name); ok {
		return c.Runner
	}
	return name
}

// Init parses the command line if it has not been parsed yet, applies
// --profile (explicit flags win), checks that --runner names a known runner
// and calls beam.Init. Call it from main after defining the pipeline's flags
// and before building the pipeline.
//
// When the binary is started by a runner as an SDK worker, beam.Init runs the
// worker harness and does not return; no profile is applied in that case.
func Init() error {
	if !flag.Parsed() {
		flag.Parse()
	}
	if !isWorker() {
		ctx := context.Background()
		applied, err := ApplyProfile(flag.CommandLine, *profileFlag)
		if err != nil {
			return err
		}
		if *profileFlag != "" {
			s := make([]string, len(applied))
			for i, a := range applied {
				s[i] = a.String()
			}
			if len(s) == 0 {
				s = append(s, "nothing (all its flags were given explicitly)")
			}
			log.Infof(ctx, "railyard: profile %q applied: %s", *profileFlag, strings.Join(s, " "))
		}
		if _, ok := Lookup(*beamrunners.Runner); !ok {
			return &ConfigError{Runner: *beamrunners.Runner,
				Problem: fmt.Sprintf("unknown runner %q (known: %s)", *beamrunners.Runner, strings.Join(RunnerNames(), ", "))}
		}
	}
	beam.Init()
	return nil
}

func isWorker() bool {
	f := flag.Lookup("worker")
	return f != nil && f.Value.String() == "true"
}

// currentFlags returns the current value of every flag of the program.
func currentFlags() map[string]string {
	m := map[string]string{}
	flag.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

// Validate checks the runner selected by the current flag values against the
// capability table for mode (see Check). Warnings are logged; refused
// combinations are returned as a *ConfigError.
func Validate(mode Mode) error {
	warnings, err := Check(RunnerName(), mode, currentFlags())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warnf(context.Background(), "railyard: %s", w)
	}
	return nil
}

// Run validates the flags for mode, checks that the pipeline's graph agrees
// with mode, logs where the job goes and executes it on the selected runner.
// Nothing is submitted when validation fails.
//
// The result is nil when the runner returns none: Dataflow with --dry_run,
// and asynchronous submissions (--async) on some runners.
func Run(ctx context.Context, p *beam.Pipeline, mode Mode) (beam.PipelineResult, error) {
	if !beam.Initialized() {
		return nil, errors.New("runners: Beam is not initialized; call runners.Init() before building the pipeline")
	}
	if err := Validate(mode); err != nil {
		return nil, err
	}
	name := RunnerName()
	_, nodes, err := p.Build()
	if err != nil {
		return nil, fmt.Errorf("runners: invalid pipeline: %w", err)
	}
	unbounded := !graph.Bounded(nodes)
	switch {
	case mode == Batch && unbounded:
		return nil, &ConfigError{Runner: name, Mode: mode,
			Problem: "pipeline has unbounded PCollections (it never finishes) but was run in batch mode; run it with runners.Streaming on prism, flink or dataflow"}
	case mode == Streaming && !unbounded && name != "prism":
		log.Warnf(ctx, "railyard: streaming pipeline has only bounded PCollections; %s will run it as a batch job", name)
	}
	if name == "prism" && mode == Streaming {
		UsePrismNoSplit()
	}
	if DryRun() && name != "dataflow" {
		// Beam's --dry_run belongs to its Dataflow runner; the others would
		// ignore it and run the job.
		printPlan(mode, name, unbounded, nodes, edgesOf(p))
		return nil, nil
	}
	log.Infof(ctx, "railyard: running %s pipeline on %s (%s)", mode, name, describeTarget(name, currentFlags()))
	if DryRun() {
		// Beam's Dataflow runner reads the staging bucket's soft-delete
		// policy even in a dry run, and its Cloud Storage client retries a
		// refused connection for as long as the context lives: bound it, so
		// an offline dry run only logs a warning.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dryRunCloudWait)
		defer cancel()
	}
	return beam.Run(ctx, name, p)
}

// dryRunCloudWait bounds what a Dataflow dry run waits for Cloud Storage.
const dryRunCloudWait = 5 * time.Second

// DryRun reports whether --dry_run is set: Run prints the job instead of
// running it (on Dataflow, Beam prints the Dataflow job it would submit; on
// other runners railyard prints the pipeline's transforms) and returns a
// nil result, and railyard's jobs then stop without reading metrics,
// writing a ledger or touching their sources and sinks.
func DryRun() bool {
	f := flag.Lookup("dry_run")
	return f != nil && f.Value.String() == "true"
}

// describeTarget says where a job on runner goes, for the log.
func describeTarget(runner string, f map[string]string) string {
	env := f["environment_type"]
	switch runner {
	case "prism":
		if f["endpoint"] == "" {
			return "in-process job server, LOOPBACK workers"
		}
		return fmt.Sprintf("prism job server at %s, environment %s", f["endpoint"], orDefault(env, "DOCKER"))
	case "direct":
		return "in-process legacy runner"
	case "dataflow":
		s := fmt.Sprintf("project %s, region %s, staging %s", f["project"], f["region"], f["staging_location"])
		if f["dry_run"] == "true" {
			s += ", dry run: the job is printed, not submitted"
		}
		return s
	default:
		return fmt.Sprintf("job server at %s, environment %s", f["endpoint"], orDefault(env, "DOCKER"))
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def + " (default)"
	}
	return s
}
