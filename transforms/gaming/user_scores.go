package gaming

import (
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

// DefaultUserScoreDelay is the processing-time period of CalculateUserScores
// when none is given (Beam's LeaderBoard: ten minutes).
const DefaultUserScoreDelay = 10 * time.Minute

// UserScoresDaily computes batch.user_scores_daily: per event date (UTC),
// user and team, the total score and the event count.
func UserScoresDaily(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("UserScoresDaily")
	// One total per day whatever windows the input is in.
	global := beam.WindowInto(s, window.NewGlobalWindows(), events)
	keyed := beam.ParDo(s, keyByDayUserTeam, global)
	sums := beam.CombinePerKey(s, addScoreCounts, keyed)
	return beam.ParDo(s, toUserScoreDaily, sums)
}

func keyByDayUserTeam(e schemas.GameEvent) (string, ScoreCount) {
	day := e.EventTime.UTC().Format(time.DateOnly)
	return joinKey(day, e.User, e.Team), ScoreCount{Score: e.Score, Events: 1}
}

func toUserScoreDaily(key string, sc ScoreCount) schemas.UserScoreDaily {
	parts := splitKey(key)
	day, err := civil.ParseDate(parts[0])
	if err != nil {
		panic("gaming: bad day in key: " + err.Error())
	}
	return schemas.UserScoreDaily{Day: day, User: parts[1], Team: parts[2], Score: sc.Score, Events: sc.Events}
}

// CalculateUserScores is LeaderBoard's CalculateUserScores: each user's
// total score since the job started, in the global window, fired
// repeatedly delay of processing time after the first event of a pane
// (DefaultUserScoreDelay when delay <= 0), with accumulating panes. The
// input is schemas.GameEvent; the output is schemas.UserScore, one row per
// firing per (user, team), each with the total so far and the pane index.
// See the package doc for the exact definition.
func CalculateUserScores(s beam.Scope, events beam.PCollection, delay time.Duration) beam.PCollection {
	s = s.Scope("CalculateUserScores")
	if delay <= 0 {
		delay = DefaultUserScoreDelay
	}
	// Summed per bundle before the shuffle (bundle.go).
	partials := bundleSums(s, beam.ParDo(s, keyByUserTeam, events), 0)
	global := beam.WindowInto(s, window.NewGlobalWindows(), partials,
		beam.Trigger(trigger.Repeat(trigger.AfterProcessingTime().PlusDelay(delay))),
		beam.PanesDiscard(),
	)
	grouped := beam.GroupByKey(s, global)
	// Discarding panes summed in state: see panes.go. The global window
	// never ends, so the totals are kept for the life of the job.
	totals := accumulatePanes(s, beam.ParDo(s, sumPaneDelta, grouped), 0)
	return beam.ParDo(s, toUserScore, totals)
}

func keyByUserTeam(e schemas.GameEvent) (string, ScoreCount) {
	return joinKey(e.User, e.Team), ScoreCount{Score: e.Score, Events: 1}
}

// toUserScore is the row of one accumulated pane, stamped with the time it
// is emitted.
func toUserScore(t paneTotal) schemas.UserScore {
	p := splitKey(t.Key)
	return schemas.UserScore{
		User: p[0], Team: p[1], Score: t.Score, Events: t.Events,
		Timing: t.Timing, PaneIndex: t.PaneIndex, ProcessingTime: time.Now().UTC(),
	}
}

func init() {
	register.Function1x2(keyByDayUserTeam)
	register.Function2x1(toUserScoreDaily)
	register.Function1x2(keyByUserTeam)
	register.Function1x1(toUserScore)
}
