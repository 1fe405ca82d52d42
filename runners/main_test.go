package runners

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/railyard-dev/railyard/internal/testkit"
)

// prismChildEnv makes the test binary serve a prism job server on the given
// port instead of running tests (see startPrismJobServer).
const prismChildEnv = "RAILYARD_TEST_PRISM_JOB_SERVER_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(prismChildEnv); port != "" {
		os.Exit(servePrismJobServer(port))
	}
	flag.Parse()
	if err := Init(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// servePrismJobServer runs Beam's prism job server (the JobService the Flink
// and Spark job servers also implement) until stdin is closed, the process
// is killed, or it has been idle for 10 minutes.
func servePrismJobServer(portStr string) (code int) {
	port, err := strconv.Atoi(portStr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer func() {
		// jobservices.NewServer panics when the port is taken.
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "prism job server:", r)
			code = 3
		}
	}()
	ctx, cancel := context.WithCancelCause(context.Background())
	if _, err := prism.CreateJobServer(ctx, prism.Options{
		Port:                port,
		IdleShutdownTimeout: 10 * time.Minute,
		CancelFn:            cancel,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "prism job server:", err)
		return 1
	}
	fmt.Println("READY")
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel(errors.New("stdin closed"))
	}()
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "prism job server stopping:", context.Cause(ctx))
	return 0
}

// startPrismJobServer starts a prism job server in a child process (this test
// binary, see TestMain) on a free loopback port and returns its endpoint. The
// server is stopped, and its port checked closed, when the test ends.
//
// A child process is used because Beam's in-process job server
// (prism.CreateJobServer) offers no way to stop it or learn its address.
func startPrismJobServer(t *testing.T) string {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		endpoint, err := tryStartPrismJobServer(t)
		if err == nil {
			return endpoint
		}
		lastErr = err
	}
	t.Fatalf("starting prism job server: %v", lastErr)
	return ""
}

func tryStartPrismJobServer(t *testing.T) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", prismChildEnv, port))
	stderr := &testkit.SyncBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	drained := make(chan struct{}) // closed when the child's stdout is closed, i.e. it exited
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready <- true
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			err := cmd.Wait()
			return "", fmt.Errorf("job server exited (%v) before it was ready:\n%s", err, stderr.String())
		}
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-drained
		_ = cmd.Wait()
		return "", fmt.Errorf("job server not ready after 90s:\n%s", stderr.String())
	}

	endpoint := fmt.Sprintf("127.0.0.1:%d", port)
	t.Cleanup(func() {
		// Closing stdin asks the child to stop; kill it if it does not.
		stdin.Close()
		select {
		case <-drained:
		case <-time.After(15 * time.Second):
			t.Errorf("prism job server did not stop after stdin was closed; killing it")
			_ = cmd.Process.Kill()
			<-drained
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("prism job server exited with %v", err)
		}
		if c, err := net.DialTimeout("tcp", endpoint, time.Second); err == nil {
			c.Close()
			t.Errorf("prism job server port %s still open after teardown", endpoint)
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("prism job server log:\n%s", tail(stderr.String(), 60))
		}
	})
	return endpoint, nil
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// setFlags sets flags on the program's flag set and restores their values
// when the test ends. (Beam's flags are package globals; note that a flag
// once set stays "visited" for flag.Visit.)
func setFlags(t *testing.T, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		name, value := kv[i], kv[i+1]
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("no flag --%s", name)
		}
		old := f.Value.String()
		if err := flag.Set(name, value); err != nil {
			t.Fatalf("--%s=%s: %v", name, value, err)
		}
		t.Cleanup(func() {
			if err := flag.Set(name, old); err != nil {
				t.Errorf("restoring --%s: %v", name, err)
			}
		})
	}
}
