package gaming

import (
	"cmp"
	"reflect"
	"slices"
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/railyard-dev/railyard/schemas"
)

// Game statistics parameters, as in Beam's GameStats example.
const (
	// SpamWindow is the event-time window in which spammers are detected.
	SpamWindow = time.Hour
	// SpamScoreWeight: a user scoring more than this times the window's
	// mean user score is a spammer.
	SpamScoreWeight = 2.5
	// SessionGap is the inactivity gap that ends a user session.
	SessionGap = 5 * time.Minute
)

// GameStatsDaily computes batch.game_stats_daily (see the package doc for
// the exact definitions). The input is schemas.GameEvent timestamped by
// event time (transforms.WithEventTime).
func GameStatsDaily(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("GameStatsDaily")
	// Everything is keyed by fields of the events (their EventTime, not
	// element timestamps), like CalculateTeamScores in batch mode, so the
	// input may come straight out of a run-wide deduplication.
	global := beam.WindowInto(s, window.NewGlobalWindows(), events)

	// Spammers: per hour, each user's total (all teams) against the hour's
	// mean. One GroupByKey by hour carries the per (user, team) partial sums,
	// few per hour, so each hour is judged in one place.
	partials := beam.CombinePerKey(s, addScoreCounts, beam.ParDo(s, keyByHourUserTeam, global))
	byHour := beam.GroupByKey(s, beam.ParDo(s, rekeyByHour, partials))
	teamSums, spammers := beam.ParDo2(s, judgeHour, byHour)
	scores := beam.CombinePerKey(s, addScoreCounts, teamSums)
	spammerCounts := stats.Count(s, beam.ParDo(s, dayTeamOfSpammer, stats.Count(s, spammers)))

	// Sessions: per (team, user), session windows merged exactly as Beam
	// merges them, in a lifted combine whose accumulator is the merged
	// intervals, so a bundle sends one short list per user rather than one
	// element per event.
	sessionWindows := beam.CombinePerKey(s, &sessionsFn{GapMillis: SessionGap.Milliseconds()}, beam.ParDo(s, keyByTeamUser, global))
	sessionStats := beam.CombinePerKey(s, addSessionStats, beam.ParDo(s, sessionsOf, sessionWindows))

	joined := beam.CoGroupByKey(s, scores, spammerCounts, sessionStats)
	return beam.ParDo(s, toGameStats, joined)
}

func keyByHourUserTeam(e schemas.GameEvent) (string, ScoreCount) {
	hour := e.EventTime.UTC().Truncate(SpamWindow).Format(time.RFC3339)
	return joinKey(hour, e.User, e.Team), ScoreCount{Score: e.Score, Events: 1}
}

// userTeamSum is a (user, team) partial sum within one hour.
type userTeamSum struct {
	User   string `beam:"user"`
	Team   string `beam:"team"`
	Score  int64  `beam:"score"`
	Events int64  `beam:"events"`
}

func rekeyByHour(key string, sc ScoreCount) (string, userTeamSum) {
	p := splitKey(key)
	return p[0], userTeamSum{User: p[1], Team: p[2], Score: sc.Score, Events: sc.Events}
}

// judgeHour flags the hour's spammers and emits, per (day, team), the sums
// of non-spammers' events, and a (day, team, user) key per spammer.
func judgeHour(hour string, sums func(*userTeamSum) bool, emitTeam func(string, ScoreCount), emitSpammer func(string)) {
	var rows []userTeamSum
	perUser := map[string]int64{}
	var r userTeamSum
	for sums(&r) {
		rows = append(rows, r)
		perUser[r.User] += r.Score
	}
	var total int64
	for _, s := range perUser {
		total += s
	}
	mean := float64(total) / float64(len(perUser))
	day := hour[:len(time.DateOnly)]
	for _, r := range rows {
		key := joinKey(day, r.Team)
		if float64(perUser[r.User]) > SpamScoreWeight*mean {
			emitSpammer(joinKey(day, r.Team, r.User))
			continue
		}
		emitTeam(key, ScoreCount{Score: r.Score, Events: r.Events})
	}
}

// dayTeamOfSpammer maps a distinct (day, team, user) spammer to (day, team).
func dayTeamOfSpammer(key string, _ int) string {
	p := splitKey(key)
	return joinKey(p[0], p[1])
}

