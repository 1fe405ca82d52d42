package scheduler

import (
	"context"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/schemas"
)

// statusLookback is how many past firings Status examines per job for
// missed partitions.
const statusLookback = 400

// JobStatus is one job's state, from the ledger.
type JobStatus struct {
	Job  *schedule.Job
	Now  time.Time
	Last *Attempt // latest successful attempt
	// NextFiring is the next firing after now and NextPartition the
	// partition it recomputes.
	NextFiring    time.Time
	NextPartition civil.Date
	// Due are the firings of the catch-up window that are due now, oldest
	// first (with their dependency waits, if any, in Waiting).
	Due     []IntervalState
	Waiting map[string]string // firing key → what it waits for
	// Failed are firings of the catch-up window whose every attempt
	// failed.
	Failed []IntervalState
	// Missed are partitions of firings older than the catch-up window
	// (within the last statusLookback firings, none before start_date)
	// that never succeeded: the schedule will not run them by itself.
	Missed []civil.Date
	// RecentFailures are the latest failed attempts (at most 5), newest
	// last, with their errors.
	RecentFailures []Attempt
	// Running are due firings whose lock is held now.
	Running map[string]string // firing key → holder
}

// Status reports every job's state at the clock's time.
func (s *Scheduler) Status(ctx context.Context) ([]JobStatus, error) {
	now := s.opts.Clock.Now()
	from := civil.Date{}
	windows := map[string][]time.Time{}
	for _, j := range s.opts.File.Jobs {
		w := j.Latest(now, max(j.Catchup, statusLookback))
		windows[j.Name] = w
		if len(w) > 0 {
			if p := j.PartitionOf(w[0]); !from.IsValid() || p.Before(from) {
				from = p
			}
		}
	}
	if !from.IsValid() {
		from = civil.DateOf(now).AddDays(-1)
	}
	hist, err := s.ledger.History(ctx, s.opts.File.Names(), from)
	if err != nil {
		return nil, err
	}
	var out []JobStatus
	for _, j := range s.opts.File.Jobs {
		js := JobStatus{Job: j, Now: now, Waiting: map[string]string{}, Running: map[string]string{}}
		if a, ok := hist.LastSuccess(j.Name); ok {
			js.Last = &a
		}
		js.NextFiring = j.Next(now)
		if !js.NextFiring.IsZero() {
			js.NextPartition = j.PartitionOf(js.NextFiring)
		}
		w := windows[j.Name]
		window := Evaluate(j, now, hist)
		var windowStart time.Time
		if len(window) > 0 {
			windowStart = window[0].ScheduledFor
		}
		for _, st := range window {
			switch st.State {
			case StateDue:
				js.Due = append(js.Due, st)
				var waits []string
				for _, d := range Dependencies(s.opts.File, st.Interval, now, hist) {
					if !d.Satisfied {
						waits = append(waits, d.Reason)
					}
				}
				if len(waits) > 0 {
					js.Waiting[st.key()] = joinReasons(waits)
				}
				if info, err := s.opts.Lock.Read(ctx, lockKey(j.Name, st.Partition)); err == nil && info != nil && info.Expires.After(now) {
					js.Running[st.key()] = info.String()
				}
			case StateFailed:
				js.Failed = append(js.Failed, st)
			}
		}
		seen := map[civil.Date]bool{}
		for _, t := range w {
			if !windowStart.IsZero() && !t.Before(windowStart) {
				break
			}
			p := j.PartitionOf(t)
			if seen[p] {
				continue
			}
			seen[p] = true
			if _, ok := hist.coveredBy(j.Name, p, t); !ok {
				js.Missed = append(js.Missed, p)
			}
		}
		for _, a := range hist.Of(j.Name) {
			if a.Status == schemas.RunFailed {
				js.RecentFailures = append(js.RecentFailures, a)
			}
		}
		if n := len(js.RecentFailures); n > 5 {
			js.RecentFailures = js.RecentFailures[n-5:]
		}
		out = append(out, js)
	}
	return out, nil
}

func joinReasons(r []string) string {
	out := r[0]
	for _, x := range r[1:] {
		out += "; " + x
	}
	return out
}

// DateRanges writes sorted dates as compact ranges:
// "2026-11-01..2026-11-03, 2026-11-07".
func DateRanges(ds []civil.Date) string {
	var parts []string
	for i := 0; i < len(ds); {
		j := i
		for j+1 < len(ds) && ds[j+1] == ds[j].AddDays(1) {
			j++
		}
		if j > i {
			parts = append(parts, ds[i].String()+".."+ds[j].String())
		} else {
			parts = append(parts, ds[i].String())
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
