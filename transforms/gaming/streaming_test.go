package gaming

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"
	"github.com/railyard-dev/railyard/schemas"
)

// The streaming tests drive the views with TestStream on prism: element
// timestamps are event times, the watermark and the processing-time clock
// move only when the stream says so. They use the default options, so the
// triggers under test are exactly the production ones (5 min early delay,
// 10 min late delay, 2 h allowed lateness, 1 h windows).
//
// After each processing-time step the streams move the watermark on a
// little (still before the window's end): prism runs a stateful stage
// (accumulatePanesFn) only when its input watermark moves, and panes that
// wait for it together have the same timestamp and may be handed over in
// either order. Moving the watermark makes each pane reach it on its own,
// so the pane sequence a test expects is deterministic.

func init() {
	register.Function1x1(teamPaneString)
	register.Function1x1(userPaneString)
	register.Function1x1(sessionPaneString)
	register.Function1x1(isOnTime)
	register.Function1x1(asBatchRow)
}

func minutes(n int) int64 { return (time.Duration(n) * time.Minute).Milliseconds() }

// teamPaneString is what the tests compare of a TeamScore pane: every
// field but the processing time, which must be set.
func teamPaneString(r schemas.TeamScore) string {
	s := fmt.Sprintf("%s %s-%s score=%d events=%d %s #%d last=%v", r.Team,
		r.WindowStart.Format("01-02T15:04"), r.WindowEnd.Format("15:04"), r.Score, r.Events, r.Timing, r.PaneIndex, r.IsLast)
	if r.ProcessingTime.IsZero() {
		s += " NO PROCESSING TIME"
	}
	return s
}

func userPaneString(r schemas.UserScore) string {
	s := fmt.Sprintf("%s/%s score=%d events=%d %s #%d", r.User, r.Team, r.Score, r.Events, r.Timing, r.PaneIndex)
	if r.ProcessingTime.IsZero() {
		s += " NO PROCESSING TIME"
	}
	return s
}

func sessionPaneString(r schemas.SessionStats) string {
	s := fmt.Sprintf("%s-%s sessions=%d mean=%.4f %s #%d last=%v",
		r.WindowStart.Format("01-02T15:04"), r.WindowEnd.Format("15:04"), r.Sessions, r.MeanSessionMinutes, r.Timing, r.PaneIndex, r.IsLast)
	if r.ProcessingTime.IsZero() {
		s += " NO PROCESSING TIME"
	}
	return s
}

// teamPanes runs CalculateTeamScores (default options) over the stream
// and asserts its panes.
func teamPanes(t *testing.T, c teststream.Config, want ...any) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	scores := CalculateTeamScores(s, teststream.Create(s, c), TeamScoreOptions{})
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, teamPaneString, scores)), want...)
	ptest.RunAndValidate(t, p)
}

func mustAdd(c *teststream.Config, e schemas.GameEvent) {
	if err := c.AddElements(e.EventTime.UnixMilli(), e); err != nil {
		panic(err)
	}
}

func mustWatermark(c *teststream.Config, clock string) {
	if err := c.AdvanceWatermark(at(clock).UnixMilli()); err != nil {
		panic(err)
	}
}

// Case 1, on time: every event arrives before the watermark passes the end
// of the window; one ON_TIME pane. With allowed lateness it is not the
// last pane a window could have, and none follows when nothing more
// arrives (the window expiring fires nothing new).
func TestTeamScoresOnTime(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	mustAdd(&c, ev("b1", "b", "red", 7, "2026-11-01T10:20:00Z"))
	mustAdd(&c, ev("c1", "c", "blue", 1, "2026-11-01T10:59:59Z"))
	mustAdd(&c, ev("d1", "d", "blue", 2, "2026-11-01T11:00:00Z")) // next window
	mustWatermark(&c, "2026-11-01T11:00:00Z")
	mustWatermark(&c, "2026-11-01T12:00:00Z")
	c.AdvanceWatermarkToInfinity()
	teamPanes(t, c,
		"red 11-01T10:00-11:00 score=12 events=2 ON_TIME #0 last=false",
		"blue 11-01T10:00-11:00 score=1 events=1 ON_TIME #0 last=false",
		"blue 11-01T11:00-12:00 score=2 events=1 ON_TIME #0 last=false",
	)
}

