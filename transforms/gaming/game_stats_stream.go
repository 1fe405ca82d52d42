package gaming

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms"
)

// GameStatsOptions configure CalculateGameStats. Zero durations take the
// defaults of Beam's GameStats example.
type GameStatsOptions struct {
	// Window is the fixed event-time window of spammer detection and team
	// scores (Beam's fixedWindowDuration, default 60 min, = SpamWindow).
	Window time.Duration
	// SessionGap is the inactivity gap that ends a user session (Beam's
	// sessionGap, default 5 min, = SessionGap).
	SessionGap time.Duration
	// SessionWindow is the fixed event-time window, by session end, over
	// which session lengths are averaged (Beam's
	// userActivityWindowDuration, default 30 min).
	SessionWindow time.Duration
}

func (o GameStatsOptions) withDefaults() GameStatsOptions {
	if o.Window <= 0 {
		o.Window = SpamWindow
	}
	if o.SessionGap <= 0 {
		o.SessionGap = SessionGap
	}
	if o.SessionWindow <= 0 {
		o.SessionWindow = 30 * time.Minute
	}
	return o
}

// Counters of CalculateGameStats, in the namespace
// transforms.MetricsNamespace.
const (
	// MetricSpammers counts the (user, window) pairs flagged as spammers
	// (Beam's GameStats counts them as spammerUsers).
	MetricSpammers = "game_stats_spammers"
)

var spammerCounter = beam.NewCounter(transforms.MetricsNamespace, MetricSpammers)

// CalculateGameStats is Beam's GameStats in streaming. The input is
// schemas.GameEvent timestamped by event time (transforms.WithEventTime).
// It returns
//
//   - teamScores: schemas.TeamScore per team and fixed window (opts.Window)
//     without the events of the window's spammers, a user whose score in the
//     window exceeds SpamScoreWeight times the window's mean user score;
//   - sessions: schemas.SessionStats per fixed window (opts.SessionWindow)
//     of session ends: the number and mean length of the user sessions
//     (gap opts.SessionGap) that ended in it.
//
// Both fire once, when the watermark passes the window's end (Beam's
// default trigger, no allowed lateness). The package doc states the exact
// definitions and how they relate to batch.game_stats_daily.
//
// Beam's GameStats hands the mean to the spammer filter, and the spammers
// to the team sums, as side inputs. Here both are joins by key in the
// window instead — all user sums of a window grouped under one key, then
// the events and the spammer flags grouped by user — which give the same
// rows: Flink's portable runner (Beam 2.62) cannot checkpoint a stage that
// holds side-input data (its snapshot fails with a ClassCastException and
// the job restarts), and checkpoints are what make Flink ack Pub/Sub.
func CalculateGameStats(s beam.Scope, events beam.PCollection, opts GameStatsOptions) (teamScores, sessions beam.PCollection) {
	s = s.Scope("CalculateGameStats")
	opts = opts.withDefaults()
	windowMillis := opts.Window.Milliseconds()

	// Each bundle's events are first summed per (user, team) and window
	// (bundle.go): every step below sees those sums, not single events.
	partials := beam.WindowInto(s, window.NewFixedWindows(opts.Window),
		bundleSums(s, beam.ParDo(s, keyByUserTeam, events), windowMillis))
	userTeams := beam.ParDo(s, splitUserTeam, partials)

	// Spammers, as Beam's CalculateSpammyUsers: per user sums, their mean,
	// users above the weighted mean. The window's sums meet under one key.
	userSums := stats.SumPerKey(s, beam.ParDo(s, scoreOfTeamScore, userTeams))
	spammers := beam.ParDo(s, flagSpammers, beam.GroupByKey(s, beam.ParDo(s, underOneKey, userSums)))

	// Team scores without spammers: each user's sums meet the user's
	// spammer flag (if any) in the window, the spammers' are left out, and
	// the rest are summed per team.
	byUser := beam.CoGroupByKey(s, userTeams, spammers)
	kept := beam.ParDo(s, dropSpammerEvents, byUser)
	deltas := beam.ParDo(s, sumPaneDelta, beam.GroupByKey(s, kept))
	teamScores = beam.ParDo(s, toTeamScore, accumulatePanes(s, deltas, opts.Window))

	// Sessions: Beam merges session windows in a GroupByKey; runners that
	// fire merging windows per pane (prism) split sessions, so a stateful
	// DoFn merges them (userSessionsFn) and emits each closed session's
	// length at its end, where the fixed windows of session ends pick it up.
	// Each bundle's events are merged per user first (bundle.go).
	global := beam.WindowInto(s, window.NewGlobalWindows(), events)
	merged := beam.WindowInto(s, window.NewGlobalWindows(),
		beam.ParDo(s, &bundleSessionsFn{GapMillis: opts.SessionGap.Milliseconds()}, global))
	lengths := beam.ParDo(s, newUserSessionsFn(opts.SessionGap), merged)
	ended := beam.WindowInto(s, window.NewFixedWindows(opts.SessionWindow), lengths)
	grouped := beam.GroupByKey(s, beam.ParDo(s, sessionLengthKV, ended))
	sessions = beam.ParDo(s, toSessionStats, accumulatePanes(s, beam.ParDo(s, sumPaneDelta, grouped), opts.SessionWindow))
	return teamScores, sessions
}

