package serving

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/civil"
)

// Sources of a served row.
const (
	SourceBatch    = "batch"
	SourceRealtime = "realtime"
)

// Views whose ledger rows (ops.batch_runs.view) decide coverage.
const (
	ViewTeamScoresHourly = "batch.team_scores_hourly"
	ViewUserScoresDaily  = "batch.user_scores_daily"
)

// TeamHour is a row of serving.team_scores_hourly.
type TeamHour struct {
	Team        string    `bigquery:"team"`
	WindowStart time.Time `bigquery:"window_start"`
	WindowEnd   time.Time `bigquery:"window_end"`
	Score       int64     `bigquery:"score"`
	Events      int64     `bigquery:"events"`
	Source      string    `bigquery:"source"`
}

// UserDay is a row of serving.user_scores_daily.
type UserDay struct {
	Day    civil.Date `bigquery:"day"`
	User   string     `bigquery:"user"`
	Team   string     `bigquery:"team"`
	Score  int64      `bigquery:"score"`
	Events int64      `bigquery:"events"`
	Source string     `bigquery:"source"`
}

// Run is what the snapshot knows of one speed-job run.
type Run struct {
	RunID string
	// FirstWatermark and LastWatermark are the oldest and newest watermark
	// the run reported; LastReport is when it last reported.
	FirstWatermark, LastWatermark, LastReport time.Time
	// FirstWindow is the start of the earliest hour the run counted
	// events for (zero if none in the loaded range).
	FirstWindow time.Time
	// Live: the run reported within LiveWithin of the snapshot's time.
	Live bool
}

// Reach is the event-time range the run's input covered: from its first
// counted hour (or first watermark, if earlier) to its newest watermark,
// or to the snapshot's time while it is live.
func (r Run) Reach(asOf time.Time) Interval {
	from := r.FirstWatermark
	if !r.FirstWindow.IsZero() && r.FirstWindow.Before(from) {
		from = r.FirstWindow
	}
	to := r.LastWatermark
	if r.Live && asOf.After(to) {
		to = asOf
	}
	return Interval{From: from, To: to}
}

// Interval is [From, To) in event time.
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Snapshot is everything the API answers from: the serving views' rows in
// [From, To), the ledger's coverage and the speed runs, as read at AsOf.
// It is never modified once built.
type Snapshot struct {
	AsOf     time.Time
	From, To time.Time
	// Took is how long reading it took.
	Took time.Duration

	teamHours []TeamHour            // by window start, then team
	byTeam    map[string][]TeamHour // by window start
	userDays  map[civil.Date][]UserDay
	byUser    map[string][]UserDay // by day, then team
	// covered holds, per view, the dates with a SUCCEEDED ledger row in
	// the loaded range; batchThrough the latest such date overall.
	covered      map[string]map[civil.Date]bool
	batchThrough map[string]civil.Date
	runs         []Run
}

// Data is what a Source reads; NewSnapshot indexes it.
type Data struct {
	TeamHours []TeamHour
	UserDays  []UserDay
	// Covered lists the (view, date) pairs with a SUCCEEDED ledger row.
	Covered []Coverage
	Runs    []Run
}

// Coverage is one date a view's batch run covers.
type Coverage struct {
	View string
	Date civil.Date
}

// NewSnapshot indexes data read at asOf for [from, to).
func NewSnapshot(asOf, from, to time.Time, took time.Duration, d Data) *Snapshot {
	s := &Snapshot{
		AsOf: asOf.UTC(), From: from.UTC(), To: to.UTC(), Took: took,
		teamHours: slices.Clone(d.TeamHours),
		byTeam:    map[string][]TeamHour{}, userDays: map[civil.Date][]UserDay{}, byUser: map[string][]UserDay{},
		covered: map[string]map[civil.Date]bool{}, batchThrough: map[string]civil.Date{},
		runs: slices.Clone(d.Runs),
	}
	for i := range s.teamHours {
		s.teamHours[i].WindowStart = s.teamHours[i].WindowStart.UTC()
		s.teamHours[i].WindowEnd = s.teamHours[i].WindowEnd.UTC()
	}
	slices.SortFunc(s.teamHours, func(a, b TeamHour) int {
		return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.Team, b.Team))
	})
	for _, h := range s.teamHours {
		s.byTeam[h.Team] = append(s.byTeam[h.Team], h)
	}
	days := slices.Clone(d.UserDays)
	slices.SortFunc(days, func(a, b UserDay) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.User, b.User), cmp.Compare(a.Team, b.Team))
	})
	for _, u := range days {
		s.userDays[u.Day] = append(s.userDays[u.Day], u)
		s.byUser[u.User] = append(s.byUser[u.User], u)
	}
	for _, c := range d.Covered {
		if s.covered[c.View] == nil {
			s.covered[c.View] = map[civil.Date]bool{}
		}
		s.covered[c.View][c.Date] = true
		if c.Date.After(s.batchThrough[c.View]) {
			s.batchThrough[c.View] = c.Date
		}
	}
	return s
}

