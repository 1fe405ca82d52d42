package localstack

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"time"
)

// TB is the part of testing.TB that StartForTest uses (declared here so
// that this package does not import testing). *testing.T and *testing.B
// satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// StartForTest starts the stand-ins for a test and registers their Close
// with t.Cleanup (which runs also when the test fails or panics). A nil
// opts.Log logs through t.Logf. Start-up failures, including a missing
// clang for the BigQuery emulator build, fail the test. The one-off
// emulator build may take about 9 minutes: give `go test` a -timeout of at
// least 15m on a cold cache (the default is 10m), or prebuild with
// EnsureBigQueryEmulator.
func StartForTest(t TB, opts Options) *Stack {
	t.Helper()
	var lw *testLogWriter
	if opts.Log == nil {
		lw = &testLogWriter{t: t}
		opts.Log = lw
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		if lw != nil {
			lw.stop()
		}
		t.Fatalf("localstack: %v", err)
		return nil
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("localstack: close: %v", err)
		}
		if lw != nil {
			lw.stop()
		}
	})
	return s
}

// SetEnvForTest sets the variables of Env for the rest of the test and
// restores them in its cleanup (like testing.T.Setenv, and likewise not
// for parallel tests).
func (s *Stack) SetEnvForTest(t TB) {
	t.Helper()
	restore := s.SetEnv()
	t.Cleanup(restore)
}

// testLogWriter sends whole lines to t.Logf until stopped; it never calls
// t.Logf after the test's cleanup finished (that would panic).
type testLogWriter struct {
	t       TB
	mu      sync.Mutex
	buf     []byte
	stopped bool
}

var _ io.Writer = (*testLogWriter)(nil)

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Logf("%s", strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.t.Logf("%s", w.buf)
		w.buf = nil
	}
	w.stopped = true
}
