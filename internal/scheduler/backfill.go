package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/lock"
	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/schemas"
)

// MaxBackfillDays bounds one backfill.
const MaxBackfillDays = 3660

// BackfillOptions select what a backfill runs.
type BackfillOptions struct {
	Job      string
	From, To civil.Date
	Exclude  []civil.Date
	// Parallel is how many dates run at once (default 1). Backfills never
	// take the schedule's slots: each process has its own.
	Parallel int
	// DryRun lists what would run, and where a date is locked now,
	// without running anything.
	DryRun bool
	// Progress, if set, is called as each date finishes; Started as each
	// date starts (or starts waiting).
	Progress func(done, total int, o Outcome)
	Started  func(d civil.Date, what string)
}

// Backfill runs one job for every date from From to To (inclusive, minus
// Exclude), Parallel at a time, oldest first, with the job's retries and
// timeout. A date that another scheduler or backfill is running is waited
// for, not run twice: if that run succeeds, the date is reported DONE
// ELSEWHERE. Each date's attempts stand for the job's latest firing of that
// date up to now (or now, if it has none yet), so the schedule does not
// run a backfilled date again.
func (s *Scheduler) Backfill(ctx context.Context, o BackfillOptions) ([]Outcome, error) {
	j := s.opts.File.Job(o.Job)
	if j == nil {
		return nil, fmt.Errorf("backfill: no job %q in %s (jobs: %s)", o.Job, s.opts.File.Path, strings.Join(s.opts.File.Names(), ", "))
	}
	if !o.From.IsValid() || !o.To.IsValid() {
		return nil, errors.New("backfill: --from and --to are required, as YYYY-MM-DD")
	}
	if o.To.Before(o.From) {
		return nil, fmt.Errorf("backfill: --to %s is before --from %s", o.To, o.From)
	}
	if n := o.To.DaysSince(o.From) + 1; n > MaxBackfillDays {
		return nil, fmt.Errorf("backfill: %d dates; at most %d at once", n, MaxBackfillDays)
	}
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	for _, x := range o.Exclude {
		if x.Before(o.From) || o.To.Before(x) {
			return nil, fmt.Errorf("backfill: --exclude %s is outside %s..%s", x, o.From, o.To)
		}
	}
	now := s.opts.Clock.Now()
	var dates []civil.Date
	var out []Outcome
	for d := o.From; !o.To.Before(d); d = d.AddDays(1) {
		if slices.Contains(o.Exclude, d) {
			out = append(out, Outcome{Job: j.Name, Partition: d, Status: OutcomeExcluded})
			continue
		}
		dates = append(dates, d)
	}
	s.opts.Log.Info("backfill started", "job", j.Name, "from", o.From.String(), "to", o.To.String(), "dates", len(dates),
		"excluded", len(o.Exclude), "parallel", o.Parallel, "dry_run", o.DryRun)
	if o.DryRun {
		for _, d := range dates {
			out = append(out, s.dryRun(ctx, j, d, asOf(j, d, now)))
		}
		sortOutcomes(out)
		return out, nil
	}
	sem := newPrioSem(o.Parallel)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		done int
	)
	for _, d := range dates {
		wg.Add(1)
		// Take a place in line now: dates start oldest first.
		place := sem.enqueue(dateTime(d))
		go func() {
			defer wg.Done()
			res := s.backfillDate(ctx, j, d, asOf(j, d, now), sem, place, o.Started)
			mu.Lock()
			out = append(out, res)
			done++
			n := done
			mu.Unlock()
			if o.Progress != nil {
				o.Progress(n, len(dates), res)
			}
		}()
	}
	wg.Wait()
	sortOutcomes(out)
	return out, context.Cause(ctx)
}

func sortOutcomes(out []Outcome) {
	slices.SortStableFunc(out, func(a, b Outcome) int { return a.Partition.Compare(b.Partition) })
}

// asOf is the time a backfill of d stands for: the job's latest firing for
// d up to now, or now when d has no firing yet.
func asOf(j *schedule.Job, d civil.Date, now time.Time) time.Time {
	if t, ok := j.LatestFiringFor(d, now); ok {
		return t
	}
	return now
}

// dryRun describes what a backfill of d would run.
func (s *Scheduler) dryRun(ctx context.Context, j *schedule.Job, d civil.Date, t time.Time) Outcome {
	o := Outcome{Job: j.Name, Partition: d, ScheduledFor: t, Status: OutcomeDryRun}
	req := Request{Job: j, Partition: d, ScheduledFor: t, Attempt: 1, RunID: runGroup(j.Name, d, triggerBackfill, t) + "-a1"}
	if j.Kind == schedule.KindBeam {
		o.Error = "would run pipelines/" + j.Pipeline + " " + strings.Join(pipelineArgs(req, s.opts.BQ), " ")
	} else {
		o.Error = fmt.Sprintf("would run %s with @partition = %s, replacing that partition of %s", j.SQL, d, s.opts.BQ.Catalog().TableID(j.Destination))
	}
	if info, err := s.opts.Lock.Read(ctx, lockKey(j.Name, d)); err == nil && info != nil && info.Expires.After(s.opts.Clock.Now()) {
		o.Error += "; running elsewhere now (" + info.String() + "): it would wait for it"
	}
	return o
}

