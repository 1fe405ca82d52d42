package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/runners"
)

// builder builds each pipeline once per output directory with go build, so
// that every attempt runs the same binary, exactly as a user would.
type builder struct {
	source string
	dir    string
	log    *slog.Logger
}

type buildResult struct {
	once sync.Once
	err  error
}

// builds is process-wide: schedulers sharing a build directory (tests)
// build each pipeline once.
var builds sync.Map // output path → *buildResult

func (b *builder) binary(ctx context.Context, pipeline string) (string, error) {
	out := filepath.Join(b.dir, "railyard-pipeline-"+pipeline)
	v, _ := builds.LoadOrStore(out, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			r.err = errors.New("go is not on PATH: the scheduler builds beam jobs' pipelines with go build")
			return
		}
		pkg := "./pipelines/" + pipeline
		b.log.Info("building pipeline with go build (once per scheduler; the first build of a pipeline takes a minute or more, later ones use Go's build cache)",
			"pipeline", pkg, "source", b.source, "binary", out)
		start := time.Now()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
		cmd.Dir = b.source
		// Cancelled (shutdown, timeout): stop go and the compilers and
		// linker it started, which hold its output pipe; killing only go
		// would leave Wait waiting for them to finish.
		startProcessGroup(cmd)
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		var tail tailBuffer
		cmd.Stdout, cmd.Stderr = &tail, &tail
		if err := cmd.Run(); err != nil {
			r.err = fmt.Errorf("go build %s in %s: %v\n%s", pkg, b.source, err, tail.String())
			return
		}
		b.log.Info("pipeline built", "pipeline", pkg, "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	})
	if r.err != nil {
		// A failed build (say, cancelled) may be retried by the next attempt.
		builds.CompareAndDelete(out, r)
	}
	return out, r.err
}

// beamExecutor runs a kind: beam job: the pipeline binary with the job's
// profile and args, then the scheduler's flags.
type beamExecutor struct {
	builder *builder
	bq      cliflags.BigQuery
	logDir  string
	env     []string
}

// pipelineArgs are the flags an attempt runs with: the job's own first,
// then the partition, the BigQuery settings and the attempt's identity.
func pipelineArgs(req Request, bq cliflags.BigQuery) []string {
	j := req.Job
	var args []string
	if j.Profile != "" {
		args = append(args, "--profile="+j.Profile)
	}
	args = append(args, j.Args...)
	args = append(args, "--date="+req.Partition.String(), "--bq_project="+bq.Project)
	if bq.Endpoint != "" {
		args = append(args, "--bq_endpoint="+bq.Endpoint)
	}
	if bq.DatasetPrefix != "" {
		args = append(args, "--dataset_prefix="+bq.DatasetPrefix)
	}
	return append(args, "--run_id="+req.RunID, "--job="+j.Name, "--attempt="+strconv.Itoa(req.Attempt),
		"--scheduled_for="+req.ScheduledFor.UTC().Format(time.RFC3339))
}

// runnerOf is the Beam runner a job's flags select.
func runnerOf(req Request) string {
	runner := "prism"
	if req.Job.Profile != "" {
		if p, err := runners.LookupProfile(req.Job.Profile); err == nil {
			for _, s := range p.Settings {
				if s.Flag == "runner" {
					runner = s.Value
				}
			}
		}
	}
	for _, a := range req.Job.Args {
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "runner="); ok {
			runner = v
		}
	}
	return runner
}

func (x *beamExecutor) Execute(ctx context.Context, req Request) (Result, error) {
	res := Result{Runner: runnerOf(req)}
	bin, err := x.builder.binary(ctx, req.Job.Pipeline)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(x.logDir, 0o755); err != nil {
		return res, fmt.Errorf("job logs: %w", err)
	}
	res.Log = filepath.Join(x.logDir, req.RunID+".log")
	logFile, err := os.Create(res.Log)
	if err != nil {
		return res, fmt.Errorf("job log: %w", err)
	}
	defer logFile.Close()
	args := pipelineArgs(req, x.bq)
	fmt.Fprintf(logFile, "# %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = x.builder.source
	cmd.Env = append(os.Environ(), x.env...)
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(logFile, &tail)
	cmd.Stderr = cmd.Stdout
	startProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-ctx.Done():
		// Timeout, lost lock or shutdown: stop the whole process group,
		// politely first.
		stopProcessGroup(cmd, exited, 15*time.Second)
		exit := <-exited
		return res, fmt.Errorf("%w; the pipeline was stopped (%v); last output:\n%s(full log: %s)", context.Cause(ctx), exit, tail.String(), res.Log)
	}
	if err != nil {
		return res, fmt.Errorf("pipeline %s exited: %v; last output:\n%s(full log: %s)", req.Job.Pipeline, err, tail.String(), res.Log)
	}
	return res, nil
}

// stopProcessGroup sends SIGTERM to cmd's process group and SIGKILL after
// grace if it has not exited by then; exited receives Wait's result and
// is given back to the caller untouched.
func stopProcessGroup(cmd *exec.Cmd, exited chan error, grace time.Duration) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// tailBuffer keeps the last lines written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

const tailBytes = 2048

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*tailBytes {
		t.b = append([]byte(nil), t.b[len(t.b)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.b
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	s := string(b)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}
