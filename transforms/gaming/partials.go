package gaming

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/railyard-dev/railyard/schemas"
)

// Partials are partial aggregates of the batch views, each a PCollection
// keyed exactly as the event-level transforms key events before their
// combines. Each partial covers a set of unique events (the batch job's
// hour stage makes one set per lake hour partition, aggregated with a
// PartialAggregator); the *FromPartials transforms merge them with the
// views' own combines into the rows the event-level transforms compute
// from all the sets' events together, provided no event_id is in two sets.
type Partials struct {
	// UserDays are KV<string, ScoreCount> keyed by (day, user, team).
	UserDays beam.PCollection
	// TeamHours are KV<string, ScoreCount> keyed by (one-hour window, team).
	TeamHours beam.PCollection
	// UserHours are KV<string, ScoreCount> keyed by (hour, user, team), the
	// input of the spammer test.
	UserHours beam.PCollection
	// Sessions are KV<string, Sessions> keyed by (team, user): the session
	// windows of the set's events, merged. Merging session windows is
	// associative and commutative, so sessions that span several sets merge
	// later exactly as if their events had been together.
	Sessions beam.PCollection
}

// UserScoresDailyFromPartials is UserScoresDaily from Partials.UserDays.
func UserScoresDailyFromPartials(s beam.Scope, userDays beam.PCollection) beam.PCollection {
	s = s.Scope("UserScoresDaily")
	return beam.ParDo(s, toUserScoreDaily, beam.CombinePerKey(s, addScoreCounts, userDays))
}

// TeamScoresHourlyFromPartials is CalculateTeamScores in batch mode with
// its default one-hour window, from Partials.TeamHours.
func TeamScoresHourlyFromPartials(s beam.Scope, teamHours beam.PCollection) beam.PCollection {
	s = s.Scope("CalculateTeamScores")
	return beam.ParDo(s, toOnTimeTeamScore, beam.CombinePerKey(s, addScoreCounts, teamHours))
}

// GameStatsDailyFromPartials is GameStatsDaily from Partials.UserHours and
// Partials.Sessions: the same steps after GameStatsDaily keys its events.
func GameStatsDailyFromPartials(s beam.Scope, userHours, sessions beam.PCollection) beam.PCollection {
	s = s.Scope("GameStatsDaily")
	partials := beam.CombinePerKey(s, addScoreCounts, userHours)
	byHour := beam.GroupByKey(s, beam.ParDo(s, rekeyByHour, partials))
	teamSums, spammers := beam.ParDo2(s, judgeHour, byHour)
	scores := beam.CombinePerKey(s, addScoreCounts, teamSums)
	spammerCounts := stats.Count(s, beam.ParDo(s, dayTeamOfSpammer, stats.Count(s, spammers)))

	sessionWindows := beam.CombinePerKey(s, mergeSessions, sessions)
	sessionStats := beam.CombinePerKey(s, addSessionStats, beam.ParDo(s, sessionsOf, sessionWindows))

	joined := beam.CoGroupByKey(s, scores, spammerCounts, sessionStats)
	return beam.ParDo(s, toGameStats, joined)
}

// mergeSessions merges two partial session-window lists of one (team,
// user) as sessionsFn merges its accumulators.
func mergeSessions(a, b Sessions) Sessions {
	return (&sessionsFn{}).MergeAccumulators(Sessions{Windows: slices.Clone(a.Windows)}, b)
}

// partialHour is the granularity of a PartialAggregator: one UTC hour,
// which is both the team-score window (TeamScoreOptions' default) and
// SpamWindow, and divides a day.
const partialHour = time.Hour

// PartialAggregator computes, in plain Go, the partial aggregates of a set
// of unique events: Add each event once, then Emit. Keys come from the
// event-level transforms' own key functions, applied to a representative
// event of each (user, team, hour); every key they build depends on the
// event's time only through its hour. It is not safe for concurrent use;
// Reset makes it reusable.
type PartialAggregator struct {
	sums  map[userTeamHour]ScoreCount
	times map[teamUser][]int64 // event times, Unix ms
}

type userTeamHour struct {
	user, team string
	hour       int64 // start, Unix ms
}

type teamUser struct{ team, user string }

// Add aggregates one event.
func (a *PartialAggregator) Add(e schemas.GameEvent) {
	if a.sums == nil {
		a.sums = map[userTeamHour]ScoreCount{}
		a.times = map[teamUser][]int64{}
	}
	ms := e.EventTime.UnixMilli()
	hour := ms - ms%partialHour.Milliseconds()
	if ms < 0 && ms%partialHour.Milliseconds() != 0 {
		hour -= partialHour.Milliseconds()
	}
	k := userTeamHour{user: e.User, team: e.Team, hour: hour}
	a.sums[k] = addScoreCounts(a.sums[k], ScoreCount{Score: e.Score, Events: 1})
	tu := teamUser{team: e.Team, user: e.User}
	a.times[tu] = append(a.times[tu], ms)
}

// Emit hands out the partials of the events added, each key once, in key
// order: per (day, user, team), per (hour window, team) and per (hour,
// user, team) a ScoreCount, and per (team, user) the merged session
// windows.
func (a *PartialAggregator) Emit(userDay, teamHour, userHour func(string, ScoreCount), sessions func(string, Sessions)) {
	days, teams, hours := map[string]ScoreCount{}, map[string]ScoreCount{}, map[string]ScoreCount{}
	window := &keyByWindowTeamFn{WindowMillis: partialHour.Milliseconds()}
	for k, sc := range a.sums {
		repr := schemas.GameEvent{User: k.user, Team: k.team, EventTime: time.UnixMilli(k.hour).UTC()}
		dk, _ := keyByDayUserTeam(repr)
		days[dk] = addScoreCounts(days[dk], sc)
		tk, _ := window.ProcessElement(repr)
		teams[tk] = addScoreCounts(teams[tk], sc)
		hk, _ := keyByHourUserTeam(repr)
		hours[hk] = addScoreCounts(hours[hk], sc)
	}
	for _, out := range []struct {
		sums map[string]ScoreCount
		emit func(string, ScoreCount)
	}{{days, userDay}, {teams, teamHour}, {hours, userHour}} {
		for _, k := range slices.Sorted(maps.Keys(out.sums)) {
			out.emit(k, out.sums[k])
		}
	}
	gap := SessionGap.Milliseconds()
	keys := make([]teamUser, 0, len(a.times))
	for k := range a.times {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y teamUser) int { return cmp.Or(cmp.Compare(x.team, y.team), cmp.Compare(x.user, y.user)) })
	var ws []Interval
	for _, k := range keys {
		ws = ws[:0]
		for _, t := range a.times[k] {
			ws = append(ws, Interval{Start: t, End: t + gap})
		}
		key, _ := keyByTeamUser(schemas.GameEvent{Team: k.team, User: k.user})
		sessions(key, Sessions{Windows: slices.Clone(mergeWindows(ws))})
	}
}

// Reset empties the aggregator for reuse.
func (a *PartialAggregator) Reset() {
	clear(a.sums)
	clear(a.times)
}

func init() {
	register.Function2x1(mergeSessions)
}
