package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/schedule"
)

// narrowSchedule turns the example schedule into the demo's: every job's
// catch-up is 1 and its start date yesterday, so the scheduler runs
// yesterday's partition and nothing older (the example's catchup: 7 would
// recompute the six days before as well, each a pipeline run of about 20
// seconds). It returns the clock the scheduler needs: the real one, or,
// before the jobs' crons have fired today (they fire at 02:15 and 02:30
// UTC in the example), one set to the last of those firings, as
// `railyard schedule run --now` would, so that yesterday is due.
func narrowSchedule(f *schedule.File, now time.Time) (clock.Clock, time.Time, []string) {
	yesterday := civil.DateOf(now.UTC()).AddDays(-1)
	var at time.Time
	var notes []string
	for _, j := range f.Jobs {
		notes = append(notes, fmt.Sprintf("%s: catchup %d → 1, start_date %s → %s", j.Name, j.Catchup, dateOrNone(j.StartDate), yesterday))
		j.Catchup, j.StartDate = 1, yesterday
		if latest := j.Latest(now, 1); len(latest) == 1 && !j.PartitionOf(latest[0]).Before(yesterday) {
			continue
		}
		// Its firing for yesterday is still to come today.
		if next := j.Next(now); next.After(at) && j.PartitionOf(next) == yesterday {
			at = next
		}
	}
	if at.IsZero() {
		return clock.Real(), time.Time{}, notes
	}
	return clock.Offset(at), at, notes
}

func dateOrNone(d civil.Date) string {
	if !d.IsValid() {
		return "none"
	}
	return d.String()
}

// schedWatch is the scheduler's slog handler in the demo: every record goes
// to the scheduler's log file as JSON, the few a user wants to see are
// printed as sentences, and the state of yesterday's firings is kept for
// the status lines.
type schedWatch struct {
	out  io.Writer
	file io.Writer
	mu   *sync.Mutex
	st   *schedState
	// attrs are the handler's WithAttrs attributes (the scheduler adds
	// job, partition and the like with Logger.With).
	attrs []slog.Attr
}

// schedState is what became of each job's firing so far.
type schedState struct {
	status  map[string]string // job → "building", "running attempt 1", "SUCCEEDED (989 rows, 24.5s)", …
	done    map[string]bool
	failed  map[string]string
	started time.Time
	// stopping is set when the demo stops the scheduler: the errors its
	// cancellation causes ("context canceled") are not news then.
	stopping atomic.Bool
}

func newSchedWatch(out, file io.Writer) *schedWatch {
	return &schedWatch{out: out, file: file, mu: &sync.Mutex{},
		st: &schedState{status: map[string]string{}, done: map[string]bool{}, failed: map[string]string{}, started: time.Now()}}
}

func (h *schedWatch) Enabled(context.Context, slog.Level) bool { return true }

func (h *schedWatch) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *schedWatch) WithGroup(string) slog.Handler { return h }

func (h *schedWatch) Handle(_ context.Context, r slog.Record) error {
	a := map[string]any{}
	for _, at := range h.attrs {
		a[at.Key] = at.Value.Any()
	}
	r.Attrs(func(at slog.Attr) bool {
		a[at.Key] = at.Value.Any()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	line, _ := json.Marshal(map[string]any{"time": r.Time.UTC().Format(time.RFC3339Nano), "level": r.Level.String(), "msg": r.Message, "attrs": a})
	_, _ = h.file.Write(append(line, '\n'))

	job, _ := a["job"].(string)
	str := func(k string) string { return fmt.Sprint(a[k]) }
	say := func(format string, args ...any) { fmt.Fprintf(h.out, "  scheduler: "+format+"\n", args...) }
	switch {
	case strings.HasPrefix(r.Message, "building pipeline"):
		say("building %s with go build (once per scheduler; 20–70 s measured on 2 cores, minutes on a cold Go build cache)", str("pipeline"))
		h.st.status["batch-daily"] = "building the pipeline"
	case r.Message == "pipeline built":
		say("built %s in %ss", str("pipeline"), str("seconds"))
	case r.Message == "attempt started":
		say("%s for %s: attempt %s of %s started (firing %s)", job, str("partition"), str("attempt"), str("of"), str("scheduled_for"))
		h.st.status[job] = fmt.Sprintf("running for %s (attempt %s)", str("partition"), str("attempt"))
	case r.Message == "attempt succeeded":
		secs, _ := a["seconds"].(float64)
		where := ""
		if l, ok := a["log"].(string); ok && l != "" {
			where = " (log " + l + ")"
		}
		say("%s for %s: SUCCEEDED, %s rows in %.1fs%s", job, str("partition"), str("rows"), secs, where)
		h.st.status[job] = fmt.Sprintf("SUCCEEDED for %s (%s rows, %.1fs)", str("partition"), str("rows"), secs)
		h.st.done[job] = true
	case strings.HasPrefix(r.Message, "attempt ") && r.Level >= slog.LevelError:
		say("%s for %s: attempt %s %s: %s", job, str("partition"), str("attempt"), strings.TrimPrefix(r.Message, "attempt "), firstLine(str("error")))
		h.st.status[job] = fmt.Sprintf("%s for %s (attempt %s)", strings.TrimPrefix(r.Message, "attempt "), str("partition"), str("attempt"))
		h.st.failed[job] = firstLine(str("error"))
	case r.Level >= slog.LevelError && !(h.st.stopping.Load() && strings.Contains(str("error"), context.Canceled.Error())):
		say("%s", firstLine(r.Message+": "+str("error")))
	}
	return nil
}

// state returns a copy of the firings' states.
func (h *schedWatch) state() (status map[string]string, done map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	status, done = map[string]string{}, map[string]bool{}
	for k, v := range h.st.status {
		status[k] = v
	}
	for k, v := range h.st.done {
		done[k] = v
	}
	return status, done
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
