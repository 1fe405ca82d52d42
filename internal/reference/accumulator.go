package reference

import (
	"bytes"
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/schemas"
)

const (
	nsPerHour = int64(time.Hour)
	nsPerDay  = 24 * nsPerHour
	// sessionGap is the gap of the session windows of game_stats_daily.
	sessionGap = int64(5 * time.Minute)
	nsPerMin   = float64(time.Minute)
)

// record is a unique event as the accumulator keeps it: 40 bytes, names
// interned.
type record struct {
	t        int64 // event time, ns since 1970-01-01 UTC
	score    int64
	version  int64 // schema_version
	user     int32 // index into Accumulator.names
	team     int32
	platform int32
}

// Accumulator is the single-goroutine core of Compute: it takes lines (or
// decoded events) in any order, deduplicates them and computes the views.
// Tests and tools can feed it directly. It is not safe for concurrent use.
type Accumulator struct {
	from, to civil.Date
	fromDay  int64 // days since 1970-01-01
	toDay    int64
	now      time.Time

	counts Counts
	names  []string
	nameIx map[string]int32
	ids    map[string]int // event id → index into recs
	recs   []record
	// conflicted holds the indexes of the records whose id had differing
	// copies.
	conflicted map[int]bool
}

// NewAccumulator returns an empty accumulator for the event dates from
// through to, validating with now as the time of processing.
func NewAccumulator(from, to civil.Date, now time.Time) (*Accumulator, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	return &Accumulator{
		from: from, to: to,
		fromDay: dayNumber(from), toDay: dayNumber(to),
		now:    now,
		counts: Counts{InvalidByReason: map[schemas.Reason]int64{}},
		nameIx: map[string]int32{},
		ids:    map[string]int{},

		conflicted: map[int]bool{},
	}, nil
}

