package schedule

import (
	"time"

	"cloud.google.com/go/civil"
	"github.com/robfig/cron/v3"
)

// Next is the job's first firing strictly after t.
func (j *Job) Next(t time.Time) time.Time {
	n := j.schedule.Next(t.In(j.Location))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// PartitionOf is the event date a firing at t recomputes: t's date in the
// job's time zone, DaysBefore days earlier.
func (j *Job) PartitionOf(t time.Time) civil.Date {
	return civil.DateOf(t.In(j.Location)).AddDays(-j.DaysBefore)
}

// firstEligible is the earliest time whose partition is not before the
// start date (the zero time when the job has none).
func (j *Job) firstEligible() time.Time {
	if !j.StartDate.IsValid() {
		return time.Time{}
	}
	d := j.StartDate.AddDays(j.DaysBefore)
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, j.Location)
}

// Firings returns the job's firings t with from < t <= to, ascending, at
// most limit of them (the earliest), and none whose partition lies before
// the start date.
func (j *Job) Firings(from, to time.Time, limit int) []time.Time {
	if first := j.firstEligible(); !first.IsZero() && from.Before(first) {
		from = first.Add(-time.Nanosecond)
	}
	var out []time.Time
	for t := j.Next(from); !t.IsZero() && !t.After(to) && len(out) < limit; t = j.Next(t) {
		out = append(out, t)
	}
	return out
}

// lookbackFloor bounds how far back Latest searches when the job has no
// start date.
const lookbackFloor = 10 * 366 * 24 * time.Hour

// Latest returns the job's newest n firings at or before now, oldest first,
// leaving out firings whose partition lies before the start date. These
// are the firings a catch-up considers (n = Catchup).
func (j *Job) Latest(now time.Time, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	floor := now.Add(-lookbackFloor)
	if first := j.firstEligible(); !first.IsZero() && first.After(floor) {
		floor = first.Add(-time.Nanosecond)
	}
	// Search back in growing spans until the span holds n firings or
	// reaches the floor: robfig/cron only steps forward.
	for span := 24 * time.Hour; ; span *= 2 {
		from := now.Add(-span)
		reached := !from.After(floor)
		if reached {
			from = floor
		}
		all := j.firingsAll(from, now)
		if len(all) >= n || reached {
			if len(all) > n {
				all = all[len(all)-n:]
			}
			return all
		}
	}
}

// firingsAll is every firing in (from, to], eligible ones only.
func (j *Job) firingsAll(from, to time.Time) []time.Time {
	if first := j.firstEligible(); !first.IsZero() && from.Before(first) {
		from = first.Add(-time.Nanosecond)
	}
	var out []time.Time
	for t := j.Next(from); !t.IsZero() && !t.After(to); t = j.Next(t) {
		out = append(out, t)
	}
	return out
}

// LatestFiringFor is the job's last firing at or before notAfter whose
// partition is p, if there is one. A downstream job waits for the run of
// that firing (or a later run of p).
func (j *Job) LatestFiringFor(p civil.Date, notAfter time.Time) (time.Time, bool) {
	if j.StartDate.IsValid() && p.Before(j.StartDate) {
		return time.Time{}, false
	}
	day := p.AddDays(j.DaysBefore)
	start := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, j.Location)
	end := time.Date(day.Year, day.Month, day.Day+1, 0, 0, 0, 0, j.Location)
	if notAfter.Before(end) {
		end = notAfter.Add(time.Nanosecond)
	}
	var last time.Time
	for t := j.Next(start.Add(-time.Nanosecond)); !t.IsZero() && t.Before(end); t = j.Next(t) {
		last = t
	}
	return last, !last.IsZero()
}

// FirstFiringFor is the job's first firing whose partition is p, if any:
// the time a backfill of p stands for at the earliest.
func (j *Job) FirstFiringFor(p civil.Date) (time.Time, bool) {
	day := p.AddDays(j.DaysBefore)
	start := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, j.Location)
	t := j.Next(start.Add(-time.Nanosecond))
	if t.IsZero() || j.PartitionOf(t) != p {
		return time.Time{}, false
	}
	return t, true
}

// Fields are a job's cron expression, field by field: the values each field
// allows. When both DaysStar and WeekdaysStar are false, a day matches if
// its day of month or its weekday does (cron's rule); otherwise both must.
type Fields struct {
	Minutes, Hours, Days, Months []int
	Weekdays                     []int // 0 = Sunday
	DaysStar, WeekdaysStar       bool
}

// starBit is robfig/cron's mark of a field written as * or ?.
const starBit = 1 << 63

// Fields returns the job's cron expression field by field (descriptors
// such as @daily included), for the install generators.
func (j *Job) Fields() Fields {
	s, ok := j.schedule.(*cron.SpecSchedule)
	if !ok {
		return Fields{}
	}
	bits := func(b uint64, lo, hi int) []int {
		var out []int
		for v := lo; v <= hi; v++ {
			if b&(1<<uint(v)) != 0 {
				out = append(out, v)
			}
		}
		return out
	}
	return Fields{
		Minutes: bits(s.Minute, 0, 59), Hours: bits(s.Hour, 0, 23), Days: bits(s.Dom, 1, 31),
		Months: bits(s.Month, 1, 12), Weekdays: bits(s.Dow, 0, 6),
		DaysStar: s.Dom&starBit != 0, WeekdaysStar: s.Dow&starBit != 0,
	}
}