// backfillDate runs one date: dependencies, lock (waiting while another
// process holds it), attempts with backoff.
func (s *Scheduler) backfillDate(ctx context.Context, j *schedule.Job, d civil.Date, t time.Time, sem *prioSem, place *semWaiter, started func(civil.Date, string)) Outcome {
	c := s.opts.Clock
	out := Outcome{Job: j.Name, Partition: d, ScheduledFor: t}
	log := s.opts.Log.With("job", j.Name, "partition", d.String(), "trigger", triggerBackfill)
	group := runGroup(j.Name, d, triggerBackfill, t)
	prio := dateTime(d)
	release, err := sem.wait(ctx, place)
	if err != nil {
		out.Status, out.Error = schemas.RunCancelled, err.Error()
		return out
	}
	defer func() { release() }()
	if started != nil {
		started(d, "started")
	}

	// Dependencies: the upstream jobs must have succeeded for d; a run of
	// theirs in progress is waited for.
	for {
		var blocked []string
		waiting := false
		for _, up := range j.DependsOn {
			h, err := s.ledger.Partition(ctx, up, d)
			if err != nil {
				out.Status, out.Error = OutcomeError, err.Error()
				return out
			}
			if _, ok := h.succeeded(up, d); ok {
				continue
			}
			if info, err := s.opts.Lock.Read(ctx, lockKey(up, d)); err == nil && info != nil && info.Expires.After(c.Now()) {
				waiting = true
				blocked = append(blocked, fmt.Sprintf("%s %s is running (%s)", up, d, info))
				continue
			}
			blocked = append(blocked, fmt.Sprintf("%s has not succeeded for %s: backfill it first (railyard backfill --job %s --from %s --to %s)", up, d, up, d, d))
		}
		if len(blocked) == 0 {
			break
		}
		if !waiting {
			out.Status, out.Error = OutcomeBlocked, strings.Join(blocked, "; ")
			log.Error("blocked by a dependency", "error", out.Error)
			return out
		}
		log.Info("waiting for a dependency", "waiting_for", strings.Join(blocked, "; "))
		if started != nil {
			started(d, "waiting for "+strings.Join(blocked, "; "))
		}
		if err := clock.Sleep(ctx, c, s.opts.Poll); err != nil {
			out.Status, out.Error = schemas.RunCancelled, err.Error()
			return out
		}
	}

	// The lock: wait while someone else runs the date, remembering who.
	var lease *lock.Lease
	var others []string
	waitStart := c.Now()
	for lease == nil {
		l, holder, err := s.opts.Lock.TryAcquire(ctx, lockKey(j.Name, d), group)
		if err != nil {
			out.Status, out.Error = OutcomeError, err.Error()
			return out
		}
		if holder == nil {
			lease = l
			break
		}
		if !slices.Contains(others, holder.RunID) {
			others = append(others, holder.RunID)
			s.opts.Metrics.LockWaits.WithLabelValues(j.Name).Inc()
			log.Info("date is running elsewhere; waiting for it instead of running it twice", "holder", holder.String())
			if started != nil {
				started(d, "waiting: running elsewhere ("+holder.String()+")")
			}
		}
		// Free the slot while waiting, so other dates go on.
		release()
		if err := clock.Sleep(ctx, c, s.opts.Poll); err != nil {
			out.Status, out.Error = schemas.RunCancelled, err.Error()
			release = func() {}
			return out
		}
		if release, err = sem.acquire(ctx, prio); err != nil {
			out.Status, out.Error = schemas.RunCancelled, err.Error()
			release = func() {}
			return out
		}
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if err := lease.Release(rctx); err != nil {
			log.Warn("releasing the lock failed; it expires by itself", "error", err.Error())
		}
		cancel()
	}()
	if len(others) > 0 {
		h, err := s.ledger.Partition(ctx, j.Name, d)
		if err != nil {
			out.Status, out.Error = OutcomeError, err.Error()
			return out
		}
		for _, a := range h.Of(j.Name) {
			for _, g := range others {
				if g != "" && strings.HasPrefix(a.RunID, g) && a.Status == schemas.RunSucceeded {
					log.Info("the run we waited for succeeded; not running the date again", "run_id", a.RunID)
					out.Status, out.RunID, out.Rows, out.Duration = OutcomeDoneElsewhere, a.RunID, a.Rows, c.Now().Sub(waitStart)
					return out
				}
			}
		}
	}

	for n := 1; ; n++ {
		req := Request{Job: j, Partition: d, ScheduledFor: t, Attempt: n, RunID: fmt.Sprintf("%s-a%d", group, n), Trigger: triggerBackfill}
		res := s.attempt(ctx, req, lease)
		out.Attempts = n
		out.Duration += res.Duration
		out.RunID, out.Rows, out.Status, out.Error = req.RunID, res.Rows, res.Status, res.Err
		if res.Status != schemas.RunFailed || res.LockLost || n >= j.Attempts() {
			return out
		}
		wait := Backoff(j.Retries, n, group)
		log.Info("attempt failed; will retry", "attempt", n, "of", j.Attempts(), "wait", wait.String())
		release()
		if err := clock.Sleep(ctx, c, wait); err != nil {
			out.Status, out.Error = schemas.RunCancelled, err.Error()
			release = func() {}
			return out
		}
		if release, err = sem.acquire(ctx, prio); err != nil {
			out.Status, out.Error = schemas.RunCancelled, err.Error()
			release = func() {}
			return out
		}
	}
}

// dateTime is d's midnight (UTC): its place in a backfill's line.
func dateTime(d civil.Date) time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }
