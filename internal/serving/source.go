package serving

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// Source reads the data of a snapshot of [from, to) as of asOf.
type Source interface {
	Read(ctx context.Context, asOf, from, to time.Time) (Data, error)
}

// BigQuerySource reads the serving views, the ledger and the speed runs'
// progress with parameterised queries, in parallel.
type BigQuerySource struct {
	Client  *bigquery.Client
	Catalog catalog.Catalog
	// LiveWithin: a run whose newest progress report is older than this
	// is not live.
	LiveWithin time.Duration
	// Job is the streaming job whose runs feed the realtime tables
	// (ops.stream_progress.job), "speed".
	Job string
}

// Read runs the snapshot's queries.
func (b *BigQuerySource) Read(ctx context.Context, asOf, from, to time.Time) (Data, error) {
	var (
		d        Data
		progress []progressRow
		firsts   []firstWindowRow
	)
	fromDay, toDay := civil.DateOf(from.UTC()), civil.DateOf(to.UTC())
	if !toDay.In(time.UTC).Equal(to.UTC()) {
		toDay = toDay.AddDays(1)
	}
	// Not errgroup.WithContext: one failed query must not cancel the
	// others. goccy's emulator loses its database connection for good
	// when a query is cancelled in flight (every later call answers 500
	// "sql: connection is already closed"); on BigQuery a cancelled query
	// is only wasted work, and the snapshot fails either way.
	var g errgroup.Group
	g.Go(func() error {
		return query(ctx, b.Client, fmt.Sprintf("SELECT team, window_start, window_end, score, events, source FROM `%s` "+
			"WHERE window_start >= @from AND window_start < @to", b.Catalog.TableID(catalog.ViewServingTeamScoresHourly)),
			&d.TeamHours, param("from", from), param("to", to))
	})
	g.Go(func() error {
		return query(ctx, b.Client, fmt.Sprintf("SELECT day, user, team, score, events, source FROM `%s` "+
			"WHERE day >= @from_day AND day < @to_day", b.Catalog.TableID(catalog.ViewServingUserScoresDaily)),
			&d.UserDays, param("from_day", fromDay), param("to_day", toDay))
	})
	var covered []coverageRow
	g.Go(func() error {
		// Every covered date, not only the loaded range's: batch_through
		// is the latest one. The ledger has one row per view, date and
		// run; a later FAILED row does not uncover a date.
		return query(ctx, b.Client, fmt.Sprintf("SELECT `view` AS view, `partition` AS day FROM `%s` "+
			"WHERE status = @succeeded AND (`view` = @team_view OR `view` = @user_view) GROUP BY `view`, `partition`",
			b.Catalog.TableID(catalog.TableBatchRuns)), &covered,
			param("succeeded", schemas.RunSucceeded), param("team_view", ViewTeamScoresHourly), param("user_view", ViewUserScoresDaily))
	})
	g.Go(func() error {
		return query(ctx, b.Client, fmt.Sprintf("SELECT run_id, MIN(watermark) AS first_watermark, MAX(watermark) AS last_watermark, "+
			"MAX(processing_time) AS last_report FROM `%s` WHERE job = @job AND processing_time >= @from GROUP BY run_id",
			b.Catalog.TableID(catalog.TableStreamProgress)), &progress, param("job", b.Job), param("from", from))
	})
	g.Go(func() error {
		return query(ctx, b.Client, fmt.Sprintf("SELECT IFNULL(run_id, '') AS run_id, MIN(window_start) AS first_window FROM `%s` "+
			"WHERE window_start >= @from AND window_start < @to GROUP BY IFNULL(run_id, '')",
			b.Catalog.TableID(catalog.TableRealtimeTeam)), &firsts, param("from", from), param("to", to))
	})
	if err := g.Wait(); err != nil {
		return Data{}, err
	}
	for _, c := range covered {
		day, err := civil.ParseDate(c.Day)
		if err != nil {
			continue // not a date: no partition of ours
		}
		d.Covered = append(d.Covered, Coverage{View: c.View, Date: day})
	}
	first := map[string]time.Time{}
	for _, f := range firsts {
		first[f.RunID] = f.FirstWindow
	}
	for _, p := range progress {
		d.Runs = append(d.Runs, Run{
			RunID: p.RunID, FirstWatermark: p.FirstWatermark.UTC(), LastWatermark: p.LastWatermark.UTC(),
			LastReport: p.LastReport.UTC(), FirstWindow: first[p.RunID].UTC(),
			Live: asOf.Sub(p.LastReport) <= b.LiveWithin,
		})
	}
	return d, nil
}

type coverageRow struct {
	View string `bigquery:"view"`
	Day  string `bigquery:"day"`
}

type progressRow struct {
	RunID          string    `bigquery:"run_id"`
	FirstWatermark time.Time `bigquery:"first_watermark"`
	LastWatermark  time.Time `bigquery:"last_watermark"`
	LastReport     time.Time `bigquery:"last_report"`
}

type firstWindowRow struct {
	RunID       string    `bigquery:"run_id"`
	FirstWindow time.Time `bigquery:"first_window"`
}

func param(name string, v any) bigquery.QueryParameter {
	return bigquery.QueryParameter{Name: name, Value: v}
}

// query runs a parameterised query and appends its rows to *out.
func query[T any](ctx context.Context, client *bigquery.Client, sql string, out *[]T, params ...bigquery.QueryParameter) error {
	q := client.Query(sql)
	q.Parameters = params
	it, err := q.Read(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	for {
		var row T
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		*out = append(*out, row)
	}
}