// Case 2, speculative: EARLY panes EarlyDelay (5 min) of processing time
// after the first event of a pane, accumulating, then the ON_TIME pane
// with the same total when the watermark passes the end.
func TestTeamScoresSpeculative(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	c.AdvanceProcessingTime(minutes(4)) // not yet 5 min: no pane
	mustWatermark(&c, "2026-11-01T10:06:00Z")
	mustAdd(&c, ev("a2", "a", "red", 7, "2026-11-01T10:06:00Z"))
	c.AdvanceProcessingTime(minutes(2)) // 6 min after a1: EARLY #0 with a1 and a2
	mustWatermark(&c, "2026-11-01T10:10:00Z")
	mustAdd(&c, ev("a3", "a", "red", 1, "2026-11-01T10:10:00Z"))
	c.AdvanceProcessingTime(minutes(6)) // EARLY #1 adds a3
	mustWatermark(&c, "2026-11-01T10:20:00Z")
	mustWatermark(&c, "2026-11-01T11:00:00Z") // ON_TIME #2, nothing new
	c.AdvanceWatermarkToInfinity()
	teamPanes(t, c,
		"red 11-01T10:00-11:00 score=12 events=2 EARLY #0 last=false",
		"red 11-01T10:00-11:00 score=13 events=3 EARLY #1 last=false",
		"red 11-01T10:00-11:00 score=13 events=3 ON_TIME #2 last=false",
	)
}

// Case 3, late but before the window ends: an event behind the watermark
// whose window has not ended yet is on time for that window.
func TestTeamScoresBehindWatermarkBeforeWindowEnd(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:40:00Z"))
	mustWatermark(&c, "2026-11-01T10:50:00Z")
	mustAdd(&c, ev("b1", "b", "red", 7, "2026-11-01T10:10:00Z")) // 40 min behind the watermark
	mustWatermark(&c, "2026-11-01T11:00:00Z")
	c.AdvanceWatermarkToInfinity()
	teamPanes(t, c, "red 11-01T10:00-11:00 score=12 events=2 ON_TIME #0 last=false")
}

// Case 4, observably late: after the ON_TIME pane, events within the
// allowed lateness fire a LATE pane LateDelay (10 min) of processing time
// after the first late event, with the accumulated total.
func TestTeamScoresObservablyLate(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	mustWatermark(&c, "2026-11-01T11:00:00Z") // ON_TIME #0
	mustAdd(&c, ev("l1", "l", "red", 100, "2026-11-01T10:30:00Z"))
	c.AdvanceProcessingTime(minutes(6)) // past the early delay, not the late one: no pane
	mustWatermark(&c, "2026-11-01T11:10:00Z")
	mustAdd(&c, ev("l2", "l", "red", 1000, "2026-11-01T10:40:00Z"))
	c.AdvanceProcessingTime(minutes(5)) // 11 min after l1: LATE #1 with l1 and l2
	mustWatermark(&c, "2026-11-01T11:20:00Z")
	mustAdd(&c, ev("l3", "l", "red", 1, "2026-11-01T10:50:00Z"))
	c.AdvanceProcessingTime(minutes(11)) // LATE #2
	mustWatermark(&c, "2026-11-01T12:00:00Z")
	c.AdvanceWatermarkToInfinity()
	teamPanes(t, c,
		"red 11-01T10:00-11:00 score=5 events=1 ON_TIME #0 last=false",
		"red 11-01T10:00-11:00 score=1105 events=3 LATE #1 last=false",
		"red 11-01T10:00-11:00 score=1106 events=4 LATE #2 last=false",
	)
}

// A late event still waiting for its LATE pane when the window expires
// fires it then, as the window's final pane.
func TestTeamScoresLateAtExpiry(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	mustWatermark(&c, "2026-11-01T12:50:00Z") // ON_TIME #0
	mustAdd(&c, ev("l1", "l", "red", 100, "2026-11-01T10:30:00Z"))
	mustWatermark(&c, "2026-11-01T13:01:00Z") // expiry (end + 2 h) before the late delay
	c.AdvanceWatermarkToInfinity()
	teamPanes(t, c,
		"red 11-01T10:00-11:00 score=5 events=1 ON_TIME #0 last=false",
		"red 11-01T10:00-11:00 score=105 events=2 LATE #1 last=true",
	)
}

