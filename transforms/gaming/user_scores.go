package gaming

import (
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/railyard-dev/railyard/schemas"
)

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

func init() {
	register.Function1x2(keyByDayUserTeam)
	register.Function2x1(toUserScoreDaily)
}