func keyByTeamUser(e schemas.GameEvent) (string, int64) {
	return joinKey(e.Team, e.User), e.EventTime.UnixMilli()
}

// SessionStats sums session lengths.
type SessionStats struct {
	Sessions int64   `beam:"sessions"`
	Minutes  float64 `beam:"minutes"`
}

func addSessionStats(a, b SessionStats) SessionStats {
	return SessionStats{Sessions: a.Sessions + b.Sessions, Minutes: a.Minutes + b.Minutes}
}

// Interval is a session window [Start, End) in Unix milliseconds.
type Interval struct {
	Start int64 `beam:"start"`
	End   int64 `beam:"end"`
}

// Sessions are a user's merged session windows, sorted by start.
type Sessions struct {
	Windows []Interval `beam:"windows"`
}

// sessionsFn merges session windows as Beam's Sessions window function
// does: each event opens [t, t+gap) and windows that overlap merge.
type sessionsFn struct {
	GapMillis int64
}

func (*sessionsFn) CreateAccumulator() Sessions { return Sessions{} }

func (fn *sessionsFn) AddInput(a Sessions, t int64) Sessions {
	return Sessions{Windows: mergeWindows(append(a.Windows, Interval{Start: t, End: t + fn.GapMillis}))}
}

func (*sessionsFn) MergeAccumulators(a, b Sessions) Sessions {
	return Sessions{Windows: mergeWindows(append(a.Windows, b.Windows...))}
}

func (*sessionsFn) ExtractOutput(a Sessions) Sessions { return a }

// mergeWindows sorts windows by start and merges the overlapping ones.
func mergeWindows(ws []Interval) []Interval {
	if len(ws) < 2 {
		return ws
	}
	slices.SortFunc(ws, func(a, b Interval) int { return cmp.Compare(a.Start, b.Start) })
	out := ws[:1]
	for _, w := range ws[1:] {
		last := &out[len(out)-1]
		if w.Start < last.End {
			last.End = max(last.End, w.End)
			continue
		}
		out = append(out, w)
	}
	return out
}

// sessionsOf emits, per session of one user, its (day, team) and length.
// A session belongs to the day of its first event.
func sessionsOf(key string, ss Sessions, emit func(string, SessionStats)) {
	team := splitKey(key)[0]
	for _, w := range ss.Windows {
		day := time.UnixMilli(w.Start).UTC().Format(time.DateOnly)
		emit(joinKey(day, team), SessionStats{Sessions: 1, Minutes: float64(w.End-w.Start) / float64(time.Minute.Milliseconds())})
	}
}

func toGameStats(key string, scores func(*ScoreCount) bool, spammers func(*int) bool, sessions func(*SessionStats) bool) schemas.GameStatsDaily {
	p := splitKey(key)
	day, err := civil.ParseDate(p[0])
	if err != nil {
		panic("gaming: bad day in key: " + err.Error())
	}
	row := schemas.GameStatsDaily{Day: day, Team: p[1]}
	var sc ScoreCount
	for scores(&sc) {
		row.Score += sc.Score
		row.Events += sc.Events
	}
	var n int
	for spammers(&n) {
		row.SpammerUsers += int64(n)
	}
	var ss, total SessionStats
	for sessions(&ss) {
		total = addSessionStats(total, ss)
	}
	row.Sessions = total.Sessions
	if total.Sessions > 0 {
		row.MeanSessionMinutes = total.Minutes / float64(total.Sessions)
	}
	return row
}

func init() {
	beam.RegisterType(reflect.TypeOf((*userTeamSum)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*SessionStats)(nil)).Elem())
	register.Function1x2(keyByHourUserTeam)
	register.Function2x2(rekeyByHour)
	register.Function4x0(judgeHour)
	register.Emitter2[string, ScoreCount]()
	register.Emitter1[string]()
	register.Iter1[userTeamSum]()
	register.Function2x1(dayTeamOfSpammer)
	register.Function1x2(keyByTeamUser)
	register.Function2x1(addSessionStats)
	register.Function3x0(sessionsOf)
	beam.RegisterType(reflect.TypeOf((*Sessions)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*Sessions)(nil)).Elem(), encodeSessions, decodeSessions)
	register.Combiner2[Sessions, int64](&sessionsFn{})
	register.Emitter2[string, SessionStats]()
	register.Function4x1(toGameStats)
	register.Iter1[int]()
	register.Iter1[SessionStats]()
}
