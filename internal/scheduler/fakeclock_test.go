package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/schemas"
)

// These tests drive the scheduler with a fake clock; the ledger is the
// BigQuery emulator and the locks are real. Only the work of an attempt is
// a test function, so that it can fail, hang or succeed on cue.

func succeedWith(c *calls, rows int64) func(*schedule.Job) Executor {
	return func(*schedule.Job) Executor {
		return ExecutorFunc(func(ctx context.Context, req Request) (Result, error) {
			c.start(req)
			defer c.end()
			return Result{Runner: "test", Rows: rows}, nil
		})
	}
}

// TestDueRunsAndASecondOnceRunsNothing: a firing runs once, is recorded with
// the scheduler's columns, and a second --once at the same time runs
// nothing; the next day's firing runs the next partition.
func TestDueRunsAndASecondOnceRunsNothing(t *testing.T) {
	e := newEnv(t)
	f := parse(t, `jobs:
  - name: daily
    kind: beam
    pipeline: batch
    cron: "15 2 * * *"
    start_date: 2026-11-01
    retries: {max: 0}
`)
	fc := clock.NewFake(ts("2026-11-02T02:20:00Z"))
	var c calls
	s := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "a"), executor: succeedWith(&c, 42)})
	ctx := context.Background()
	out, err := s.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(out); got != "daily 2026-11-01 SUCCEEDED 1;" {
		t.Fatalf("first once: %s", got)
	}
	rows := e.rows(t, "daily")
	if len(rows) != 1 {
		t.Fatalf("ledger rows: %+v", rows)
	}
	r := rows[0]
	if r.View != "job:daily" || r.Partition != "2026-11-01" || r.Status != schemas.RunSucceeded || r.RowsWritten != 42 ||
		r.Attempt.Int64 != 1 || !r.ScheduledFor.Timestamp.Equal(ts("2026-11-02T02:15:00Z")) || r.Runner.StringVal != "test" ||
		r.Error.Valid || !r.StartTime.Equal(ts("2026-11-02T02:20:00Z")) || !strings.HasPrefix(r.RunID, "daily-2026-11-01-schedule-20261102T021500Z-") {
		t.Fatalf("ledger row %+v", r)
	}
	req := c.list()[0]
	if req.Attempt != 1 || req.RunID != r.RunID || req.Trigger != triggerSchedule {
		t.Fatalf("request %+v", req)
	}

	out, err = s.Once(ctx)
	if err != nil || len(out) != 0 || c.count() != 1 {
		t.Fatalf("second once at the same time ran %s (%d calls), %v", summary(out), c.count(), err)
	}
	// A new scheduler instance agrees: the state is in the ledger.
	s2 := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "b"), executor: succeedWith(&c, 42)})
	if out, _ := s2.Once(ctx); len(out) != 0 {
		t.Fatalf("another instance ran %s", summary(out))
	}

	fc.Set(ts("2026-11-03T02:15:00Z"))
	out, err = s.Once(ctx)
	if err != nil || summary(out) != "daily 2026-11-02 SUCCEEDED 1;" {
		t.Fatalf("next day: %s %v", summary(out), err)
	}
}

