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
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
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
	// MetricSpamUnchecked counts the (user, window) pairs that could not be
	// checked because the window's mean was missing from the side input;
	// they count as non-spammers. It stays 0 unless a runner hands over a
	// window's side input before it is complete.
	MetricSpamUnchecked = "game_stats_spam_unchecked"
)

var (
	spammerCounter   = beam.NewCounter(transforms.MetricsNamespace, MetricSpammers)
	uncheckedCounter = beam.NewCounter(transforms.MetricsNamespace, MetricSpamUnchecked)
)

// CalculateGameStats is Beam's GameStats in streaming. The input is
// schemas.GameEvent timestamped by event time (transforms.WithEventTime).
// It returns
//
//   - teamScores: schemas.TeamScore per team and fixed window (opts.Window)
//     without the events of the window's spammers, a user whose score in the
//     window exceeds SpamScoreWeight times the window's mean user score,
//     found with the mean as a side input as in Beam;
//   - sessions: schemas.SessionStats per fixed window (opts.SessionWindow)
//     of session ends: the number and mean length of the user sessions
//     (gap opts.SessionGap) that ended in it.
//
// Both fire once, when the watermark passes the window's end (Beam's
// default trigger, no allowed lateness). The package doc states the exact
// definitions and how they relate to batch.game_stats_daily.
func CalculateGameStats(s beam.Scope, events beam.PCollection, opts GameStatsOptions) (teamScores, sessions beam.PCollection) {
	s = s.Scope("CalculateGameStats")
	opts = opts.withDefaults()
	windowed := beam.WindowInto(s, window.NewFixedWindows(opts.Window), events)

	// Spammers, as Beam's CalculateSpammyUsers: per user sums, their mean as
	// a side input, users above the weighted mean.
	userSums := stats.SumPerKey(s, beam.ParDo(s, userAndScore, windowed))
	mean := stats.Mean(s, beam.DropKey(s, userSums))
	spammers := beam.ParDo(s, flagSpammer, userSums, beam.SideInput{Input: mean})

	// Team scores without spammers. Beam filters the events with the side
	// input and then sums per team; grouping first and filtering after the
	// GroupByKey gives the same sums and reads the side input only once the
	// window has ended, when it is complete (prism hands a window's side
	// input to a bundle only after the watermark passed the window's end).
	byTeam := beam.GroupByKey(s, beam.ParDo(s, teamAndUserScore, windowed))
	deltas := beam.ParDo(s, teamPaneWithoutSpammers, byTeam, beam.SideInput{Input: spammers})
	teamScores = beam.ParDo(s, toTeamScore, accumulatePanes(s, deltas, opts.Window))

	// Sessions: Beam merges session windows in a GroupByKey; runners that
	// fire merging windows per pane (prism) split sessions, so a stateful
	// DoFn merges them (userSessionsFn) and emits each closed session's
	// length at its end, where the fixed windows of session ends pick it up.
	users := beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, userAndScore, events))
	lengths := beam.ParDo(s, newUserSessionsFn(opts.SessionGap), users)
	ended := beam.WindowInto(s, window.NewFixedWindows(opts.SessionWindow), lengths)
	grouped := beam.GroupByKey(s, beam.ParDo(s, sessionLengthKV, ended))
	sessions = beam.ParDo(s, toSessionStats, accumulatePanes(s, beam.ParDo(s, sumPaneDelta, grouped), opts.SessionWindow))
	return teamScores, sessions
}

func userAndScore(e schemas.GameEvent) (string, int64) { return e.User, e.Score }

// flagSpammer emits user when its score in the window exceeds
// SpamScoreWeight times the window's mean user score. The mean is read as an
// iterable: a window without one (which the pipeline never produces) is
// counted as unchecked rather than failing the job.
func flagSpammer(ctx context.Context, user string, score int64, mean func(*float64) bool, emit func(string)) {
	var m float64
	if !mean(&m) {
		uncheckedCounter.Inc(ctx, 1)
		return
	}
	if float64(score) > SpamScoreWeight*m {
		spammerCounter.Inc(ctx, 1)
		emit(user)
	}
}

// userScore is one event's user and score, grouped by team.
type userScore struct {
	User  string `beam:"user"`
	Score int64  `beam:"score"`
}

func teamAndUserScore(e schemas.GameEvent) (string, userScore) {
	return e.Team, userScore{User: e.User, Score: e.Score}
}

// teamPaneWithoutSpammers sums a team's events in one pane, leaving out
// the window's spammers. A team whose every event was a spammer's has no
// row, as in Beam, where the filter leaves it nothing to sum.
func teamPaneWithoutSpammers(pane typex.PaneInfo, w typex.Window, team string, values func(*userScore) bool, spammers func(*string) bool, emit func(string, paneDelta)) {
	spam := map[string]bool{}
	var u string
	for spammers(&u) {
		spam[u] = true
	}
	var total ScoreCount
	var v userScore
	for values(&v) {
		if !spam[v.User] {
			total = addScoreCounts(total, ScoreCount{Score: v.Score, Events: 1})
		}
	}
	if total.Events > 0 {
		emit(newPaneDelta(pane, w, team, total))
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

func (fn *userSessionsFn) ProcessElement(ts beam.EventTime, sp state.Provider, tp timers.Provider, user string, _ int64, emit func(beam.EventTime, int64)) error {
	open, _, err := fn.Open.Read(sp)
	if err != nil {
		return err
	}
	t := ts.Milliseconds()
	open.Windows = mergeWindows(append(open.Windows, Interval{Start: t, End: t + fn.GapMillis}))
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
	register.Function1x2(userAndScore)
	register.Function5x0(flagSpammer)
	register.Iter1[float64]()
	register.Iter1[string]()
	register.Emitter1[string]()
	beam.RegisterType(reflect.TypeOf((*userScore)(nil)).Elem())
	register.Function1x2(teamAndUserScore)
	register.Function6x0(teamPaneWithoutSpammers)
	register.Iter1[userScore]()
	register.Emitter2[string, paneDelta]()
	register.DoFn6x1[beam.EventTime, state.Provider, timers.Provider, string, int64, func(beam.EventTime, int64), error](&userSessionsFn{})
	register.Emitter2[beam.EventTime, int64]()
	register.Function1x2(sessionLengthKV)
	register.Function1x1(toSessionStats)
}