// BatchThrough is, per view, the latest date batch covers (views without
// any are left out).
func (s *Snapshot) BatchThrough() map[string]civil.Date { return s.batchThrough }

// RealtimeWatermark is the newest watermark of a live run, or zero when
// no run is live.
func (s *Snapshot) RealtimeWatermark() time.Time {
	var wm time.Time
	for _, r := range s.runs {
		if r.Live && r.LastWatermark.After(wm) {
			wm = r.LastWatermark
		}
	}
	return wm
}

// Runs returns the speed runs the snapshot knows.
func (s *Snapshot) Runs() []Run { return s.runs }

// Gaps returns the parts of [from, to) before the snapshot's time that
// neither batch covers for view (whole dates with a SUCCEEDED ledger row)
// nor any run's realtime input reaches, in order and merged.
func (s *Snapshot) Gaps(view string, from, to time.Time) []Interval {
	end := to
	if s.AsOf.Before(end) {
		end = s.AsOf
	}
	if !from.Before(end) {
		return nil
	}
	var covered []Interval
	for d := range s.covered[view] {
		start := d.In(time.UTC)
		covered = append(covered, Interval{From: start, To: start.Add(24 * time.Hour)})
	}
	for _, r := range s.runs {
		reach := r.Reach(s.AsOf)
		if reach.From.Before(reach.To) {
			covered = append(covered, reach)
		}
	}
	sort.Slice(covered, func(i, j int) bool { return covered[i].From.Before(covered[j].From) })
	var gaps []Interval
	cur := from
	for _, c := range covered {
		if !cur.Before(end) {
			break
		}
		if c.To.Compare(cur) <= 0 {
			continue
		}
		if c.From.After(cur) {
			gaps = append(gaps, Interval{From: cur, To: minTimeOf(c.From, end)})
		}
		if c.To.After(cur) {
			cur = c.To
		}
	}
	if cur.Before(end) {
		gaps = append(gaps, Interval{From: cur, To: end})
	}
	return gaps
}

func minTimeOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// TeamTotal is one team's sum over a range.
type TeamTotal struct {
	Rank   int    `json:"rank"`
	Team   string `json:"team"`
	Score  int64  `json:"score"`
	Events int64  `json:"events"`
}

// TopTeams sums the team hours with From ≤ window_start < To, score
// descending, ties by team ascending, at most limit.
func (s *Snapshot) TopTeams(r HourRange, limit int) []TeamTotal {
	lo, _ := slices.BinarySearchFunc(s.teamHours, r.From, func(h TeamHour, t time.Time) int { return h.WindowStart.Compare(t) })
	sums := map[string]*TeamTotal{}
	for _, h := range s.teamHours[lo:] {
		if !h.WindowStart.Before(r.To) {
			break
		}
		t := sums[h.Team]
		if t == nil {
			t = &TeamTotal{Team: h.Team}
			sums[h.Team] = t
		}
		t.Score += h.Score
		t.Events += h.Events
	}
	out := make([]TeamTotal, 0, len(sums))
	for _, t := range sums {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b TeamTotal) int { return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Team, b.Team)) })
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}

// UserTotal is one (user, team)'s score on a date.
type UserTotal struct {
	Rank   int    `json:"rank"`
	User   string `json:"user"`
	Team   string `json:"team"`
	Score  int64  `json:"score"`
	Events int64  `json:"events"`
}

// TopUsers ranks the (user, team) rows of a date: score descending, ties
// by user, then team, ascending.
func (s *Snapshot) TopUsers(d civil.Date, limit int) []UserTotal {
	rows := s.userDays[d]
	out := make([]UserTotal, 0, len(rows))
	for _, u := range rows {
		out = append(out, UserTotal{User: u.User, Team: u.Team, Score: u.Score, Events: u.Events})
	}
	slices.SortFunc(out, func(a, b UserTotal) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.User, b.User), cmp.Compare(a.Team, b.Team))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}

// TeamHours returns a team's hours with From ≤ window_start < To, in order
// (hours without events have no row).
func (s *Snapshot) TeamHours(team string, r HourRange) []TeamHour {
	rows := s.byTeam[team]
	lo, _ := slices.BinarySearchFunc(rows, r.From, func(h TeamHour, t time.Time) int { return h.WindowStart.Compare(t) })
	hi, _ := slices.BinarySearchFunc(rows, r.To, func(h TeamHour, t time.Time) int { return h.WindowStart.Compare(t) })
	if hi < lo {
		hi = lo
	}
	return rows[lo:hi]
}

// UserDays returns a user's rows with From ≤ day < To, by day then team.
func (s *Snapshot) UserDays(user string, r DateRange) []UserDay {
	var out []UserDay
	for _, u := range s.byUser[user] {
		if !u.Day.Before(r.From) && u.Day.Before(r.To) {
			out = append(out, u)
		}
	}
	return out
}