// TestCatchUpAfterDowntime: the ledger says the last success was D-3, so
// D-2 and D-1 run, oldest first; a job whose last success is older runs
// only its newest catchup firings, and status lists the rest as missed.
func TestCatchUpAfterDowntime(t *testing.T) {
	e := newEnv(t)
	f := parse(t, `jobs:
  - name: wide
    kind: beam
    pipeline: batch
    cron: "15 2 * * *"
    start_date: 2026-11-01
    catchup: 7
  - name: narrow
    kind: beam
    pipeline: batch
    cron: "15 2 * * *"
    start_date: 2026-11-01
    catchup: 2
`)
	ctx := context.Background()
	// D = 2026-11-10. wide succeeded up to D-3, narrow up to D-6.
	plant := func(job, from, to string) {
		for d := day(from); !d.After(day(to)); d = d.AddDays(1) {
			firing := ts(d.AddDays(1).String() + "T02:15:00Z")
			err := (&Ledger{client: e.client, table: e.bq.Catalog().TableID("ops.batch_runs")}).Record(ctx, schemas.BatchRun{
				View: "job:" + job, Partition: d.String(), RunID: fmt.Sprintf("%s-%s-schedule-x-a1", job, d), StartTime: firing, EndTime: firing.Add(time.Minute),
				Status: schemas.RunSucceeded, Job: bigquery.NullString{StringVal: job, Valid: true}, Attempt: bigquery.NullInt64{Int64: 1, Valid: true},
				ScheduledFor: bigquery.NullTimestamp{Timestamp: firing, Valid: true}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	plant("wide", "2026-11-01", "2026-11-07")
	plant("narrow", "2026-11-01", "2026-11-04")
	fc := clock.NewFake(ts("2026-11-10T03:00:00Z"))
	var c calls
	s := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "a"), executor: succeedWith(&c, 1)})

	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st[1].Due) != 2 || DateRanges(st[1].Missed) != "2026-11-05..2026-11-07" || st[1].Last == nil || st[1].Last.Partition != day("2026-11-04") {
		t.Fatalf("status of narrow before: due %d, missed %v, last %+v", len(st[1].Due), st[1].Missed, st[1].Last)
	}
	if !st[0].NextFiring.Equal(ts("2026-11-11T02:15:00Z")) || st[0].NextPartition != day("2026-11-10") {
		t.Fatalf("next firing %v for %v", st[0].NextFiring, st[0].NextPartition)
	}

	out, err := s.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.partitions("wide"); got != "2026-11-08,2026-11-09" {
		t.Fatalf("wide ran %s, want D-2 then D-1", got)
	}
	if got := c.partitions("narrow"); got != "2026-11-08,2026-11-09" {
		t.Fatalf("narrow ran %s, want only its 2 newest firings", got)
	}
	if len(out) != 4 {
		t.Fatalf("outcomes %s", summary(out))
	}
	// max_parallel 1 per job: never two attempts of one job at once; both
	// jobs together at most two.
	if c.max > 2 {
		t.Fatalf("%d attempts at once", c.max)
	}
	st, _ = s.Status(ctx)
	if len(st[1].Due) != 0 || DateRanges(st[1].Missed) != "2026-11-05..2026-11-07" || st[1].Last.Partition != day("2026-11-09") {
		t.Fatalf("status of narrow after: due %d, missed %v, last %+v", len(st[1].Due), st[1].Missed, st[1].Last)
	}
	if v := testutil.ToFloat64(s.opts.Metrics.Runs.WithLabelValues("wide", "schedule", "succeeded")); v != 2 {
		t.Fatalf("runs metric %v", v)
	}
	if v := testutil.ToFloat64(s.opts.Metrics.Lag.WithLabelValues("wide")); v != 0 {
		t.Fatalf("lag %v s with nothing due", v)
	}
}

// failing is an executor that fails every attempt, or hangs until its
// context ends when hang is set.
func failing(c *calls, hang bool) func(*schedule.Job) Executor {
	return func(*schedule.Job) Executor {
		return ExecutorFunc(func(ctx context.Context, req Request) (Result, error) {
			c.start(req)
			defer c.end()
			if hang {
				<-ctx.Done()
				return Result{Runner: "test"}, context.Cause(ctx)
			}
			return Result{Runner: "test"}, fmt.Errorf("boom %d", req.Attempt)
		})
	}
}

// nextDeadlineIs waits until the fake clock's earliest waiter is at want
// (the code under test has reached that wait).
func nextDeadlineIs(t *testing.T, fc *clock.Fake, want time.Time, what string) {
	t.Helper()
	waitFor(t, what+" at "+want.Format(time.RFC3339), func() bool {
		d, ok := fc.NextDeadline()
		return ok && d.Equal(want)
	})
}

