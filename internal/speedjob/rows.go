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
	"github.com/railyard-dev/railyard/transforms/pubsubsource"
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

func (f *teamScoreIDFn) ProcessElement(r schemas.TeamScore) (string, schemas.RealtimeTeamScore) {
	return bqsink.InsertID(f.Table, f.Instance, r.Team, millis(r.WindowStart), millis(r.WindowEnd), strconv.FormatInt(r.PaneIndex, 10)),
		schemas.RealtimeTeamScore{TeamScore: r, RunID: f.Instance}
}

// userScoreIDFn keys a user score firing by its insert ID.
type userScoreIDFn struct {
	Table    string
	Instance string
}

func (f *userScoreIDFn) ProcessElement(r schemas.UserScore) (string, schemas.UserScore) {
	r.RunID = f.Instance
	return bqsink.InsertID(f.Table, f.Instance, r.User, r.Team, strconv.FormatInt(r.PaneIndex, 10)), r
}

// sessionStatsIDFn keys a session-statistics pane by its insert ID.
type sessionStatsIDFn struct {
	Table    string
	Instance string
}

func (f *sessionStatsIDFn) ProcessElement(r schemas.SessionStats) (string, schemas.SessionStats) {
	r.RunID = f.Instance
	return bqsink.InsertID(f.Table, f.Instance, millis(r.WindowStart), millis(r.WindowEnd), strconv.FormatInt(r.PaneIndex, 10)), r
}

// userScoreDailyIDFn keys a pane of a user's day by its insert ID.
type userScoreDailyIDFn struct {
	Table    string
	Instance string
}

func (f *userScoreDailyIDFn) ProcessElement(r schemas.UserScoreDailyPane) (string, schemas.UserScoreDailyPane) {
	r.RunID = f.Instance
	return bqsink.InsertID(f.Table, f.Instance, r.Day.String(), r.User, r.Team, strconv.FormatInt(r.PaneIndex, 10)), r
}

// progressRowFn turns the source's progress reports into
// ops.stream_progress rows, keyed by the report's number: a retried
// bundle reports under the same number.
type progressRowFn struct {
	Table    string
	Job      string
	Instance string
}

func (f *progressRowFn) ProcessElement(p pubsubsource.Progress) (string, schemas.StreamProgress) {
	return bqsink.InsertID(f.Table, f.Instance, strconv.FormatInt(p.Seq, 10)), schemas.StreamProgress{
		Job: f.Job, RunID: f.Instance, ProcessingTime: p.Time, Watermark: p.Watermark, MessagesRead: p.MessagesRead,
	}
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
	register.DoFn1x2[schemas.TeamScore, string, schemas.RealtimeTeamScore](&teamScoreIDFn{})
	register.DoFn1x2[schemas.UserScoreDailyPane, string, schemas.UserScoreDailyPane](&userScoreDailyIDFn{})
	register.DoFn1x2[pubsubsource.Progress, string, schemas.StreamProgress](&progressRowFn{})
	register.DoFn1x2[schemas.UserScore, string, schemas.UserScore](&userScoreIDFn{})
	register.DoFn1x2[schemas.SessionStats, string, schemas.SessionStats](&sessionStatsIDFn{})
	register.Function2x0(countRowsWritten)
}
