package speedjob

import (
	"context"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/bqsink"
)

// Insert IDs name what a row is — table, job instance, key, window and
// pane index — and nothing that changes when a bundle is retried (never
// processing time), so a retry sends the same IDs. The instance is part of
// the ID because a restarted job numbers the panes of a window from 0
// again: without it BigQuery would drop the new run's rows as repeats of
// the old run's.

// teamScoreIDFn keys a team score pane by its insert ID.
type teamScoreIDFn struct {
	Table    string
	Instance string
}

func (f *teamScoreIDFn) ProcessElement(r schemas.TeamScore) (string, schemas.TeamScore) {
	return bqsink.InsertID(f.Table, f.Instance, r.Team, millis(r.WindowStart), millis(r.WindowEnd), strconv.FormatInt(r.PaneIndex, 10)), r
}

// userScoreIDFn keys a user score firing by its insert ID.
type userScoreIDFn struct {
	Table    string
	Instance string
}

func (f *userScoreIDFn) ProcessElement(r schemas.UserScore) (string, schemas.UserScore) {
	return bqsink.InsertID(f.Table, f.Instance, r.User, r.Team, strconv.FormatInt(r.PaneIndex, 10)), r
}

// sessionStatsIDFn keys a session-statistics pane by its insert ID.
type sessionStatsIDFn struct {
	Table    string
	Instance string
}

func (f *sessionStatsIDFn) ProcessElement(r schemas.SessionStats) (string, schemas.SessionStats) {
	return bqsink.InsertID(f.Table, f.Instance, millis(r.WindowStart), millis(r.WindowEnd), strconv.FormatInt(r.PaneIndex, 10)), r
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Metric names the job adds: rows appended per table, and dead letters
// written.
const (
	metricRowsWrittenPrefix = "rows_written/"
	metricDeadLetters       = bqsink.MetricDeadLettersWritten
)

func countRowsWritten(ctx context.Context, c bqsink.PartitionCount) {
	beam.NewCounter(transforms.MetricsNamespace, metricRowsWrittenPrefix+c.Table).Inc(ctx, c.Rows)
}

func init() {
	register.DoFn1x2[schemas.TeamScore, string, schemas.TeamScore](&teamScoreIDFn{})
	register.DoFn1x2[schemas.UserScore, string, schemas.UserScore](&userScoreIDFn{})
	register.DoFn1x2[schemas.SessionStats, string, schemas.SessionStats](&sessionStatsIDFn{})
	register.Function2x0(countRowsWritten)
}