const retryJob = `jobs:
  - name: flaky
    kind: sql
    sql: ../../schedules/sql/top_teams_daily.sql
    destination: serving.top_teams_daily
    cron: "15 2 * * *"
    start_date: 2026-11-01
    retries: {max: 2, backoff: 30s, max_backoff: 45s}
    timeout: 6h
`

// TestRetriesWithBackoffThenFailure: three attempts, the retries after the
// jittered exponential backoff exactly, then the firing fails for good, and
// nothing runs it again.
func TestRetriesWithBackoffThenFailure(t *testing.T) {
	e := newEnv(t)
	f := parse(t, retryJob)
	j := f.Jobs[0]
	start := ts("2026-11-02T02:15:00Z")
	fc := clock.NewFake(start)
	var c calls
	s := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "a"), executor: failing(&c, false)})
	key := Interval{Job: j, ScheduledFor: start}.key()
	b1, b2 := Backoff(j.Retries, 1, key), Backoff(j.Retries, 2, key)
	if b1 < 15*time.Second || b1 > 30*time.Second || b2 < 22500*time.Millisecond || b2 > 45*time.Second {
		t.Fatalf("backoffs %v %v outside [15s,30s] and [22.5s,45s] (30s doubled, capped at 45s)", b1, b2)
	}
	done := make(chan []Outcome, 1)
	go func() {
		out, err := s.Once(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	nextDeadlineIs(t, fc, start.Add(b1), "the first retry's backoff")
	if c.count() != 1 {
		t.Fatalf("%d attempts before the backoff", c.count())
	}
	fc.Set(start.Add(b1 - time.Second))
	time.Sleep(50 * time.Millisecond)
	if c.count() != 1 {
		t.Fatal("the retry ran before its backoff was over")
	}
	fc.Set(start.Add(b1))
	nextDeadlineIs(t, fc, start.Add(b1+b2), "the second retry's backoff")
	fc.Set(start.Add(b1 + b2))
	out := <-done
	if got := summary(out); got != "flaky 2026-11-01 FAILED 3;" || out[0].Error != "boom 3" {
		t.Fatalf("outcome %s %q", got, out[0].Error)
	}
	rows := e.rows(t, "flaky")
	if len(rows) != 3 {
		t.Fatalf("%d ledger rows, want 3 attempts", len(rows))
	}
	for i, r := range rows {
		wantStart := []time.Time{start, start.Add(b1), start.Add(b1 + b2)}[i]
		if r.Attempt.Int64 != int64(i+1) || r.Status != schemas.RunFailed || r.Error.StringVal != fmt.Sprintf("boom %d", i+1) ||
			!r.StartTime.Equal(wantStart) || r.View != "serving.top_teams_daily" || !r.ScheduledFor.Timestamp.Equal(start) {
			t.Fatalf("attempt %d row %+v (want start %v)", i+1, r, wantStart)
		}
	}
	// Failed for good: another --once (a restarted scheduler) does not run it.
	fc.Advance(time.Hour)
	s2 := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "b"), executor: failing(&c, false)})
	if out, err := s2.Once(context.Background()); err != nil || len(out) != 0 || c.count() != 3 {
		t.Fatalf("a failed firing ran again: %s %v", summary(out), err)
	}
	st, err := s2.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st[0].Failed) != 1 || st[0].Failed[0].LastError() != "boom 3" || len(st[0].RecentFailures) != 3 {
		t.Fatalf("status: failed %+v, recent %d", st[0].Failed, len(st[0].RecentFailures))
	}
	if v := testutil.ToFloat64(s.opts.Metrics.Runs.WithLabelValues("flaky", "schedule", "failed")); v != 3 {
		t.Fatalf("failed runs metric %v", v)
	}
}

