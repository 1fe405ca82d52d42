package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/lock"
	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/internal/testkit"
)

// The package's tests share one local stack (fake GCS in process, the
// BigQuery emulator as a child process); each test writes to datasets of
// its own prefix.
var shared struct {
	once     sync.Once
	stack    *localstack.Stack
	err      error
	restore  func()
	buildDir string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stack != nil {
		shared.restore()
		shared.stack.Close()
	}
	if shared.buildDir != "" {
		os.RemoveAll(shared.buildDir)
	}
	os.Exit(code)
}

func sharedStack(t *testing.T) *localstack.Stack {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		shared.stack, shared.err = localstack.Start(ctx, localstack.Options{GCS: true, BigQuery: true, Buckets: []string{"lake", "locks"}})
		if shared.err == nil {
			// Pipelines started by the scheduler read the lake through
			// Beam's gs:// filesystem, which takes STORAGE_EMULATOR_HOST.
			shared.restore = shared.stack.SetEnv()
		}
		shared.buildDir, _ = os.MkdirTemp("", "railyard-scheduler-test-pipelines-")
	})
	if shared.err != nil {
		t.Fatalf("local stack: %v", shared.err)
	}
	return shared.stack
}

// env is one test's datasets (prefix) on the shared stack, the catalog
// applied there.
type env struct {
	stack  *localstack.Stack
	bq     cliflags.BigQuery
	client *bigquery.Client
	logs   *testkit.SyncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	stack := sharedStack(t)
	return newEnvOn(t, stack, stack.BigQueryEndpoint)
}

// newEnvOwnBigQuery is an env with a BigQuery emulator of its own (Cloud
// Storage stays shared): for the tests that run real pipelines. The
// emulator has been seen to break for good under concurrent loads from
// two pipelines (see the README's Known limits), and one test's breakage
// must not fail the others.
func newEnvOwnBigQuery(t *testing.T) *env {
	t.Helper()
	stack := sharedStack(t)
	own := localstack.StartForTest(t, localstack.Options{BigQuery: true, Project: stack.Project})
	return newEnvOn(t, stack, own.BigQueryEndpoint)
}

func newEnvOn(t *testing.T, stack *localstack.Stack, bqEndpoint string) *env {
	t.Helper()
	prefix := strings.NewReplacer("/", "_", "-", "_").Replace(strings.ToLower(t.Name())) + "_"
	e := &env{stack: stack, bq: cliflags.BigQuery{Project: stack.Project, Endpoint: bqEndpoint, DatasetPrefix: prefix}, logs: &testkit.SyncBuffer{}}
	ctx := context.Background()
	client, err := e.bq.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	e.client = client
	if err := e.bq.ApplyCatalog(ctx, client); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("scheduler logs:\n%s", e.logs.String())
		}
	})
	return e
}

// locker opens a lock in a directory of the test's, or on fake GCS when
// url starts with gs://.
func (e *env) locker(t *testing.T, url string, c clock.Clock, holder string) *lock.Locker {
	t.Helper()
	if url == "" {
		url = "file://" + t.TempDir()
	}
	// A long lease: with a fake clock, renewals would otherwise be waiters
	// that come before the ones a test waits for.
	l, err := lock.Open(context.Background(), url, lock.Options{Clock: c, Holder: holder, Lease: 24 * time.Hour,
		Storage: func(ctx context.Context) (*storage.Client, error) { return e.stack.GCPConfig().Storage(ctx) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

type schedOpts struct {
	clock    clock.Clock
	lock     *lock.Locker
	executor func(*schedule.Job) Executor
	poll     time.Duration
	source   string
	buildDir string // default: the package's, shared by its tests
	name     string // names the instance in the logs
}

func (e *env) scheduler(t *testing.T, f *schedule.File, o schedOpts) *Scheduler {
	t.Helper()
	if o.poll == 0 {
		o.poll = 24 * time.Hour // tests that wait on locks set it
	}
	if o.source == "" {
		o.source, _ = filepath.Abs("../..")
	}
	if o.buildDir == "" {
		o.buildDir = shared.buildDir
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.name != "" {
		log = log.With("instance", o.name)
	}
	s, err := New(context.Background(), Options{File: f, BQ: e.bq, Lock: o.lock, Clock: o.clock, Log: log,
		Source: o.source, BuildDir: o.buildDir, JobLogs: t.TempDir(), Poll: o.poll, Executor: o.executor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ledgerRow is a row of ops.batch_runs as stored.
type storedRow struct {
	View         string                 `bigquery:"view"`
	Partition    string                 `bigquery:"partition"`
	RunID        string                 `bigquery:"run_id"`
	StartTime    time.Time              `bigquery:"start_time"`
	EndTime      time.Time              `bigquery:"end_time"`
	RowsWritten  int64                  `bigquery:"rows_written"`
	Status       string                 `bigquery:"status"`
	Job          bigquery.NullString    `bigquery:"job"`
	Attempt      bigquery.NullInt64     `bigquery:"attempt"`
	ScheduledFor bigquery.NullTimestamp `bigquery:"scheduled_for"`
	Runner       bigquery.NullString    `bigquery:"runner"`
	Error        bigquery.NullString    `bigquery:"error"`
}

// rows reads the ledger rows of a job, ordered by partition, attempt and view.
func (e *env) rows(t *testing.T, job string) []storedRow {
	t.Helper()
	return query[storedRow](t, e.client, fmt.Sprintf("SELECT * FROM `%s` WHERE job = @job ORDER BY `partition`, scheduled_for, attempt, start_time, `view`",
		e.bq.Catalog().TableID("ops.batch_runs")), bigquery.QueryParameter{Name: "job", Value: job})
}

func query[T any](t *testing.T, client *bigquery.Client, sql string, params ...bigquery.QueryParameter) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	q := client.Query(sql)
	q.Parameters = params
	it, err := q.Read(ctx)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []T
	for {
		var row T
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		out = append(out, row)
	}
}

// waitFor polls cond (real time) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// calls records the attempts a test executor was asked to run.
type calls struct {
	mu   sync.Mutex
	reqs []Request
	cur  int // attempts running now
	max  int // most attempts running at once
}

func (c *calls) start(req Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, req)
	c.cur++
	c.max = max(c.max, c.cur)
}

func (c *calls) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur--
}

func (c *calls) list() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.reqs...)
}

func (c *calls) count() int { return len(c.list()) }

func (c *calls) partitions(job string) string {
	var out []string
	for _, r := range c.list() {
		if job == "" || r.Job.Name == job {
			out = append(out, r.Partition.String())
		}
	}
	return strings.Join(out, ",")
}

// summary is a compact, ordered view of outcomes.
func summary(out []Outcome) string {
	var b bytes.Buffer
	for _, o := range out {
		fmt.Fprintf(&b, "%s %s %s %d;", o.Job, o.Partition, o.Status, o.Attempts)
	}
	return b.String()
}
