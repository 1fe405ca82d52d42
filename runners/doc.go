// Package runners is railyard's single place that turns command-line flags
// into a Beam pipeline run.
//
// A pipeline main defines its own flags, calls [Init] (which parses flags,
// applies the --profile and initialises Beam), builds its graph and hands it
// to [Run] together with the [Mode] it was written for:
//
//	func main() {
//		input := flag.String("input", "", "…") // the pipeline's own flags
//		if err := runners.Init(); err != nil {
//			log.Fatal(err)
//		}
//		p, s := beam.NewPipelineWithRoot()
//		// ... build the graph from transforms, reading *input ...
//		if _, err := runners.Run(context.Background(), p, runners.Batch); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Importing this package registers every Beam runner railyard supports
// (prism, direct, flink, spark, dataflow, universal), the local and GCS
// filesystems and Beam's optimized runtime, so pipelines import nothing else
// for execution.
//
// # Flags
//
// Beam's own flags select and configure the runner (--runner, --endpoint,
// --environment_type, --project, --region, --staging_location, --dry_run, …).
// This package adds one flag:
//
//	--profile=NAME   apply a named set of flag defaults (see Profiles);
//	                 flags given explicitly on the command line win.
//
// # Validation
//
// [Capabilities] is the runner table: which modes each runner supports and
// which flags it needs. [Validate] and [Run] refuse bad combinations (streaming
// on Spark, Dataflow without a project, a portable runner without a job
// server endpoint, …) before anything is submitted. [Check] is the same check
// on explicit values, for callers (such as the CLI) that have no parsed flags.
//
// # Streaming
//
// None of the runners needs a "streaming" flag from the Go SDK (v2.77): Beam's
// Dataflow runner submits a streaming job, with Streaming Engine, when the
// graph has an unbounded PCollection; Flink's portable runner switches to its
// streaming translator on the same condition; prism executes unbounded
// PCollections natively. [Run] therefore checks that the graph agrees with the
// declared [Mode]: a Batch run of an unbounded graph is refused, and a
// Streaming run of a bounded graph is logged as running as a batch job.
// On prism, [Run] also turns off prism's splitting of slow bundles for
// streaming jobs ([PrismNoSplitExperiment]): prism 2.77 loses state updates
// when it splits a bundle of a stateful stage.
package runners