// TestAnotherInstanceContinuesTheRetries: a scheduler stops during a
// backoff; a new instance reads the failure from the ledger, waits what is
// left of the backoff and runs attempt 2.
func TestAnotherInstanceContinuesTheRetries(t *testing.T) {
	e := newEnv(t)
	f := parse(t, retryJob)
	j := f.Jobs[0]
	start := ts("2026-11-02T02:15:00Z")
	fc := clock.NewFake(start)
	var c calls
	ctx, stop := context.WithCancel(context.Background())
	a := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "a"), executor: failing(&c, false)})
	done := make(chan []Outcome, 1)
	go func() {
		out, _ := a.Once(ctx)
		done <- out
	}()
	b1 := Backoff(j.Retries, 1, Interval{Job: j, ScheduledFor: start}.key())
	nextDeadlineIs(t, fc, start.Add(b1), "the first retry's backoff")
	stop() // the first scheduler stops while it waits
	if out := <-done; summary(out) != "flaky 2026-11-01 CANCELLED 1;" {
		t.Fatalf("stopped scheduler: %s", summary(out))
	}
	fc.Advance(5 * time.Second)
	var c2 calls
	b := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "b"), executor: succeedWith(&c2, 7)})
	go func() {
		out, err := b.Once(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	nextDeadlineIs(t, fc, start.Add(b1), "the rest of the backoff")
	fc.Set(start.Add(b1))
	out := <-done
	if summary(out) != "flaky 2026-11-01 SUCCEEDED 1;" || c2.count() != 1 || c2.list()[0].Attempt != 2 {
		t.Fatalf("second instance: %s, requests %+v", summary(out), c2.list())
	}
	rows := e.rows(t, "flaky")
	if len(rows) != 2 || rows[0].Status != schemas.RunFailed || rows[1].Status != schemas.RunSucceeded || rows[1].Attempt.Int64 != 2 ||
		!rows[1].StartTime.Equal(start.Add(b1)) || rows[1].RowsWritten != 7 {
		t.Fatalf("ledger %+v", rows)
	}
}

// TestTimeoutCancelsAndCountsAsFailed: an attempt that outlives its timeout
// is cancelled, recorded FAILED with the reason, and retried.
func TestTimeoutCancelsAndCountsAsFailed(t *testing.T) {
	e := newEnv(t)
	f := parse(t, strings.Replace(strings.Replace(retryJob, "timeout: 6h", "timeout: 10m", 1), "max: 2", "max: 1", 1))
	j := f.Jobs[0]
	start := ts("2026-11-02T02:15:00Z")
	fc := clock.NewFake(start)
	var c calls
	s := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "a"), executor: failing(&c, true)})
	done := make(chan []Outcome, 1)
	go func() {
		out, _ := s.Once(context.Background())
		done <- out
	}()
	nextDeadlineIs(t, fc, start.Add(10*time.Minute), "the first attempt's timeout")
	fc.Set(start.Add(10 * time.Minute))
	b1 := Backoff(j.Retries, 1, Interval{Job: j, ScheduledFor: start}.key())
	t2 := start.Add(10*time.Minute + b1)
	nextDeadlineIs(t, fc, t2, "the retry's backoff")
	fc.Set(t2)
	nextDeadlineIs(t, fc, t2.Add(10*time.Minute), "the second attempt's timeout")
	fc.Set(t2.Add(10 * time.Minute))
	out := <-done
	if summary(out) != "flaky 2026-11-01 FAILED 2;" || !strings.HasPrefix(out[0].Error, "timeout: the attempt ran longer than its timeout of 10m0s") {
		t.Fatalf("outcome %s %q", summary(out), out[0].Error)
	}
	rows := e.rows(t, "flaky")
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.Status != schemas.RunFailed || !strings.HasPrefix(r.Error.StringVal, "timeout:") || r.EndTime.Sub(r.StartTime) != 10*time.Minute {
			t.Fatalf("row %+v", r)
		}
	}
	if v := testutil.ToFloat64(s.opts.Metrics.Runs.WithLabelValues("flaky", "schedule", "timeout")); v != 2 {
		t.Fatalf("timeout metric %v", v)
	}
}

