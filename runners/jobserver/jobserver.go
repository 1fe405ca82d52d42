package jobserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kind names a Beam job server.
type Kind string

const (
	// Flink is Beam's Flink job server with an embedded Flink cluster.
	Flink Kind = "flink"
	// Spark is Beam's Spark 3 job server with Spark in local mode.
	Spark Kind = "spark"
)

// Kinds lists the job servers this package starts.
var Kinds = []Kind{Flink, Spark}

// ParseKind parses "flink" or "spark".
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case Flink, Spark:
		return k, nil
	}
	return "", fmt.Errorf("jobserver: unknown job server %q (want flink or spark)", s)
}

// Script returns the path of the start script for k.
func (k Kind) Script() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "scripts", string(k)+"-job-server.sh"), nil
}

// Options configure Start.
type Options struct {
	// Kind selects Flink or Spark.
	Kind Kind
	// Log receives the script's and the job server's output (nil discards
	// it; the last lines are kept for errors either way).
	Log io.Writer
	// StartTimeout bounds resolving the jars (on a fresh machine Maven
	// downloads a few hundred MB) and starting the server. Default 10 min.
	StartTimeout time.Duration
	// SparkMaster is the Spark master URL (default local[2]: this machine's
	// two cores).
	SparkMaster string
	// ExtraArgs go to the job server after "--".
	ExtraArgs []string
}

// Server is a running job server.
type Server struct {
	kind     Kind
	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	out      *tailWriter
	closeErr error
	once     sync.Once
}

// Endpoint is the job service address for --endpoint.
func (s *Server) Endpoint() string { return net.JoinHostPort("localhost", strconv.Itoa(s.port)) }

// Kind is the job server's kind.
func (s *Server) Kind() Kind { return s.kind }

// PID is the job server's process ID (the Java process; it leads its own
// process group).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Output returns the last lines the job server printed.
func (s *Server) Output() string { return s.out.String() }

// Fetch resolves the job server's jars with Maven (the script's
// --fetch-only), writing Maven's progress to log. It returns the classpath
// file.
func Fetch(ctx context.Context, kind Kind, log io.Writer) (string, error) {
	script, err := kind.Script()
	if err != nil {
		return "", err
	}
	tail := &tailWriter{w: log}
	cmd := exec.CommandContext(ctx, "bash", script, "--fetch-only")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = tail
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("jobserver: fetching the %s job server (%s --fetch-only): %w\n%s", kind, script, err, tail.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Start starts a job server of opts.Kind on a free loopback port and waits
// until its job service accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	script, err := opts.Kind.Script()
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Minute
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{script, "--mode=java", "--job-port=" + strconv.Itoa(port), "--artifact-port=0", "--expansion-port=0"}
	if opts.Kind == Spark {
		master := opts.SparkMaster
		if master == "" {
			master = "local[2]"
		}
		args = append(args, "--spark-master-url="+master)
	}
	if len(opts.ExtraArgs) > 0 {
		args = append(append(args, "--"), opts.ExtraArgs...)
	}
	s := &Server{kind: opts.Kind, port: port, exited: make(chan struct{}), out: &tailWriter{w: opts.Log}}
	s.cmd = exec.Command("bash", args...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	setProcessGroup(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("jobserver: starting %s: %w", script, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	deadline := time.NewTimer(opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Close()
			return nil, fmt.Errorf("jobserver: %s job server did not start: %w", opts.Kind, ctx.Err())
		case <-deadline.C:
			s.Close()
			return nil, fmt.Errorf("jobserver: %s job server did not accept connections on port %d within %s; its output:\n%s",
				opts.Kind, port, opts.StartTimeout, s.out.String())
		case <-s.exited:
			return nil, fmt.Errorf("jobserver: %s job server exited before it was ready (%v); its output:\n%s",
				opts.Kind, s.waitErr, s.out.String())
		case <-tick.C:
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				return s, nil
			}
		}
	}
}

// Close stops the job server: SIGTERM to its process group, SIGKILL after
// 15 s. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		pgid := s.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.exited
		}
		// Children that outlived the leader (none expected) go too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return s.closeErr
}

// Exited is closed once the job server's process has exited.
func (s *Server) Exited() <-chan struct{} { return s.exited }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("jobserver: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot finds the railyard repository: above this source file (tests
// and `go run` in the repository), else above the working directory.
func repoRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		for d := start; ; {
			if fi, err := os.Stat(filepath.Join(d, "scripts", "flink-job-server.sh")); err == nil && !fi.IsDir() {
				return d, nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", errors.New("jobserver: cannot find railyard's scripts/flink-job-server.sh above " + strings.Join(starts, " or ") +
		"; run from the railyard repository")
}

// tailWriter passes output on to w and keeps the last 16 KiB for errors.
type tailWriter struct {
	mu sync.Mutex
	w  io.Writer
	b  []byte
}

const tailMax = 16 << 10

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w != nil {
		_, _ = t.w.Write(p)
	}
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
