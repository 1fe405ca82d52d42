package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/railyard-dev/railyard/internal/gcpclient"
)

// DefaultProject is the project ID used when Options.Project is empty.
const DefaultProject = "railyard-local"

// Environment variables the official client libraries read.
const (
	EnvPubSubEmulatorHost  = "PUBSUB_EMULATOR_HOST"
	EnvStorageEmulatorHost = "STORAGE_EMULATOR_HOST"
)

// Options selects which stand-ins Start runs.
type Options struct {
	// Project is the project ID the stand-ins serve; default DefaultProject.
	Project string
	// PubSub, GCS and BigQuery select the stand-ins. If none is set, all
	// three are started.
	PubSub, GCS, BigQuery bool
	// Buckets are created on the GCS stand-in at start.
	Buckets []string
	// Log receives the stand-ins' output (fake-gcs-server's request log is
	// not included; the BigQuery emulator's stdout and stderr are) and
	// railyard's progress messages. Nil discards the output, except that
	// the one-off BigQuery emulator build reports its progress on
	// os.Stderr.
	Log io.Writer
	// BigQueryLogLevel is the emulator's --log-level (debug, info, warn,
	// error); default "error".
	BigQueryLogLevel string
}

// Stack is a running set of stand-ins. Endpoints of stand-ins that were not
// started are empty.
type Stack struct {
	// Project is the project ID the stand-ins serve.
	Project string
	// PubSubEndpoint is pstest's gRPC address, "127.0.0.1:<port>".
	PubSubEndpoint string
	// GCSEndpoint is fake-gcs-server's base URL, "http://127.0.0.1:<port>".
	GCSEndpoint string
	// BigQueryEndpoint is the BigQuery emulator's REST base URL,
	// "http://127.0.0.1:<port>".
	BigQueryEndpoint string
	// BigQueryGRPCEndpoint is the BigQuery emulator's gRPC address (Storage
	// Write API), "127.0.0.1:<port>".
	BigQueryGRPCEndpoint string

	// PubSubServer is the in-process pstest server (nil if not started),
	// for inspecting published messages or injecting errors.
	PubSubServer *pstest.Server
	// GCSServer is the in-process fake-gcs-server (nil if not started), for
	// creating buckets and objects directly.
	GCSServer *fakestorage.Server

	log       io.Writer
	closers   []func() error
	bq        *bqProcess
	closeOnce sync.Once
	closeErr  error
}

// Start starts the selected stand-ins on free loopback ports. On error,
// whatever was already started is stopped again.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if !opts.PubSub && !opts.GCS && !opts.BigQuery {
		opts.PubSub, opts.GCS, opts.BigQuery = true, true, true
	}
	if opts.Project == "" {
		opts.Project = DefaultProject
	}
	var logw io.Writer = io.Discard
	if opts.Log != nil {
		// The emulator's output is copied by a goroutine of os/exec while
		// railyard writes its own messages: serialise the writes.
		logw = &lockedWriter{w: opts.Log}
	}
	s = &Stack{Project: opts.Project, log: logw}
	defer func() {
		if err != nil {
			if cerr := s.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			s = nil
		}
	}()

	if opts.PubSub {
		if err := s.startPubSub(); err != nil {
			return s, fmt.Errorf("localstack: Pub/Sub: %w", err)
		}
	}
	if opts.GCS {
		if err := s.startGCS(opts.Buckets); err != nil {
			return s, fmt.Errorf("localstack: GCS: %w", err)
		}
	}
	if opts.BigQuery {
		buildLog := logw
		if opts.Log == nil {
			buildLog = os.Stderr
		}
		bin, err := EnsureBigQueryEmulator(ctx, buildLog)
		if err != nil {
			return s, fmt.Errorf("localstack: BigQuery: %w", err)
		}
		p, err := startBigQuery(ctx, bin, opts.Project, opts.BigQueryLogLevel, logw)
		if err != nil {
			return s, fmt.Errorf("localstack: BigQuery: %w", err)
		}
		s.bq = p
		s.BigQueryEndpoint = p.endpoint
		s.BigQueryGRPCEndpoint = p.grpcAddr
		s.closers = append(s.closers, p.stop)
	}
	return s, nil
}

// Close stops every stand-in (in reverse start order) and waits for the
// BigQuery emulator process group to be gone. It is safe to call more than
// once; later calls return the first call's result.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			if err := s.closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		s.closers = nil
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// BigQueryPID returns the process ID of the BigQuery emulator (which is
// also its process group ID), or 0 if it was not started.
func (s *Stack) BigQueryPID() int {
	if s.bq == nil {
		return 0
	}
	return s.bq.pid()
}

// GCPConfig returns a gcpclient.Config pointing at the running stand-ins.
func (s *Stack) GCPConfig() gcpclient.Config {
	return gcpclient.Config{
		Project:          s.Project,
		BigQueryEndpoint: s.BigQueryEndpoint,
		StorageEndpoint:  s.GCSEndpoint,
		PubSubEndpoint:   s.PubSubEndpoint,
	}
}

// Env returns the emulator environment variables the official client
// libraries read, as "KEY=value" (for exec.Cmd.Env): PUBSUB_EMULATOR_HOST
// and STORAGE_EMULATOR_HOST for the stand-ins that run. There is no such
// variable for BigQuery; pass BigQueryEndpoint explicitly.
func (s *Stack) Env() []string {
	var env []string
	for _, kv := range s.envPairs() {
		env = append(env, kv[0]+"="+kv[1])
	}
	return env
}

func (s *Stack) envPairs() [][2]string {
	var kv [][2]string
	if s.PubSubEndpoint != "" {
		kv = append(kv, [2]string{EnvPubSubEmulatorHost, s.PubSubEndpoint})
	}
	if s.GCSEndpoint != "" {
		kv = append(kv, [2]string{EnvStorageEmulatorHost, s.GCSEndpoint})
	}
	return kv
}

// SetEnv sets the variables of Env in this process (for in-process Beam
// pipelines and other code that builds clients without options) and
// returns a function that restores the previous values. The environment is
// process-wide: do not use it from parallel tests.
func (s *Stack) SetEnv() (restore func()) {
	type prev struct {
		key, val string
		ok       bool
	}
	var saved []prev
	for _, kv := range s.envPairs() {
		v, ok := os.LookupEnv(kv[0])
		saved = append(saved, prev{kv[0], v, ok})
		_ = os.Setenv(kv[0], kv[1])
	}
	return func() {
		for i := len(saved) - 1; i >= 0; i-- {
			p := saved[i]
			if p.ok {
				_ = os.Setenv(p.key, p.val)
			} else {
				_ = os.Unsetenv(p.key)
			}
		}
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
