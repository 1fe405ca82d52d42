package runners

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/periodic"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
)

func init() {
	register.Function2x0(parseScore)
	register.Emitter2[string, int]()
	register.Function2x1(formatSum)
}

// parseScore turns "user,points" into (user, points).
func parseScore(line string, emit func(string, int)) {
	user, points, ok := strings.Cut(line, ",")
	if !ok {
		panic(fmt.Sprintf("bad score line %q", line))
	}
	n, err := strconv.Atoi(points)
	if err != nil {
		panic(err)
	}
	emit(user, n)
}

func formatSum(user string, sum int) string { return user + "," + strconv.Itoa(sum) }

var scoreLines = []any{"alice,3", "bob,5", "alice,4", "carol,1", "bob,10", "alice,-2", "dave,0"}

// wantSums is the exact file content expected from scoreLines (sorted).
var wantSums = []string{"alice,5", "bob,15", "carol,1", "dave,0"}

// scoresPipeline sums points per user and writes "user,sum" lines to out.
func scoresPipeline(out string) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	lines := beam.Create(s.Scope("ReadScores"), scoreLines...)
	scores := beam.ParDo(s.Scope("ParseScores"), parseScore, lines)
	sums := stats.SumPerKey(s.Scope("SumPerUser"), scores)
	textio.Write(s.Scope("WriteSums"), out, beam.ParDo(s.Scope("FormatSums"), formatSum, sums))
	return p
}

// unboundedPipeline has an unbounded PCollection (a periodic impulse).
func unboundedPipeline() *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ticks := periodic.Impulse(s.Scope("Ticks"), start, start.Add(time.Hour), time.Minute, false)
	beam.ParDo0(s.Scope("Drop"), func([]byte) {}, ticks)
	return p
}

func readSortedLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading pipeline output: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	sort.Strings(lines)
	return lines
}

// TestUniversalRunnerOnPrismJobServer submits through the portable JobService
// protocol (the one Flink's and Spark's job servers speak) to a prism job
// server on loopback, with LOOPBACK workers in this process, and checks the
// job's output file.
func TestUniversalRunnerOnPrismJobServer(t *testing.T) {
	endpoint := startPrismJobServer(t)
	out := filepath.Join(t.TempDir(), "sums.txt")
	setFlags(t, "runner", "universal", "endpoint", endpoint, "environment_type", "LOOPBACK",
		"job_name", "railyard-runners-universal-test")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, scoresPipeline(out), Batch)
	if err != nil {
		t.Fatalf("Run on universal runner at %s: %v", endpoint, err)
	}
	if res == nil || res.JobID() == "" {
		t.Errorf("Run returned result %v without a job id", res)
	}
	if got := readSortedLines(t, out); !slices.Equal(got, wantSums) {
		t.Errorf("output = %q, want %q", got, wantSums)
	}
}

// TestDirectRunnerBatch runs the deprecated direct runner, which railyard
// accepts for batch (with a warning).
func TestDirectRunnerBatch(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sums.txt")
	setFlags(t, "runner", "DirectRunner")
	if _, err := Run(context.Background(), scoresPipeline(out), Batch); err != nil {
		t.Fatal(err)
	}
	if got := readSortedLines(t, out); !slices.Equal(got, wantSums) {
		t.Errorf("output = %q, want %q", got, wantSums)
	}
}

// TestRunRefusesBeforeSubmission checks that refused combinations never reach
// the job server: the endpoint is a listener that counts connections.
func TestRunRefusesBeforeSubmission(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	endpoint := lis.Addr().String()

	tests := []struct {
		name     string
		flags    []string
		pipeline func() *beam.Pipeline
		mode     Mode
		wantErr  string
	}{
		{name: "spark streaming", flags: []string{"runner", "spark", "endpoint", endpoint, "environment_type", "LOOPBACK"},
			pipeline: unboundedPipeline, mode: Streaming,
			wantErr: "runners: spark runner supports batch only; use flink or dataflow for streaming"},
		{name: "direct streaming", flags: []string{"runner", "direct"},
			pipeline: unboundedPipeline, mode: Streaming, wantErr: "direct runner (Beam's deprecated legacy Go runner) supports batch only"},
		{name: "flink without endpoint", flags: []string{"runner", "flink", "endpoint", "", "environment_type", "LOOPBACK"},
			pipeline: func() *beam.Pipeline { return scoresPipeline(filepath.Join(t.TempDir(), "x")) }, mode: Batch,
			wantErr: "flink runner: missing required flag(s) --endpoint of a Beam Flink job server; start one with scripts/flink-job-server.sh"},
		{name: "unbounded graph in batch mode", flags: []string{"runner", "flink", "endpoint", endpoint, "environment_type", "LOOPBACK"},
			pipeline: unboundedPipeline, mode: Batch,
			wantErr: "pipeline has unbounded PCollections (it never finishes) but was run in batch mode"},
		{name: "dataflow without project and staging", flags: []string{"runner", "dataflow", "project", "", "region", "us-central1", "staging_location", ""},
			pipeline: unboundedPipeline, mode: Streaming,
			wantErr: "dataflow runner: missing required flag(s) --project, --staging_location"},
		{name: "unknown runner", flags: []string{"runner", "samza"},
			pipeline: unboundedPipeline, mode: Streaming, wantErr: `unknown runner "samza"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setFlags(t, tc.flags...)
			res, err := Run(context.Background(), tc.pipeline(), tc.mode)
			var ce *ConfigError
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ce) {
				t.Fatalf("Run error = %v (%T), want *ConfigError containing %q", err, err, tc.wantErr)
			}
			if res != nil {
				t.Errorf("Run returned a result %v with the error", res)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Errorf("job server endpoint got %d connections; refused runs must not be submitted", n)
	}
}
