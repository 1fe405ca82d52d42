package jobserver

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// TB is the part of testing.TB that StartForTest uses (this package does not
// import testing).
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// StartForTest starts a job server of kind for a test and stops it in the
// test's cleanup. Its output is logged only if the test failed.
func StartForTest(t TB, kind Kind) *Server {
	t.Helper()
	start := time.Now()
	s, err := Start(context.Background(), Options{Kind: kind})
	if err != nil {
		t.Fatalf("%v", err)
		return nil
	}
	t.Logf("jobserver: %s job server at %s (pid %d), ready in %s", kind, s.Endpoint(), s.PID(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("jobserver: %s job server output (last 16 KiB):\n%s", kind, s.Output())
		}
	})
	return s
}

// Shared starts one job server of each kind on first use and keeps it for
// the rest of a test binary; Stop it from TestMain. Starting a Flink job
// server costs 10-20 s, so the tests of one package share it.
type Shared struct {
	mu      sync.Mutex
	servers map[Kind]*Server
	errs    map[Kind]error
}

// EnvTestEndpoint names the variable (with the kind upper-cased in place of
// %s) that points Shared at a job server already running, e.g.
// RAILYARD_TEST_FLINK_ENDPOINT=localhost:8099 after
// scripts/flink-job-server.sh: for iterating on a test with the server's
// whole log in view.
const EnvTestEndpoint = "RAILYARD_TEST_%s_ENDPOINT"

// Endpoint is the job service address of the shared server of kind,
// starting the server if needed (or the one EnvTestEndpoint names). A start
// failure is remembered and fails every later caller.
func (sh *Shared) Endpoint(t TB, kind Kind) string {
	t.Helper()
	if ep := os.Getenv(fmt.Sprintf(EnvTestEndpoint, strings.ToUpper(string(kind)))); ep != "" {
		return ep
	}
	return sh.Get(t, kind).Endpoint()
}

// Get returns the shared server of kind, starting it if needed. A start
// failure is remembered and fails every later caller.
func (sh *Shared) Get(t TB, kind Kind) *Server {
	t.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.servers == nil {
		sh.servers, sh.errs = map[Kind]*Server{}, map[Kind]error{}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("jobserver: shared %s job server output (last 16 KiB):\n%s", kind, sh.output(kind))
		}
	})
	if s := sh.servers[kind]; s != nil {
		select {
		case <-s.Exited():
			t.Fatalf("jobserver: the shared %s job server has exited; its output:\n%s", kind, s.Output())
		default:
		}
		return s
	}
	if err := sh.errs[kind]; err != nil {
		t.Fatalf("%v", err)
	}
	start := time.Now()
	s, err := Start(context.Background(), Options{Kind: kind})
	if err != nil {
		sh.errs[kind] = err
		t.Fatalf("%v", err)
		return nil
	}
	t.Logf("jobserver: %s job server at %s (pid %d), ready in %s", kind, s.Endpoint(), s.PID(), time.Since(start).Round(time.Millisecond))
	sh.servers[kind] = s
	return s
}

func (sh *Shared) output(kind Kind) string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s := sh.servers[kind]; s != nil {
		return s.Output()
	}
	return "(not running)"
}

// Stop stops every started server.
func (sh *Shared) Stop() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, s := range sh.servers {
		s.Close()
	}
	sh.servers = nil
}