// userScore is a user's score: one event's, or a window's sum.
type userScore struct {
	User  string `beam:"user"`
	Score int64  `beam:"score"`
}

// underOneKey puts every user sum of a window under the same key, so that
// one group holds the whole window (all its users, for the mean).
func underOneKey(user string, sum int64) (string, userScore) {
	return "", userScore{User: user, Score: sum}
}

// flagSpammers reads a window's user sums, computes their mean and emits
// each user whose sum exceeds SpamScoreWeight times the mean, keyed by user.
func flagSpammers(ctx context.Context, _ string, sums func(*userScore) bool, emit func(string, bool)) {
	var all []userScore
	var total float64
	var u userScore
	for sums(&u) {
		all = append(all, u)
		total += float64(u.Score)
	}
	if len(all) == 0 {
		return
	}
	mean := total / float64(len(all))
	for _, u := range all {
		if float64(u.Score) > SpamScoreWeight*mean {
			spammerCounter.Inc(ctx, 1)
			emit(u.User, true)
		}
	}
}

// teamScore is a user's sum of scores and events for one team in one
// window, keyed by user.
type teamScore struct {
	Team   string `beam:"team"`
	Score  int64  `beam:"score"`
	Events int64  `beam:"events"`
}

// splitUserTeam turns a (user, team) sum into the user's teamScore.
func splitUserTeam(key string, sc ScoreCount) (string, teamScore) {
	p := splitKey(key)
	return p[0], teamScore{Team: p[1], Score: sc.Score, Events: sc.Events}
}

func scoreOfTeamScore(user string, ts teamScore) (string, int64) { return user, ts.Score }

// dropSpammerEvents passes on a user's sums of one window as (team,
// ScoreCount) unless the user was flagged a spammer in that window. A team
// whose every event was a spammer's gets nothing, so no row, as in Beam,
// where the filter leaves it nothing to sum.
func dropSpammerEvents(_ string, sums func(*teamScore) bool, spam func(*bool) bool, emit func(string, ScoreCount)) {
	var flagged bool
	if spam(&flagged) && flagged {
		return
	}
	var ts teamScore
	for sums(&ts) {
		emit(ts.Team, ScoreCount{Score: ts.Score, Events: ts.Events})
	}
}

// userSessionsFn merges each user's events into sessions exactly as Beam's
// Sessions window function does (an event opens [t, t+gap); overlapping
// windows merge; windows that only touch do not), and emits each session's
// length in milliseconds once the watermark passes its end, timestamped at
// the session's last millisecond: the output timestamp Beam's GameStats
// gives it (TimestampCombiner.END_OF_WINDOW).
//
// State holds the user's open sessions; one event-time timer points at the
// earliest open session's end and holds the output watermark there until
// that session is emitted.
type userSessionsFn struct {
	Open      state.Value[Sessions]
	Close     timers.EventTime
	GapMillis int64
}

func newUserSessionsFn(gap time.Duration) *userSessionsFn {
	return &userSessionsFn{
		Open:      state.MakeValueState[Sessions]("open"),
		Close:     timers.InEventTime("close"),
		GapMillis: gap.Milliseconds(),
	}
}

