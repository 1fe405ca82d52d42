package runners

import (
	"fmt"
	"strings"
)

// Support says how far a pipeline is known to work on a runner.
type Support string

const (
	// Tested: an end-to-end test runs the pipeline on the runner, with the
	// same assertions as on prism.
	Tested Support = "tested"
	// DryRunOnly: the job is built and printed offline (--dry_run) and the
	// printed job is checked; it has never been submitted (no cloud here).
	DryRunOnly Support = "dry run only"
	// Refused: the combination is known not to work and is refused before
	// submission, with the reason.
	Refused Support = "refused"
)

// PipelineRunner is one cell of the runner matrix: a pipeline of
// pipelines/ on a runner.
type PipelineRunner struct {
	Pipeline string  // batch, speed or archive
	Runner   string  // canonical runner name
	Support  Support // how far it is known to work
	// Proof names the tests that show it, as package:TestName.
	Proof []string
	// Notes says what does not work or had to change, with the upstream
	// reference where there is one.
	Notes string
}

// Matrix is what railyard's pipelines do on each runner, and the tests that
// prove it (TestMatrixProofsExist checks that every named test exists).
// Flink and Spark are Beam's job servers 2.62.0 run with the Go SDK 2.77.0
// (runners/jobserver); "dataflow" has only been dry-run.
var Matrix = []PipelineRunner{
	{"batch", "prism", Tested, []string{"internal/batchjob:TestBatchEndToEnd", "internal/batchjob:TestPlansAgree", "pipelines/batch:TestCommand"},
		"both plans; prism keeps all data in memory (the hourly plan bounds it)"},
	{"batch", "flink", Tested, []string{"internal/batchjob:TestBatchOnFlinkAndSpark"},
		"both plans, BigQuery sink with its side inputs (batch translation)"},
	{"batch", "spark", Tested, []string{"internal/batchjob:TestBatchOnFlinkAndSpark"},
		"both plans, BigQuery sink with its side inputs"},
	{"batch", "dataflow", DryRunOnly, []string{"pipelines/batch:TestDryRun"},
		"JOB_TYPE_BATCH, runner v2; not submitted (no cloud here)"},
	{"speed", "prism", Tested, []string{"internal/speedjob:TestSpeedEndToEnd", "internal/speedjob:TestSpeedStopAndRestart", "internal/speedjob:TestSpeedPaneTiming"},
		"prism's bundle splitting is off for streaming (it lost state updates)"},
	{"speed", "flink", Tested, []string{"internal/speedjob:TestSpeedOnFlink", "internal/speedjob:TestSpeedStopAndRestartOnFlink", "internal/speedjob:TestSpeedPaneTimingOnFlink", "transforms/pubsubsource:TestReadOnFlink"},
		"acks when a checkpoint completes (flink-conf: every 2 s); no side inputs in streaming stages (Flink cannot checkpoint them), " +
			"timers carry output timestamps, the Pub/Sub restriction has a Go coder; TestStream is not used on Flink (Beam's Go filters: TestTestStream*)"},
	{"speed", "spark", Refused, []string{"runners:TestCheck", "pipelines/speed:TestDryRun"},
		"Beam's Spark runner runs Go pipelines in batch only: any unbounded PCollection switches it to its streaming translator, which has no self-checkpointing SDFs (Beam's Go filters: TestCheckpointing, TestTestStream*)"},
	{"speed", "dataflow", DryRunOnly, []string{"pipelines/speed:TestDryRun"},
		"JOB_TYPE_STREAMING with Streaming Engine; reads with Dataflow's native Pub/Sub source (beam:transform:pubsub_read:v1)"},
	{"archive", "prism", Tested, []string{"internal/archivejob:TestArchiveEndToEnd", "internal/archivejob:TestArchiveCrashAndRestart", "pipelines/archive:TestCommand"},
		"acks after the file is durable"},
	{"archive", "flink", Tested, []string{"internal/archivejob:TestArchiveOnFlink", "internal/archivejob:TestArchiveCrashAndRestartOnFlink"},
		"acks after the file is durable (AckByCaller), never on bundle finalization"},
	{"archive", "spark", Refused, []string{"runners:TestCheck"},
		"streaming: refused as for the speed job"},
	{"archive", "dataflow", DryRunOnly, []string{"pipelines/archive:TestDryRun"},
		"JOB_TYPE_STREAMING; reads with Dataflow's native Pub/Sub source"},
}

// MatrixMarkdown renders Matrix as a Markdown table, a row per pipeline
// and runner.
func MatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| pipeline | runner | status | proven by | notes |\n|---|---|---|---|---|\n")
	for _, c := range Matrix {
		tests := make([]string, len(c.Proof))
		for i, pr := range c.Proof {
			pkg, name, _ := strings.Cut(pr, ":")
			tests[i] = fmt.Sprintf("`%s` (%s)", name, pkg)
		}
		fmt.Fprintf(&b, "| `%s` | %s | **%s** | %s | %s |\n", c.Pipeline, c.Runner, c.Support,
			strings.Join(tests, ", "), strings.ReplaceAll(c.Notes, "|", "\\|"))
	}
	return b.String()
}