// Case 5, droppably late: an event that arrives after the watermark passed
// the window's end plus the allowed lateness changes nothing.
func TestTeamScoresDroppablyLate(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	mustWatermark(&c, "2026-11-01T11:00:00Z") // ON_TIME #0
	mustWatermark(&c, "2026-11-01T13:00:01Z") // the window expired at 12:59:59.999
	mustAdd(&c, ev("x1", "x", "red", 100, "2026-11-01T10:30:00Z"))
	c.AdvanceProcessingTime(minutes(11))
	mustWatermark(&c, "2026-11-01T14:00:00Z")
	mustAdd(&c, ev("b1", "b", "red", 3, "2026-11-01T14:10:00Z")) // the stream goes on
	c.AdvanceWatermarkToInfinity()
	teamPanes(t, c,
		"red 11-01T10:00-11:00 score=5 events=1 ON_TIME #0 last=false",
		"red 11-01T14:00-15:00 score=3 events=1 ON_TIME #0 last=false",
	)
}

func isOnTime(r schemas.TeamScore) bool { return r.Timing == schemas.TimingOnTime }

// asBatchRow is a streaming ON_TIME pane as the batch view writes it:
// batch stamps processing_time with the window end (reruns write identical
// rows) and marks its rows last (nothing supersedes them).
func asBatchRow(r schemas.TeamScore) schemas.TeamScore {
	r.ProcessingTime = r.WindowEnd
	r.IsLast = true
	return r
}

// TestTeamScoresStreamingOnTimeEqualsBatch feeds the same fixture through
// the streaming and the batch path: the ON_TIME panes are the batch rows.
func TestTeamScoresStreamingOnTimeEqualsBatch(t *testing.T) {
	c := teststream.NewConfig()
	for _, e := range fixture() {
		mustAdd(&c, e)
	}
	c.AdvanceWatermarkToInfinity()
	p, s := beam.NewPipelineWithRoot()
	events := teststream.Create(s, c)
	streaming := CalculateTeamScores(s, events, TeamScoreOptions{})
	onTime := beam.ParDo(s, asBatchRow, filter.Include(s, streaming, isOnTime))
	batch := CalculateTeamScores(s, events, TeamScoreOptions{Batch: true})
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), onTime), beam.WindowInto(s, window.NewGlobalWindows(), batch))
	passert.Count(s, beam.WindowInto(s, window.NewGlobalWindows(), streaming), "streaming panes", 6)
	ptest.RunAndValidate(t, p)
}

// TestUserScores: processing-time firings every delay after the first
// event of a pane, accumulating per user, in the global window.
func TestUserScores(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:01:00Z"))
	c.AdvanceProcessingTime(minutes(9)) // not yet 10 min
	mustWatermark(&c, "2026-11-01T10:02:00Z")
	mustAdd(&c, ev("a2", "a", "red", 7, "2026-11-01T10:02:00Z"))
	mustAdd(&c, ev("b1", "b", "blue", 3, "2026-11-01T10:02:00Z"))
	c.AdvanceProcessingTime(minutes(2)) // 11 min after a1: a #0; b waits for its own 10 min
	mustWatermark(&c, "2026-11-01T10:03:00Z")
	c.AdvanceProcessingTime(minutes(9)) // 11 min after b1: b #0
	mustWatermark(&c, "2026-11-01T10:04:00Z")
	mustAdd(&c, ev("a3", "a", "red", 1, "2026-11-01T09:00:00Z")) // event time does not matter
	c.AdvanceProcessingTime(minutes(11))                         // a #1
	mustWatermark(&c, "2026-11-01T10:05:00Z")
	c.AdvanceWatermarkToInfinity()
	p, s := beam.NewPipelineWithRoot()
	users := CalculateUserScores(s, teststream.Create(s, c), 0)
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, userPaneString, users)),
		"a/red score=12 events=2 EARLY #0",
		"b/blue score=3 events=1 EARLY #0",
		"a/red score=13 events=3 EARLY #1",
	)
	ptest.RunAndValidate(t, p)
}