// ProcessElement merges a bundle's session windows of the user (each event
// opened [t, t+gap), see bundleSessionsFn) into the open sessions.
func (fn *userSessionsFn) ProcessElement(sp state.Provider, tp timers.Provider, user string, merged Sessions, emit func(beam.EventTime, int64)) error {
	open, _, err := fn.Open.Read(sp)
	if err != nil {
		return err
	}
	open.Windows = mergeWindows(append(open.Windows, merged.Windows...))
	if err := fn.Open.Write(sp, open); err != nil {
		return err
	}
	fn.setClose(tp, open.Windows)
	return nil
}

func (fn *userSessionsFn) OnTimer(sp state.Provider, tp timers.Provider, user string, timer timers.Context, emit func(beam.EventTime, int64)) error {
	open, _, err := fn.Open.Read(sp)
	if err != nil || len(open.Windows) == 0 {
		return err
	}
	// The timer was set at the earliest end among the open sessions, and
	// the watermark has reached it: those sessions are closed. (OnTimer's
	// event time is the timer's output timestamp, not its firing time.)
	closed := earliestEnd(open.Windows)
	var still []Interval
	for _, w := range open.Windows {
		if w.End > closed {
			still = append(still, w)
			continue
		}
		emit(mtime.FromMilliseconds(w.End-1), w.End-w.Start)
	}
	if len(still) == 0 {
		return fn.Open.Clear(sp)
	}
	fn.setClose(tp, still)
	return fn.Open.Write(sp, Sessions{Windows: still})
}

func earliestEnd(ws []Interval) int64 {
	return slices.MinFunc(ws, func(a, b Interval) int { return cmp.Compare(a.End, b.End) }).End
}

// setClose points the timer at the end of the earliest-ending open
// session: once the watermark is past the session's last millisecond no
// on-time event can join it. (prism fires a timer when the watermark
// reaches its time, so a timer at the last millisecond could fire while an
// event at that millisecond is still on its way.) The output is held at the
// last millisecond, the timestamp the session is emitted with.
func (fn *userSessionsFn) setClose(tp timers.Provider, open []Interval) {
	end := earliestEnd(open)
	fn.Close.Set(tp, time.UnixMilli(end), timers.WithOutputTimestamp(time.UnixMilli(end-1)))
}

func sessionLengthKV(millis int64) (string, ScoreCount) {
	// All sessions of a window are averaged together: one key.
	return "", ScoreCount{Score: millis, Events: 1}
}

// toSessionStats is the row of one accumulated pane of session lengths
// (Score is the sum of lengths in milliseconds, Events the session count).
func toSessionStats(t paneTotal) schemas.SessionStats {
	row := schemas.SessionStats{
		WindowStart: time.UnixMilli(t.WindowStart).UTC(), WindowEnd: time.UnixMilli(t.WindowEnd).UTC(),
		Sessions: t.Events, Timing: t.Timing, PaneIndex: t.PaneIndex, IsLast: t.IsLast,
		ProcessingTime: time.Now().UTC(),
	}
	if t.Events > 0 {
		row.MeanSessionMinutes = float64(t.Score) / float64(t.Events) / float64(time.Minute.Milliseconds())
	}
	return row
}

func init() {
	beam.RegisterType(reflect.TypeOf((*userScore)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*teamScore)(nil)).Elem())
	register.Function2x2(underOneKey)
	register.Function4x0(flagSpammers)
	register.Iter1[userScore]()
	register.Emitter2[string, bool]()
	register.Function2x2(splitUserTeam)
	register.Function2x2(scoreOfTeamScore)
	register.Function4x0(dropSpammerEvents)
	register.Iter1[teamScore]()
	register.Iter1[bool]()
	register.Emitter2[string, ScoreCount]()
	register.DoFn5x1[state.Provider, timers.Provider, string, Sessions, func(beam.EventTime, int64), error](&userSessionsFn{})
	register.Emitter2[beam.EventTime, int64]()
	register.Function1x2(sessionLengthKV)
	register.Function1x1(toSessionStats)
}