// gate is an executor that blocks the partitions in held until released.
type gate struct {
	calls
	mu   sync.Mutex
	held map[string]chan struct{}
	fail map[string]bool
}

func newGate(held ...string) *gate {
	g := &gate{held: map[string]chan struct{}{}, fail: map[string]bool{}}
	for _, h := range held {
		g.held[h] = make(chan struct{})
	}
	return g
}

func (g *gate) release(key string) { close(g.held[key]) }

func (g *gate) executor(*schedule.Job) Executor {
	return ExecutorFunc(func(ctx context.Context, req Request) (Result, error) {
		g.start(req)
		defer g.end()
		key := req.Job.Name + " " + req.Partition.String()
		g.mu.Lock()
		ch, fail := g.held[key], g.fail[key]
		g.mu.Unlock()
		if ch != nil {
			select {
			case <-ch:
			case <-ctx.Done():
				return Result{}, context.Cause(ctx)
			}
		}
		if fail {
			return Result{Runner: "test"}, errors.New("upstream broke")
		}
		return Result{Runner: "test", Rows: 5}, nil
	})
}

func (g *gate) running(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range g.reqs {
		if r.Job.Name+" "+r.Partition.String() == key {
			return true
		}
	}
	return false
}

const dependentJobs = `jobs:
  - name: up
    kind: beam
    pipeline: batch
    cron: "15 2 * * *"
    start_date: 2026-11-01
    retries: {max: 0}
  - name: down
    kind: sql
    sql: ../../schedules/sql/top_teams_daily.sql
    destination: serving.top_teams_daily
    depends_on: [up]
    cron: "30 2 * * *"
    start_date: 2026-11-01
    retries: {max: 0}
`

// TestDependsOnWaits: the downstream firing waits (and says for what) while
// its upstream runs, then runs; when the upstream fails, it keeps waiting
// and says why, instead of failing.
func TestDependsOnWaits(t *testing.T) {
	e := newEnv(t)
	f := parse(t, dependentJobs)
	fc := clock.NewFake(ts("2026-11-02T02:40:00Z"))
	g := newGate("up 2026-11-01")
	s := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "a"), executor: g.executor})
	done := make(chan []Outcome, 1)
	go func() {
		out, err := s.Once(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	waitFor(t, "the upstream to start", func() bool { return g.running("up 2026-11-01") })
	waitFor(t, "the downstream to say what it waits for", func() bool {
		return strings.Contains(e.logs.String(), `"msg":"waiting for a dependency","job":"down","partition":"2026-11-01"`) &&
			strings.Contains(e.logs.String(), `"waiting_for":"waiting for up 2026-11-01 (scheduled for 2026-11-02T02:15:00Z, attempt 1 of 1 to come)"`)
	})
	time.Sleep(100 * time.Millisecond)
	if g.running("down 2026-11-01") {
		t.Fatal("the downstream started before its upstream succeeded")
	}
	g.release("up 2026-11-01")
	out := <-done
	if got := summary(out); got != "up 2026-11-01 SUCCEEDED 1;down 2026-11-01 SUCCEEDED 1;" {
		t.Fatalf("outcomes %s", got)
	}
	if got := g.partitions(""); got != "2026-11-01,2026-11-01" || g.list()[1].Job.Name != "down" {
		t.Fatalf("order %v", g.list())
	}

	// Next day the upstream fails: the downstream waits, says why, and the
	// run ends (non-zero for the failure) rather than spin.
	fc.Set(ts("2026-11-03T02:40:00Z"))
	g.mu.Lock()
	g.fail["up 2026-11-02"] = true
	g.mu.Unlock()
	out, err := s.Once(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(out); got != "up 2026-11-02 FAILED 1;down 2026-11-02 WAITING 0;" ||
		!strings.Contains(out[1].Error, "waiting for up 2026-11-02: it failed after 1 attempts (last error: upstream broke)") {
		t.Fatalf("outcomes %s, %q", got, out[len(out)-1].Error)
	}
	if !out[0].Failed() || out[1].Failed() {
		t.Fatal("the failure must fail the run; the wait must not")
	}
	// The waiting firing is due, scheduled 10 minutes ago.
	if v := testutil.ToFloat64(s.opts.Metrics.Lag.WithLabelValues("down")); v != 600 {
		t.Fatalf("lag of the waiting firing %v s, want 600", v)
	}
	if g.running("down 2026-11-02") {
		t.Fatal("the downstream ran after its upstream failed")
	}
}

const upOnly = `jobs:
  - name: up
    kind: beam
    pipeline: batch
    cron: "15 2 * * *"
    start_date: 2026-11-01
    retries: {max: 0}
`

// TestBackfillDoesNotStarveTheSchedule: a backfill that holds its only slot
// on a long date does not delay the schedule's due firing.
func TestBackfillDoesNotStarveTheSchedule(t *testing.T) {
	e := newEnv(t)
	f := parse(t, upOnly)
	fc := clock.NewFake(ts("2026-11-10T02:20:00Z"))
	g := newGate("up 2026-11-01")
	lockURL := "file://" + t.TempDir()
	back := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, lockURL, fc, "backfill"), executor: g.executor, name: "backfill"})
	sched := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, lockURL, fc, "scheduler"), executor: g.executor, name: "scheduler"})
	done := make(chan []Outcome, 1)
	go func() {
		out, err := back.Backfill(context.Background(), BackfillOptions{Job: "up", From: day("2026-11-01"), To: day("2026-11-03"), Parallel: 1})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	waitFor(t, "the backfill to hold its slot", func() bool { return g.running("up 2026-11-01") })
	out, err := sched.Once(context.Background())
	if err != nil || summary(out) != "up 2026-11-09 SUCCEEDED 1;" {
		t.Fatalf("the schedule, during the backfill: %s %v", summary(out), err)
	}
	if g.running("up 2026-11-02") {
		t.Fatal("the backfill ran a second date with --parallel 1")
	}
	g.release("up 2026-11-01")
	back1 := <-done
	if got := summary(back1); got != "up 2026-11-01 SUCCEEDED 1;up 2026-11-02 SUCCEEDED 1;up 2026-11-03 SUCCEEDED 1;" {
		t.Fatalf("backfill %s", got)
	}
	// The backfilled dates stand for their firings: the schedule does not
	// run them again (they are in its catch-up window with catchup 7).
	f7 := parse(t, strings.Replace(upOnly, "    retries: {max: 0}\n", "    catchup: 9\n    retries: {max: 0}\n", 1))
	s7 := e.scheduler(t, f7, schedOpts{clock: fc, lock: e.locker(t, lockURL, fc, "s7"), executor: g.executor})
	out, _ = s7.Once(context.Background())
	for _, o := range out {
		if o.Job == "up" && !o.Partition.After(day("2026-11-03")) {
			t.Fatalf("the schedule ran a backfilled date again: %s", summary(out))
		}
	}
}

