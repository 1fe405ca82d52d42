package gaming

import (
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

// ScoreCount is a partial sum of scores and the number of events in it.
type ScoreCount struct {
	Score  int64 `beam:"score"`
	Events int64 `beam:"events"`
}

func addScoreCounts(a, b ScoreCount) ScoreCount {
	return ScoreCount{Score: a.Score + b.Score, Events: a.Events + b.Events}
}

func init() {
	beam.RegisterType(reflect.TypeOf((*ScoreCount)(nil)).Elem())
	register.Function2x1(addScoreCounts)
}
