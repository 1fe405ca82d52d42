package demo

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/schemas"
)

// Total is a team's (or a day's) score and number of unique valid events.
type Total struct {
	Score  int64 `json:"score"`
	Events int64 `json:"events"`
}

// Tally is what the views must show for a set of lines, computed
// independently of every pipeline: each line decoded with the shared
// schema code, one copy per event_id kept, scores summed per event date
// (UTC) and team. It is safe for concurrent use.
type Tally struct {
	mu         sync.Mutex
	seen       map[string]bool
	teams      map[civil.Date]map[string]Total
	Lines      int64
	Invalid    int64
	Duplicates int64
	Late       int64
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{seen: map[string]bool{}, teams: map[civil.Date]map[string]Total{}}
}

// Add counts one line as a pipeline processing it at now would. It reports
// whether the line is valid.
func (t *Tally) Add(line []byte, now time.Time) bool {
	ev, err := schemas.DecodeLine(line, now)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Lines++
	if err != nil {
		t.Invalid++
		return false
	}
	if t.seen[ev.EventID] {
		t.Duplicates++
		return true
	}
	t.seen[ev.EventID] = true
	if now.Sub(ev.EventTime) > time.Minute {
		t.Late++
	}
	day := civil.DateOf(ev.EventTime.UTC())
	if t.teams[day] == nil {
		t.teams[day] = map[string]Total{}
	}
	tot := t.teams[day][ev.Team]
	tot.Score += ev.Score
	tot.Events++
	t.teams[day][ev.Team] = tot
	return true
}

// Teams returns a copy of the totals per team of an event date.
func (t *Tally) Teams(day civil.Date) map[string]Total {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]Total{}
	for team, tot := range t.teams[day] {
		out[team] = tot
	}
	return out
}

// Days returns the event dates the tally has events for, ascending.
func (t *Tally) Days() []civil.Date {
	t.mu.Lock()
	defer t.mu.Unlock()
	var days []civil.Date
	for d := range t.teams {
		days = append(days, d)
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	return days
}

// Unique is the number of unique valid events.
func (t *Tally) Unique() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int64(len(t.seen))
}

// Sum adds up totals.
func Sum(teams map[string]Total) Total {
	var s Total
	for _, t := range teams {
		s.Score += t.Score
		s.Events += t.Events
	}
	return s
}

// CompareTeams lists every team whose totals differ between want and got,
// at most limit of them.
func CompareTeams(want, got map[string]Total, limit int) []string {
	var names []string
	for n := range want {
		names = append(names, n)
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var diffs []string
	for _, n := range names {
		if want[n] != got[n] {
			diffs = append(diffs, fmt.Sprintf("%s: served %d points / %d events, expected %d / %d", n, got[n].Score, got[n].Events, want[n].Score, want[n].Events))
			if len(diffs) == limit {
				break
			}
		}
	}
	return diffs
}