// gameStatsStream is the fixture in event-time order with the watermark
// following it hour by hour, so windows fire one after the other and the
// spammer side inputs are read while the stream goes on.
func gameStatsStream() teststream.Config {
	c := teststream.NewConfig()
	watermark := at("2026-11-01T10:00:00Z")
	mustWatermark(&c, watermark.Format(time.RFC3339))
	for _, e := range fixture() {
		if h := e.EventTime.Truncate(time.Hour); h.After(watermark) {
			watermark = h
			mustWatermark(&c, h.Format(time.RFC3339))
		}
		mustAdd(&c, e)
	}
	c.AdvanceWatermarkToInfinity()
	return c
}

// TestGameStatsStreaming: the fixture's spammer a (hour 10) is left out of
// red's score, p (exactly 2.5 × the mean in hour 11) is not; sessions are
// Beam's, counted in the 30-minute window of their end.
func TestGameStatsStreaming(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	teams, sessions := CalculateGameStats(s, teststream.Create(s, gameStatsStream()), GameStatsOptions{})
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, teamPaneString, teams)),
		"red 11-01T10:00-11:00 score=10 events=1 ON_TIME #0 last=true", // b; a is a spammer
		"blue 11-01T10:00-11:00 score=20 events=2 ON_TIME #0 last=true",
		"red 11-01T11:00-12:00 score=14 events=2 ON_TIME #0 last=true",
		"blue 11-01T11:00-12:00 score=6 events=3 ON_TIME #0 last=true",
		"blue 11-01T23:00-00:00 score=7 events=1 ON_TIME #0 last=true",
		"blue 11-02T00:00-01:00 score=8 events=1 ON_TIME #0 last=true",
	)
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, sessionPaneString, sessions)),
		// a: [10:00, 10:09:59) and [10:10, 10:15): (9.9833 + 5) / 2.
		"11-01T10:00-10:30 sessions=2 mean=7.4917 ON_TIME #0 last=true",
		"11-01T10:30-11:00 sessions=3 mean=5.0000 ON_TIME #0 last=true", // b, c, d
		"11-01T11:00-11:30 sessions=5 mean=5.0000 ON_TIME #0 last=true", // p, q, r, s, t
		"11-02T00:00-00:30 sessions=1 mean=8.0000 ON_TIME #0 last=true", // z: [23:58, 00:06)
	)
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	counters := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		counters[c.Key.Name] += c.Committed
	}
	if counters[MetricSpammers] != 1 {
		t.Fatalf("%s = %d; want 1 (user a in hour 10)", MetricSpammers, counters[MetricSpammers])
	}
}

func init() {
	register.Function1x2(dayTeamOfPane)
	register.Function1x2(dayTeamOfDaily)
	register.Function2x1(formatDayTeam)
	register.Function1x1(sessionCountAndMinutes)
}

func dayTeamOfPane(r schemas.TeamScore) (string, ScoreCount) {
	return r.WindowStart.Format(time.DateOnly) + " " + r.Team, ScoreCount{Score: r.Score, Events: r.Events}
}

func dayTeamOfDaily(r schemas.GameStatsDaily) (string, ScoreCount) {
	return r.Day.String() + " " + r.Team, ScoreCount{Score: r.Score, Events: r.Events}
}

func formatDayTeam(k string, sc ScoreCount) string {
	return fmt.Sprintf("%s score=%d events=%d", k, sc.Score, sc.Events)
}

func sessionCountAndMinutes(r schemas.SessionStats) ScoreCount {
	// Session count and total length in seconds (an integer for the fixture).
	return ScoreCount{Events: r.Sessions, Score: int64(r.MeanSessionMinutes*float64(r.Sessions)*60 + 0.5)}
}