func dayNumber(d civil.Date) int64 { return floorDiv(d.In(time.UTC).Unix(), 86400) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// AddLine decodes one line (without its line ending) and adds it: a blank
// line is skipped, an invalid one counted by reason, a valid one added
// like AddEvent. It fails only if the decoder returns an error that is not
// a *schemas.ValidationError, which it never should.
func (a *Accumulator) AddLine(line []byte) error {
	if len(bytes.TrimSuffix(line, []byte("\r"))) == 0 {
		a.counts.BlankLines++
		return nil
	}
	e, err := schemas.DecodeLine(line, a.now)
	if err != nil {
		reason := schemas.ReasonOf(err)
		if reason == "" {
			return fmt.Errorf("reference: decoder returned a non-validation error: %w", err)
		}
		a.AddInvalid(reason)
		return nil
	}
	a.AddEvent(e)
	return nil
}

// AddInvalid counts a line that failed validation with reason.
func (a *Accumulator) AddInvalid(reason schemas.Reason) {
	a.counts.Read++
	a.counts.Invalid++
	a.counts.InvalidByReason[reason]++
}

// AddEvent adds a valid event (one that schemas.DecodeLine returned).
func (a *Accumulator) AddEvent(e schemas.GameEvent) {
	a.counts.Read++
	a.counts.Valid++
	r := record{
		t:        e.EventTime.UnixNano(),
		score:    e.Score,
		version:  e.SchemaVersion,
		user:     a.intern(e.User),
		team:     a.intern(e.Team),
		platform: a.intern(e.Platform),
	}
	i, dup := a.ids[e.EventID]
	if !dup {
		a.ids[e.EventID] = len(a.recs)
		a.recs = append(a.recs, r)
		return
	}
	a.counts.Duplicates++
	if a.recs[i] == r {
		return // the same content, hence the same MarshalLine
	}
	a.conflicted[i] = true
	if bytes.Compare(e.MarshalLine(), a.event(e.EventID, a.recs[i]).MarshalLine()) < 0 {
		a.recs[i] = r
	}
}

func (a *Accumulator) addBatch(b *batch) {
	a.counts.Files += b.files
	a.counts.Bytes += b.bytes
	a.counts.BlankLines += b.blank
	for _, r := range b.invalid {
		a.AddInvalid(r)
	}
	for _, e := range b.events {
		a.AddEvent(e)
	}
}

func (a *Accumulator) intern(s string) int32 {
	if i, ok := a.nameIx[s]; ok {
		return i
	}
	i := int32(len(a.names))
	a.names = append(a.names, s)
	a.nameIx[s] = i
	return i
}

// event rebuilds the GameEvent of a record.
func (a *Accumulator) event(id string, r record) schemas.GameEvent {
	return schemas.GameEvent{
		EventID:       id,
		User:          a.names[r.user],
		Team:          a.names[r.team],
		Score:         r.score,
		EventTime:     time.Unix(0, r.t).UTC(),
		Platform:      a.names[r.platform],
		SchemaVersion: r.version,
	}
}

// Aggregation keys. Days and hours are numbered from 1970-01-01 00:00 UTC.
type (
	dayUserTeam struct {
		day        int64
		user, team int32
	}
	hourTeam struct {
		hour int64
		team int32
	}
	hourUser struct {
		hour int64
		user int32
	}
	dayTeam struct {
		day  int64
		team int32
	}
	dayTeamUser struct {
		day        int64
		team, user int32
	}
	teamUser struct{ team, user int32 }
)

type sum struct{ score, events int64 }

type hourTotal struct{ score, users int64 }

type stats struct {
	sum
	spammers int64
	sessions int64
	length   uint128 // Σ session lengths, ns
}

// Result computes the views from what was added so far. It does not change
// the accumulator.
func (a *Accumulator) Result() Result {
	c := a.counts
	c.InvalidByReason = make(map[schemas.Reason]int64, len(a.counts.InvalidByReason))
	for r, n := range a.counts.InvalidByReason {
		c.InvalidByReason[r] = n
	}
	c.Unique = int64(len(a.recs))
	c.ConflictingIDs = int64(len(a.conflicted))

	userDay := map[dayUserTeam]*sum{}
	teamHour := map[hourTeam]*sum{}
	userHour := map[hourUser]int64{}
	times := map[teamUser][]int64{}
	for _, r := range a.recs {
		day := floorDiv(r.t, nsPerDay)
		if day < a.fromDay || day > a.toDay {
			c.OutsidePartition++
			continue
		}
		c.Events++
		hour := floorDiv(r.t, nsPerHour)
		add(userDay, dayUserTeam{day, r.user, r.team}, r.score)
		add(teamHour, hourTeam{hour, r.team}, r.score)
		userHour[hourUser{hour, r.user}] += r.score
		k := teamUser{r.team, r.user}
		times[k] = append(times[k], r.t)
	}

	// Spammers: s(u,W) > 2.5 × mean(W), i.e. 2·s·N > 5·S.
	hours := map[int64]*hourTotal{}
	for k, s := range userHour {
		h := hours[k.hour]
		if h == nil {
			h = &hourTotal{}
			hours[k.hour] = h
		}
		h.score += s
		h.users++
	}
	spammer := map[hourUser]bool{}
	for k, s := range userHour {
		h := hours[k.hour]
		if mul(uint64(s), 2*uint64(h.users)).greater(mul(uint64(h.score), 5)) {
			spammer[k] = true
		}
	}

	// game_stats_daily: scores without spammers' events, spammer users.
	st := map[dayTeam]*stats{}
	spammerUsers := map[dayTeamUser]bool{}
	for _, r := range a.recs {
		day := floorDiv(r.t, nsPerDay)
		if day < a.fromDay || day > a.toDay {
			continue
		}
		k := dayTeam{day, r.team}
		s := st[k]
		if s == nil {
			s = &stats{}
			st[k] = s
		}
		if spammer[hourUser{floorDiv(r.t, nsPerHour), r.user}] {
			if u := (dayTeamUser{day, r.team, r.user}); !spammerUsers[u] {
				spammerUsers[u] = true
				s.spammers++
			}
			continue
		}
		s.score += r.score
		s.events++
	}
	// Sessions per (team, user), each belonging to the day of its first
	// event: a new session starts when an event comes 5 min or more after
	// the previous one.
	for k, ts := range times {
		slices.Sort(ts)
		first, last := ts[0], ts[0]
		for _, t := range ts[1:] {
			if t-last >= sessionGap {
				a.addSession(st, k.team, first, last)
				first = t
			}
			last = t
		}
		a.addSession(st, k.team, first, last)
	}

	res := Result{From: a.from, To: a.to, Counts: c}
	res.UserScoresDaily = make([]schemas.UserScoreDaily, 0, len(userDay))
	for k, s := range userDay {
		res.UserScoresDaily = append(res.UserScoresDaily, schemas.UserScoreDaily{
			Day: dateOf(k.day), User: a.names[k.user], Team: a.names[k.team], Score: s.score, Events: s.events,
		})
	}
	slices.SortFunc(res.UserScoresDaily, func(x, y schemas.UserScoreDaily) int {
		return cmp.Or(x.Day.Compare(y.Day), cmp.Compare(x.User, y.User), cmp.Compare(x.Team, y.Team))
	})
	res.TeamScoresHourly = make([]schemas.TeamScore, 0, len(teamHour))
	for k, s := range teamHour {
		start := time.Unix(k.hour*3600, 0).UTC()
		end := start.Add(time.Hour)
		res.TeamScoresHourly = append(res.TeamScoresHourly, schemas.TeamScore{
			Team: a.names[k.team], Score: s.score, Events: s.events,
			WindowStart: start, WindowEnd: end,
			Timing: schemas.TimingOnTime, PaneIndex: 0, IsLast: true, ProcessingTime: end,
		})
	}
	slices.SortFunc(res.TeamScoresHourly, func(x, y schemas.TeamScore) int {
		return cmp.Or(x.WindowStart.Compare(y.WindowStart), cmp.Compare(x.Team, y.Team))
	})
	res.GameStatsDaily = make([]schemas.GameStatsDaily, 0, len(st))
	for k, s := range st {
		row := schemas.GameStatsDaily{
			Day: dateOf(k.day), Team: a.names[k.team], Score: s.score, Events: s.events,
			SpammerUsers: s.spammers, Sessions: s.sessions,
		}
		if s.sessions > 0 {
			row.MeanSessionMinutes = s.length.float64() / float64(s.sessions) / nsPerMin
		}
		res.GameStatsDaily = append(res.GameStatsDaily, row)
	}
	slices.SortFunc(res.GameStatsDaily, func(x, y schemas.GameStatsDaily) int {
		return cmp.Or(x.Day.Compare(y.Day), cmp.Compare(x.Team, y.Team))
	})
	return res
}

func (a *Accumulator) addSession(st map[dayTeam]*stats, team int32, first, last int64) {
	// The first event is in range, so its (day, team) has a stats entry.
	s := st[dayTeam{floorDiv(first, nsPerDay), team}]
	s.sessions++
	s.length.add(uint64(last - first + sessionGap))
}

func add[K comparable](m map[K]*sum, k K, score int64) {
	s := m[k]
	if s == nil {
		s = &sum{}
		m[k] = s
	}
	s.score += score
	s.events++
}

func dateOf(day int64) civil.Date { return civil.DateOf(time.Unix(day*86400, 0).UTC()) }

// uint128 is an unsigned 128-bit integer, for exact products and sums.
type uint128 struct{ hi, lo uint64 }

func mul(x, y uint64) uint128 {
	hi, lo := bits.Mul64(x, y)
	return uint128{hi, lo}
}

func (u uint128) greater(v uint128) bool {
	return u.hi > v.hi || (u.hi == v.hi && u.lo > v.lo)
}

func (u *uint128) add(x uint64) {
	var carry uint64
	u.lo, carry = bits.Add64(u.lo, x, 0)
	u.hi += carry
}

func (u uint128) float64() float64 { return float64(u.hi)*(1<<64) + float64(u.lo) }
