package scheduler

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/schemas"
)

// Attempt is one attempt of a job on a partition as the ledger records it:
// its ops.batch_runs rows (one per view for a pipeline, one for a sql job
// or a scheduler-written row) grouped by run_id.
type Attempt struct {
	Job          string
	Partition    civil.Date
	RunID        string
	Attempt      int64
	ScheduledFor time.Time // zero when the rows have none
	Start, End   time.Time
	Status       string // schemas.RunSucceeded, RunFailed or RunCancelled
	Error        string
	Rows         int64
	Views        []string
	Runner       string
}

// Backfill reports whether the attempt was made by railyard backfill
// (run IDs say so: JOB-PARTITION-backfill-…).
func (a Attempt) Backfill() bool {
	return strings.HasPrefix(a.RunID, a.Job+"-"+a.Partition.String()+"-"+triggerBackfill+"-")
}

// History is the ledger's attempts of some jobs.
type History struct {
	attempts map[string][]Attempt // by job, ordered by end time
}

// NewHistory groups attempts by job, in the order they ended.
func NewHistory(attempts []Attempt) History {
	h := History{attempts: map[string][]Attempt{}}
	for _, a := range attempts {
		h.attempts[a.Job] = append(h.attempts[a.Job], a)
	}
	for _, as := range h.attempts {
		sort.SliceStable(as, func(i, j int) bool {
			if !as[i].End.Equal(as[j].End) {
				return as[i].End.Before(as[j].End)
			}
			return as[i].RunID < as[j].RunID
		})
	}
	return h
}

// Of is every attempt of job, oldest first.
func (h History) Of(job string) []Attempt { return h.attempts[job] }

// coveredBy returns a SUCCEEDED attempt of job for p that stands for t or
// later: it covers the firing t.
func (h History) coveredBy(job string, p civil.Date, t time.Time) (Attempt, bool) {
	for _, a := range h.attempts[job] {
		if a.Partition == p && a.Status == schemas.RunSucceeded && !a.ScheduledFor.Before(t) {
			return a, true
		}
	}
	return Attempt{}, false
}

// succeeded returns the latest SUCCEEDED attempt of job for p, if any.
func (h History) succeeded(job string, p civil.Date) (Attempt, bool) {
	var last Attempt
	found := false
	for _, a := range h.attempts[job] {
		if a.Partition == p && a.Status == schemas.RunSucceeded {
			last, found = a, true
		}
	}
	return last, found
}

// failures are the failed scheduled attempts of the firing t of job for p,
// oldest first. Cancelled attempts (the scheduler stopped) and backfill
// attempts do not count against the firing's retries.
func (h History) failures(job string, p civil.Date, t time.Time) []Attempt {
	var out []Attempt
	for _, a := range h.attempts[job] {
		if a.Partition == p && a.Status == schemas.RunFailed && a.ScheduledFor.Equal(t) && !a.Backfill() {
			out = append(out, a)
		}
	}
	return out
}

// LastSuccess is job's SUCCEEDED attempt of the latest partition (the
// one that ended last, if several).
func (h History) LastSuccess(job string) (Attempt, bool) {
	var last Attempt
	found := false
	for _, a := range h.attempts[job] {
		if a.Status == schemas.RunSucceeded && (!found || !a.Partition.Before(last.Partition)) {
			last, found = a, true
		}
	}
	return last, found
}

// Interval is one firing of a job and the partition it recomputes.
type Interval struct {
	Job          *schedule.Job
	ScheduledFor time.Time
	Partition    civil.Date
}

func (iv Interval) key() string {
	return iv.Job.Name + " " + iv.ScheduledFor.UTC().Format(time.RFC3339)
}

// lockKey is the lock of the interval's (job, partition).
func lockKey(job string, p civil.Date) string { return job + "/" + p.String() }

// States of an interval.
const (
	StateDone   = "done"   // a SUCCEEDED attempt covers it
	StateDue    = "due"    // to run (again): no success yet, attempts left
	StateFailed = "failed" // every attempt failed
)

// IntervalState is what the ledger says about one interval.
type IntervalState struct {
	Interval
	State string
	// Failures are the interval's failed attempts so far.
	Failures []Attempt
	// NotBefore is when the next attempt may start: the last failure's end
	// plus the retry backoff (zero for a first attempt).
	NotBefore time.Time
	// DoneBy is the attempt that covers a done interval.
	DoneBy Attempt
}

// NextAttempt is the number of the interval's next attempt.
func (s IntervalState) NextAttempt() int { return len(s.Failures) + 1 }

// LastError is the last failure's error, if any.
func (s IntervalState) LastError() string {
	if len(s.Failures) == 0 {
		return ""
	}
	return s.Failures[len(s.Failures)-1].Error
}