// TestBackfillWaitsForADateRunningElsewhere: a date the scheduler is
// running is waited for and not run twice; the run that held it counts.
func TestBackfillWaitsForADateRunningElsewhere(t *testing.T) {
	e := newEnv(t)
	f := parse(t, upOnly)
	fc := clock.NewFake(ts("2026-11-10T02:20:00Z"))
	g := newGate("up 2026-11-09")
	lockURL := "gs://locks/" + t.Name()
	sched := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, lockURL, fc, "scheduler"), executor: g.executor, name: "scheduler"})
	back := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, lockURL, fc, "backfill"), executor: g.executor, name: "backfill", poll: time.Minute})
	schedDone := make(chan []Outcome, 1)
	go func() {
		out, _ := sched.Once(context.Background())
		schedDone <- out
	}()
	waitFor(t, "the scheduler to run 2026-11-09", func() bool { return g.running("up 2026-11-09") })
	var progress []string
	var pmu sync.Mutex
	backDone := make(chan []Outcome, 1)
	go func() {
		out, err := back.Backfill(context.Background(), BackfillOptions{Job: "up", From: day("2026-11-08"), To: day("2026-11-09"), Parallel: 2,
			Started: func(d civil.Date, what string) {
				pmu.Lock()
				progress = append(progress, d.String()+" "+what)
				pmu.Unlock()
			}})
		if err != nil {
			t.Error(err)
		}
		backDone <- out
	}()
	waitFor(t, "the backfill to wait for 2026-11-09", func() bool {
		pmu.Lock()
		defer pmu.Unlock()
		return strings.Contains(strings.Join(progress, "\n"), "2026-11-09 waiting: running elsewhere (scheduler")
	})
	waitFor(t, "the backfill to run 2026-11-08", func() bool { return g.running("up 2026-11-08") })
	g.release("up 2026-11-09")
	if out := <-schedDone; summary(out) != "up 2026-11-09 SUCCEEDED 1;" {
		t.Fatalf("scheduler: %s", summary(out))
	}
	// The backfill polls the lock every minute of its clock.
	var out []Outcome
	waitFor(t, "the backfill to finish", func() bool {
		select {
		case out = <-backDone:
			return true
		default:
			fc.Advance(time.Minute)
			return false
		}
	})
	if got := summary(out); got != "up 2026-11-08 SUCCEEDED 1;up 2026-11-09 DONE ELSEWHERE 0;" {
		t.Fatalf("backfill: %s", got)
	}
	n := 0
	for _, r := range g.list() {
		if r.Partition == day("2026-11-09") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("2026-11-09 ran %d times", n)
	}
	if v := testutil.ToFloat64(back.opts.Metrics.LockWaits.WithLabelValues("up")); v != 1 {
		t.Fatalf("lock waits %v", v)
	}
}

// TestDaemonRunsAtTheFiringAndCancelsOnStop: the daemon sleeps until the
// next firing, runs it then, and when stopped cancels the running attempt,
// recorded CANCELLED, which does not use up a retry.
func TestDaemonRunsAtTheFiringAndCancelsOnStop(t *testing.T) {
	e := newEnv(t)
	f := parse(t, `jobs:
  - name: daily
    kind: beam
    pipeline: batch
    cron: "15 2 * * *"
    start_date: 2026-11-01
    retries: {max: 0}
`)
	fc := clock.NewFake(ts("2026-11-02T02:00:00Z"))
	g := newGate("daily 2026-11-01")
	s := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "daemon"), executor: g.executor})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	nextDeadlineIs(t, fc, ts("2026-11-02T02:15:00Z"), "the daemon's sleep until the firing")
	if g.count() != 0 {
		t.Fatal("the daemon ran something before the firing")
	}
	fc.Set(ts("2026-11-02T02:15:00Z"))
	waitFor(t, "the firing to run", func() bool { return g.running("daily 2026-11-01") })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows := e.rows(t, "daily")
	if len(rows) != 1 || rows[0].Status != schemas.RunCancelled || rows[0].Attempt.Int64 != 1 || !strings.Contains(rows[0].Error.StringVal, "context canceled") {
		t.Fatalf("ledger after stop: %+v", rows)
	}
	// A new instance runs the firing again, as attempt 1: cancelled
	// attempts do not count.
	g2 := newGate()
	s2 := e.scheduler(t, f, schedOpts{clock: fc, lock: e.locker(t, "", fc, "next"), executor: g2.executor})
	out, err := s2.Once(context.Background())
	if err != nil || summary(out) != "daily 2026-11-01 SUCCEEDED 1;" || g2.list()[0].Attempt != 1 {
		t.Fatalf("after the stop: %s %v %+v", summary(out), err, g2.list())
	}
}