// TestGameStatsStreamingMatchesBatch checks how the streaming game stats
// relate to batch.game_stats_daily on the same events: a day's ON_TIME team
// panes (windows of one hour, as SpamWindow) add up to the batch row's score
// and events, and, with every user in one team and no session cut by the
// run's end, the sessions are the same ones (count and total length).
func TestGameStatsStreamingMatchesBatch(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	events := teststream.Create(s, gameStatsStream())
	teams, sessions := CalculateGameStats(s, events, GameStatsOptions{})
	daily := GameStatsDaily(s, events)
	streamDays := beam.CombinePerKey(s, addScoreCounts, beam.ParDo(s, dayTeamOfPane, beam.WindowInto(s, window.NewGlobalWindows(), teams)))
	batchDays := beam.CombinePerKey(s, addScoreCounts, beam.ParDo(s, dayTeamOfDaily, daily))
	passert.Equals(s, beam.ParDo(s, formatDayTeam, streamDays), beam.ParDo(s, formatDayTeam, batchDays))
	passert.Equals(s, beam.ParDo(s, formatDayTeam, streamDays),
		"2026-11-01 red score=24 events=3", "2026-11-01 blue score=33 events=6", "2026-11-02 blue score=8 events=1")
	// 11 sessions: a's of 599 s and 300 s, eight more of 300 s, z's of 480 s.
	total := beam.Combine(s, addScoreCounts, beam.ParDo(s, sessionCountAndMinutes, beam.WindowInto(s, window.NewGlobalWindows(), sessions)))
	passert.Equals(s, total, ScoreCount{Events: 11, Score: 599 + 300 + 8*300 + 480})
	ptest.RunAndValidate(t, p)
}

// TestTeamScoresEarlyFiringAfterIdle pins a prism deviation the package doc
// lists: after a firing, prism computes the next AfterProcessingTime firing
// from that firing rather than from the next pane's first event, so an
// event arriving more than EarlyDelay later fires an EARLY pane at once.
// Beam would wait 5 min after a3 (and a4 would join that pane): EARLY #0
// (5), then ON_TIME #1 (16). The current row is right either way.
func TestTeamScoresEarlyFiringAfterIdle(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:05:00Z"))
	c.AdvanceProcessingTime(minutes(6)) // EARLY #0
	mustWatermark(&c, "2026-11-01T10:06:00Z")
	c.AdvanceProcessingTime(minutes(14)) // idle for 14 min
	mustWatermark(&c, "2026-11-01T10:07:00Z")
	mustAdd(&c, ev("a3", "a", "red", 1, "2026-11-01T10:10:00Z")) // prism fires EARLY #1 at once
	mustWatermark(&c, "2026-11-01T10:08:00Z")
	mustAdd(&c, ev("a4", "a", "red", 10, "2026-11-01T10:10:00Z"))
	mustWatermark(&c, "2026-11-01T11:00:00Z")
	c.AdvanceWatermarkToInfinity()
	teamPanes(t, c,
		"red 11-01T10:00-11:00 score=5 events=1 EARLY #0 last=false",
		"red 11-01T10:00-11:00 score=6 events=2 EARLY #1 last=false",
		"red 11-01T10:00-11:00 score=16 events=3 ON_TIME #2 last=false",
	)
}

// TestGameStatsSessionAcrossWatermark: a session whose first window's end
// the watermark passes while the session is still open (a2 had already
// extended it) is one session, as Beam merges it. prism's own session
// windows split it in two here (see the package doc).
func TestGameStatsSessionAcrossWatermark(t *testing.T) {
	c := teststream.NewConfig()
	mustWatermark(&c, "2026-11-01T10:00:00Z")
	mustAdd(&c, ev("a1", "a", "red", 5, "2026-11-01T10:00:00Z"))
	mustAdd(&c, ev("a2", "a", "red", 5, "2026-11-01T10:04:00Z"))
	mustAdd(&c, ev("b1", "b", "red", 5, "2026-11-01T10:00:00Z"))
	mustWatermark(&c, "2026-11-01T10:05:30Z")                    // past [10:00, 10:05), before a's end 10:09
	mustAdd(&c, ev("b2", "b", "red", 5, "2026-11-01T10:05:30Z")) // b's first session closed: a new one
	mustWatermark(&c, "2026-11-01T10:08:00Z")
	mustAdd(&c, ev("a3", "a", "red", 5, "2026-11-01T10:08:59Z")) // extends a's session to 10:13:59
	mustWatermark(&c, "2026-11-01T11:00:00Z")
	c.AdvanceWatermarkToInfinity()
	p, s := beam.NewPipelineWithRoot()
	_, sessions := CalculateGameStats(s, teststream.Create(s, c), GameStatsOptions{})
	// a: [10:00, 10:13:59) 13.9833 min; b: [10:00, 10:05) and [10:05:30, 10:10:30), 5 min each.
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), beam.ParDo(s, sessionPaneString, sessions)),
		"11-01T10:00-10:30 sessions=3 mean=7.9944 ON_TIME #0 last=true")
	ptest.RunAndValidate(t, p)
}