// Evaluate is the state of each firing a catch-up at now considers: the
// newest Catchup firings of job (none before its start date), oldest
// first.
func Evaluate(job *schedule.Job, now time.Time, h History) []IntervalState {
	var out []IntervalState
	for _, t := range job.Latest(now, job.Catchup) {
		out = append(out, evaluate(job, t, h))
	}
	return out
}

func evaluate(job *schedule.Job, t time.Time, h History) IntervalState {
	st := IntervalState{Interval: Interval{Job: job, ScheduledFor: t, Partition: job.PartitionOf(t)}}
	if a, ok := h.coveredBy(job.Name, st.Partition, t); ok {
		st.State, st.DoneBy = StateDone, a
		return st
	}
	st.Failures = h.failures(job.Name, st.Partition, t)
	switch n := len(st.Failures); {
	case n >= job.Attempts():
		st.State = StateFailed
	case n > 0:
		st.State = StateDue
		last := st.Failures[n-1]
		st.NotBefore = last.End.Add(Backoff(job.Retries, n, st.key()))
	default:
		st.State = StateDue
	}
	return st
}

// Backoff is the wait before the retry that follows the failures-th failed
// attempt: Backoff·2^(failures-1), at most MaxBackoff, then "equal
// jitter": between half of that and all of it. The jitter is derived from
// seed (job, firing), so that every scheduler instance computes the same
// wait for the same retry, while different partitions spread out.
func Backoff(r schedule.Retries, failures int, seed string) time.Duration {
	if failures < 1 {
		return 0
	}
	d := r.Backoff
	for i := 1; i < failures && d < r.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.MaxBackoff)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s#%d", seed, failures)
	frac := float64(h.Sum64()%1_000_000) / 1_000_000
	// Milliseconds: the ledger keeps microseconds, and nobody needs more.
	return (d/2 + time.Duration(frac*float64(d/2))).Truncate(time.Millisecond)
}

// Dependency is what a job's interval waits for from one upstream job.
type Dependency struct {
	Job       string
	Partition civil.Date
	// Satisfied: the upstream succeeded for the partition, as recently as
	// its latest firing for it.
	Satisfied bool
	// Pending: the upstream's run for the partition may still come (it is
	// due, or has no firing for it yet); false when it failed for good or
	// has no firing for the partition at all.
	Pending bool
	// Reason says what the wait is for, in words.
	Reason string
}

// Dependencies checks the upstream jobs of iv at now.
func Dependencies(f *schedule.File, iv Interval, now time.Time, h History) []Dependency {
	var out []Dependency
	for _, name := range iv.Job.DependsOn {
		up := f.Job(name)
		d := Dependency{Job: name, Partition: iv.Partition}
		t, ok := up.LatestFiringFor(iv.Partition, now)
		if !ok {
			// The upstream has no firing for the partition (yet): any
			// success for it will do, say from a backfill.
			if a, ok := h.succeeded(name, iv.Partition); ok {
				d.Satisfied, d.Reason = true, fmt.Sprintf("%s succeeded for %s (run %s)", name, iv.Partition, a.RunID)
			} else if first, ok := up.FirstFiringFor(iv.Partition); ok && first.After(now) {
				d.Pending, d.Reason = true, fmt.Sprintf("waiting for %s %s: its run is scheduled for %s", name, iv.Partition, first.UTC().Format(time.RFC3339))
			} else {
				d.Reason = fmt.Sprintf("waiting for %s %s: it has no scheduled run for that partition; backfill it (railyard backfill --job %s --from %s --to %s)",
					name, iv.Partition, name, iv.Partition, iv.Partition)
			}
			out = append(out, d)
			continue
		}
		st := evaluate(up, t, h)
		switch {
		case st.State == StateDone:
			d.Satisfied, d.Reason = true, fmt.Sprintf("%s succeeded for %s (run %s)", name, iv.Partition, st.DoneBy.RunID)
		case st.State == StateFailed:
			d.Reason = fmt.Sprintf("waiting for %s %s: it failed after %d attempts (last error: %s); rerun it with railyard backfill",
				name, iv.Partition, len(st.Failures), firstLine(st.LastError()))
		case inWindow(up, t, now):
			d.Pending = true
			d.Reason = fmt.Sprintf("waiting for %s %s (scheduled for %s, attempt %d of %d to come)",
				name, iv.Partition, t.UTC().Format(time.RFC3339), st.NextAttempt(), up.Attempts())
		default:
			d.Reason = fmt.Sprintf("waiting for %s %s: its firing of %s is older than its catch-up window (catchup: %d); backfill it (railyard backfill --job %s --from %s --to %s)",
				name, iv.Partition, t.UTC().Format(time.RFC3339), up.Catchup, name, iv.Partition, iv.Partition)
		}
		out = append(out, d)
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// inWindow reports whether firing t is one of the firings a catch-up at now
// considers.
func inWindow(job *schedule.Job, t, now time.Time) bool {
	w := job.Latest(now, job.Catchup)
	return len(w) > 0 && !t.Before(w[0])
}
