package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func numCPU() int { return runtime.NumCPU() }

// runPubSub is the -serve_pubsub mode: pstest on addr until interrupted,
// in a process of its own so that its CPU time is measured apart from the
// job's and the driver's. It prints "pubsub://ADDR" once it listens.
func runPubSub(addr string) error {
	srv := pstest.NewServerWithAddress(addr)
	defer srv.Close()
	fmt.Printf("speedbench: pubsub emulator (pstest) listening on pubsub://%s\n", srv.Addr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// child is a process the bench started.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	state  *os.ProcessState
	err    error

	mu    sync.Mutex
	lines []string // the output lines worth reporting (job only)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// running reports whether the process has not exited.
func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// pubsubProcess is pstest in a child process.
type pubsubProcess struct {
	*child
	addr string
}

var pubsubAddrRE = regexp.MustCompile(`pubsub://([0-9.:]+)`)

func startPubSubProcess(ctx context.Context, logPath string) (*pubsubProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve_pubsub", "127.0.0.1:0")
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c, err := startChild(cmd, logf)
	if err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := pubsubAddrRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addrc <- m[1]
				sent = true
			}
		}
	}()
	select {
	case a := <-addrc:
		return &pubsubProcess{child: c, addr: a}, nil
	case <-c.exited:
		return nil, fmt.Errorf("pstest exited before it listened (%v); see %s", c.err, logPath)
	case <-time.After(30 * time.Second):
		c.kill()
		return nil, fmt.Errorf("pstest did not listen within 30 s; see %s", logPath)
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	}
}

// stop interrupts pstest and waits for it.
func (p *pubsubProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func startChild(cmd *exec.Cmd, closer io.Closer) (*child, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		c.state = cmd.ProcessState
		if closer != nil {
			closer.Close()
		}
		close(c.exited)
	}()
	return c, nil
}

// kill ends the process (SIGKILL) if it still runs, and waits for it.
func (c *child) kill() {
	if c.running() {
		_ = c.cmd.Process.Kill()
	}
	<-c.exited
}

// reportLine matches the job's output lines the bench repeats: the
// reconciliation, the dedupe state report and the drain time.
var reportLine = regexp.MustCompile(`^(read |valid |dead letters|rows written|RECONCILIATION|speed run .* drained|dedupe state|speed: )`)

// startJob starts the speed job with its output (stdout and stderr) in
// logPath, keeping the lines reportLine matches.
func startJob(bin string, args []string, logPath string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	c, err := startChild(cmd, pw)
	if err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if reportLine.MatchString(strings.TrimSpace(line)) {
				c.mu.Lock()
				c.lines = append(c.lines, strings.TrimSpace(line))
				c.mu.Unlock()
			}
		}
	}()
	return c, nil
}

func (c *child) reportLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// jobResult is how the job ended: its error and its peak RSS (wait4's
// ru_maxrss).
type jobResult struct {
	err    error
	maxRSS int64
}

func (r jobResult) errString() string {
	if r.err == nil {
		return "ok"
	}
	return r.err.Error()
}

// wait waits up to d for the job to exit (interrupting it then, and killing
// it 30 s later).
func (c *child) wait(ctx context.Context, d time.Duration) jobResult {
	select {
	case <-c.exited:
	case <-time.After(d):
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.kill()
		}
		if c.err == nil {
			c.err = errors.New("did not drain in time: interrupted")
		}
	case <-ctx.Done():
		c.kill()
	}
	r := jobResult{err: c.err}
	if c.state != nil {
		if ru, ok := c.state.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss << 10 // kB on Linux
		}
	}
	return r
}
