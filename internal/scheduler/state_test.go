package scheduler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/schemas"
)

func parse(t *testing.T, yaml string) *schedule.File {
	t.Helper()
	f, err := schedule.Parse("test.yaml", []byte(yaml), schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func day(s string) civil.Date {
	d, err := civil.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

const dailyJob = `jobs:
  - name: daily
    kind: beam
    pipeline: batch
    cron: "15 2 * * *"
    start_date: 2026-11-01
    catchup: 7
    retries: {max: 2, backoff: 30s, max_backoff: 1m}
`

func succeeded(job, p, scheduledFor string) Attempt {
	return Attempt{Job: job, Partition: day(p), RunID: job + "-" + p + "-schedule-x", ScheduledFor: ts(scheduledFor),
		Status: schemas.RunSucceeded, End: ts(scheduledFor).Add(time.Minute)}
}

func TestEvaluateCatchUpFromTheLedger(t *testing.T) {
	j := parse(t, dailyJob).Jobs[0]
	now := ts("2026-11-10T03:00:00Z") // D = 2026-11-10
	// The last success was D-3 (2026-11-07); everything before succeeded.
	var hist []Attempt
	for d := day("2026-11-03"); !d.After(day("2026-11-07")); d = d.AddDays(1) {
		hist = append(hist, succeeded("daily", d.String(), d.AddDays(1).String()+"T02:15:00Z"))
	}
	var due []string
	for _, st := range Evaluate(j, now, NewHistory(hist)) {
		if st.State == StateDue {
			due = append(due, st.Partition.String())
		}
	}
	if got := strings.Join(due, ","); got != "2026-11-08,2026-11-09" {
		t.Fatalf("due = %s, want D-2 and D-1 (2026-11-08,2026-11-09), oldest first", got)
	}

	// Bounded by catchup: with catchup 2 and the last success D-6, only
	// the newest two firings are considered.
	j2 := parse(t, strings.Replace(dailyJob, "catchup: 7", "catchup: 2", 1)).Jobs[0]
	due = nil
	for _, st := range Evaluate(j2, now, NewHistory(hist[:2])) {
		due = append(due, st.Partition.String()+":"+st.State)
	}
	if got := strings.Join(due, ","); got != "2026-11-08:due,2026-11-09:due" {
		t.Fatalf("catchup 2: %s", got)
	}
}

func TestEvaluateCoverageRetriesAndBackfill(t *testing.T) {
	j := parse(t, dailyJob).Jobs[0]
	now := ts("2026-11-10T03:00:00Z")
	firing := ts("2026-11-10T02:15:00Z")
	fail := func(n int, backfill bool) Attempt {
		trigger := triggerSchedule
		if backfill {
			trigger = triggerBackfill
		}
		return Attempt{Job: "daily", Partition: day("2026-11-09"), RunID: fmt.Sprintf("daily-2026-11-09-%s-x-a%d", trigger, n),
			ScheduledFor: firing, Status: schemas.RunFailed, End: firing.Add(time.Duration(n) * time.Minute), Error: fmt.Sprintf("boom %d", n)}
	}
	last := func(h []Attempt) IntervalState {
		w := Evaluate(j, now, NewHistory(h))
		return w[len(w)-1]
	}
	st := last([]Attempt{fail(1, false)})
	if st.State != StateDue || st.NextAttempt() != 2 || st.LastError() != "boom 1" {
		t.Fatalf("after one failure: %+v", st)
	}
	if want := fail(1, false).End.Add(Backoff(j.Retries, 1, st.key())); !st.NotBefore.Equal(want) {
		t.Fatalf("NotBefore %v, want %v", st.NotBefore, want)
	}
	if st := last([]Attempt{fail(1, false), fail(2, false), fail(3, false)}); st.State != StateFailed {
		t.Fatalf("after 3 failures of 3 attempts: %s", st.State)
	}
	// Backfill failures and cancelled attempts do not use up the retries.
	cancelled := fail(2, false)
	cancelled.Status = schemas.RunCancelled
	if st := last([]Attempt{fail(1, false), cancelled, fail(3, true)}); st.State != StateDue || st.NextAttempt() != 2 {
		t.Fatalf("cancelled and backfill attempts counted: %+v", st)
	}
	// A success that stands for an earlier firing does not cover a later
	// one; one that stands for the firing or later does.
	early := succeeded("daily", "2026-11-09", "2026-11-10T01:00:00Z")
	if st := last([]Attempt{early}); st.State != StateDue {
		t.Fatalf("an earlier success covered the firing: %s", st.State)
	}
	if st := last([]Attempt{early, succeeded("daily", "2026-11-09", "2026-11-10T09:00:00Z")}); st.State != StateDone {
		t.Fatalf("a later success did not cover the firing: %s", st.State)
	}
}

func TestBackoffIsExponentialJitteredAndCapped(t *testing.T) {
	r := schedule.Retries{Max: 10, Backoff: 30 * time.Second, MaxBackoff: 10 * time.Minute}
	for n, base := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 5: 8 * time.Minute, 6: 10 * time.Minute, 9: 10 * time.Minute} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 50; i++ {
			d := Backoff(r, n, fmt.Sprintf("job 2026-11-%02d", i%28+1))
			if d < base/2 || d > base {
				t.Fatalf("retry %d: %v outside [%v, %v]", n, d, base/2, base)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("retry %d: only %d distinct waits over 50 partitions: no jitter", n, len(seen))
		}
		// Deterministic: another instance computes the same wait.
		first := Backoff(r, n, "same")
		if again := Backoff(r, n, "same"); again != first {
			t.Fatalf("the same retry waits %v, then %v", first, again)
		}
	}
	if Backoff(r, 0, "x") != 0 {
		t.Fatal("a first attempt waits")
	}
}

func TestDependencies(t *testing.T) {
	f := parse(t, dailyJob+`  - name: after
    kind: beam
    pipeline: batch
    cron: "30 2 * * *"
    start_date: 2026-11-01
    depends_on: [daily]
`)
	after := f.Job("after")
	now := ts("2026-11-10T02:40:00Z")
	iv := Interval{Job: after, ScheduledFor: ts("2026-11-10T02:30:00Z"), Partition: day("2026-11-09")}
	deps := Dependencies(f, iv, now, NewHistory(nil))
	if len(deps) != 1 || deps[0].Satisfied || !deps[0].Pending || !strings.Contains(deps[0].Reason, "waiting for daily 2026-11-09") {
		t.Fatalf("no upstream run yet: %+v", deps)
	}
	// An old success of the partition does not count: the upstream's
	// firing of 2026-11-10 02:15 has to have run.
	deps = Dependencies(f, iv, now, NewHistory([]Attempt{succeeded("daily", "2026-11-09", "2026-11-10T01:00:00Z")}))
	if deps[0].Satisfied {
		t.Fatalf("an older success satisfied the dependency: %+v", deps)
	}
	deps = Dependencies(f, iv, now, NewHistory([]Attempt{succeeded("daily", "2026-11-09", "2026-11-10T02:15:00Z")}))
	if !deps[0].Satisfied {
		t.Fatalf("the upstream's success did not satisfy it: %+v", deps)
	}
	var fails []Attempt
	for n := 1; n <= 3; n++ {
		fails = append(fails, Attempt{Job: "daily", Partition: day("2026-11-09"), RunID: fmt.Sprintf("daily-2026-11-09-schedule-x-a%d", n),
			ScheduledFor: ts("2026-11-10T02:15:00Z"), Status: schemas.RunFailed, Error: "lake unreadable"})
	}
	deps = Dependencies(f, iv, now, NewHistory(fails))
	if deps[0].Satisfied || deps[0].Pending || !strings.Contains(deps[0].Reason, "failed after 3 attempts (last error: lake unreadable)") {
		t.Fatalf("upstream failed for good: %+v", deps)
	}
}

// TestPrioSemOldestFirst: freed slots go to the oldest waiter, whatever
// the order the waiters came in.
func TestPrioSemOldestFirst(t *testing.T) {
	sem := newPrioSem(1)
	ctx := context.Background()
	hold, err := sem.acquire(ctx, ts("2026-11-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	for _, d := range []string{"2026-11-05", "2026-11-03", "2026-11-04", "2026-11-02"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := sem.acquire(ctx, ts(d+"T00:00:00Z"))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, d)
			mu.Unlock()
			rel()
		}()
	}
	for {
		sem.mu.Lock()
		n := len(sem.waiters)
		sem.mu.Unlock()
		if n == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sem.acquire(cctx, ts("2026-10-01T00:00:00Z")); err == nil {
		t.Fatal("acquire on a cancelled context succeeded")
	}
	hold()
	wg.Wait()
	if got := strings.Join(order, ","); got != "2026-11-02,2026-11-03,2026-11-04,2026-11-05" {
		t.Fatalf("slots went to %s", got)
	}
}
