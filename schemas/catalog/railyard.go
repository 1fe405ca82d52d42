package catalog

import (
	"reflect"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/railyard-dev/railyard/schemas"
)

// Owners named in the catalog: who to ask about a dataset.
const (
	OwnerData     = "data-platform@railyard.dev"
	OwnerAnalysis = "game-analytics@railyard.dev"
)

// Logical dataset names.
const (
	DatasetBatch    = "batch"
	DatasetRealtime = "realtime"
	DatasetServing  = "serving"
	DatasetOps      = "ops"
)

// Table references used across railyard.
const (
	TableTeamScoresHourly = "batch.team_scores_hourly"
	TableUserScoresDaily  = "batch.user_scores_daily"
	TableGameStatsDaily   = "batch.game_stats_daily"
	TableRealtimeTeam     = "realtime.team_scores"
	TableRealtimeUser     = "realtime.user_scores"
	// TableRealtimeGameStatsTeams and TableRealtimeGameStatsSessions are
	// Beam's GameStats in streaming (gaming.CalculateGameStats).
	TableRealtimeGameStatsTeams    = "realtime.game_stats_team_scores"
	TableRealtimeGameStatsSessions = "realtime.game_stats_sessions"
	TableDeadLetters               = "ops.dead_letters"
	TableBatchRuns                 = "ops.batch_runs"
	ViewDeadLetterSummary          = "ops.dead_letter_summary"
	// TableTopTeamsDaily is the destination of the example scheduled SQL
	// job (schedules/railyard.yaml, job top-teams-daily).
	TableTopTeamsDaily = "serving.top_teams_daily"
)

// The serving layer's tables and views (package internal/serving states
// the merge rule the views implement).
const (
	// TableRealtimeUserDaily is the speed layer's per-day user view
	// (gaming.CalculateUserScoresDaily).
	TableRealtimeUserDaily = "realtime.user_scores_daily"
	// TableStreamProgress holds the streaming jobs' progress reports.
	TableStreamProgress = "ops.stream_progress"
	// ViewServingTeamScoresHourly and ViewServingUserScoresDaily merge batch
	// and realtime by the ledger's coverage.
	ViewServingTeamScoresHourly = "serving.team_scores_hourly"
	ViewServingUserScoresDaily  = "serving.user_scores_daily"
)

// LakeGameEvents is the lake dataset of raw game events.
const LakeGameEvents = "game_events"

func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

// Default returns railyard's catalog with no dataset prefix.
func Default() Catalog {
	return Catalog{
		Datasets: []Dataset{
			{Name: DatasetBatch, Layer: LayerBatch, Owner: OwnerData,
				Description: "Authoritative views recomputed from the lake by the batch layer; each partition is replaced whole by a batch run recorded in ops.batch_runs."},
			{Name: DatasetRealtime, Layer: LayerRealtime, Owner: OwnerData,
				Description: "Views kept fresh from Pub/Sub by the speed layer, one row per pane; they cover only what batch has not yet covered."},
			{Name: DatasetServing, Layer: LayerServing, Owner: OwnerAnalysis,
				Description: "Views that merge batch rows for partitions the ledger covers with the latest realtime panes after them."},
			{Name: DatasetOps, Layer: LayerOps, Owner: OwnerData,
				Description: "Operational tables: dead letters from every stage and the batch run ledger."},
		},
		Tables: []Table{
			{
				Dataset: DatasetBatch, Name: "team_scores_hourly", Owner: OwnerAnalysis,
				Description:  "Per team and fixed one-hour event-time window (UTC): total score and event count of valid, unique events (Beam's HourlyTeamScore). One ON_TIME, final row per team and window.",
				RowType:      typeOf[schemas.TeamScore](),
				Partitioning: &Partitioning{Field: "window_start", Granularity: bigquery.DayPartitioningType},
				Clustering:   []string{"team"},
			},
			{
				Dataset: DatasetBatch, Name: "user_scores_daily", Owner: OwnerAnalysis,
				Description:  "Per event date (UTC), user and team: total score and event count of valid, unique events (Beam's UserScore, per day).",
				RowType:      typeOf[schemas.UserScoreDaily](),
				Partitioning: &Partitioning{Field: "day", Granularity: bigquery.DayPartitioningType},
				Clustering:   []string{"team", "user"},
			},
			{
				Dataset: DatasetBatch, Name: "game_stats_daily", Owner: OwnerAnalysis,
				Description:  "Per event date (UTC) and team: Beam's GameStats in batch: team score without spammers' events, spammer count, and mean session length with 5-minute-gap sessions.",
				RowType:      typeOf[schemas.GameStatsDaily](),
				Partitioning: &Partitioning{Field: "day", Granularity: bigquery.DayPartitioningType},
				Clustering:   []string{"team"},
			},
			{
				Dataset: DatasetRealtime, Name: "team_scores", Owner: OwnerAnalysis,
				Description:  "Per team and one-hour event-time window: every pane (EARLY, ON_TIME, LATE) the speed layer fired; per run_id, the row with the highest pane_index per team and window is current, and the runs add up.",
				RowType:      typeOf[schemas.RealtimeTeamScore](),
				Partitioning: &Partitioning{Field: "window_start", Granularity: bigquery.DayPartitioningType, Expiration: 30 * 24 * time.Hour},
				Clustering:   []string{"team"},
			},
			{
				Dataset: DatasetRealtime, Name: "user_scores", Owner: OwnerAnalysis,
				Description:  "Per user and team: accumulated score since the speed job started, one row per processing-time firing; the row with the highest pane_index per user and team is current.",
				RowType:      typeOf[schemas.UserScore](),
				Partitioning: &Partitioning{Field: "processing_time", Granularity: bigquery.DayPartitioningType, Expiration: 30 * 24 * time.Hour},
				Clustering:   []string{"team", "user"},
			},
			{
				Dataset: DatasetRealtime, Name: "game_stats_team_scores", Owner: OwnerAnalysis,
				Description:  "Per team and one-hour event-time window: Beam's GameStats team score, without the events of users whose score in the window exceeds 2.5 times the window's mean user score. Fired once, when the watermark passes the window's end (the highest pane_index per run_id, team and window is current); the ON_TIME rows of a day add up to batch.game_stats_daily's score and events.",
				RowType:      typeOf[schemas.RealtimeTeamScore](),
				Partitioning: &Partitioning{Field: "window_start", Granularity: bigquery.DayPartitioningType, Expiration: 30 * 24 * time.Hour},
				Clustering:   []string{"team"},
			},
			{
				Dataset: DatasetRealtime, Name: "game_stats_sessions", Owner: OwnerAnalysis,
				Description:  "Per 30-minute event-time window of session ends: Beam's GameStats mean session length over all users (sessions with a 5-minute gap). Fired once, when the watermark passes the window's end (the highest pane_index per window is current).",
				RowType:      typeOf[schemas.SessionStats](),
				Partitioning: &Partitioning{Field: "window_start", Granularity: bigquery.DayPartitioningType, Expiration: 30 * 24 * time.Hour},
			},
			{
				Dataset: DatasetOps, Name: "dead_letters", Owner: OwnerData,
				Description:  "Every input any stage rejected, with the raw payload, its attributes and a typed reason: nothing is dropped silently.",
				RowType:      typeOf[schemas.DeadLetter](),
				Partitioning: &Partitioning{Field: "time", Granularity: bigquery.DayPartitioningType, Expiration: 90 * 24 * time.Hour},
				Clustering:   []string{"pipeline", "stage", "reason"},
			},
			{
				Dataset: DatasetOps, Name: "batch_runs", Owner: OwnerData,
				Description: "Ledger of batch runs: one row per view and partition a run replaced, with its reconciled counts and status. The scheduler (railyard schedule, railyard backfill) computes from it what is due, missed and retried: every attempt of a scheduled job is recorded here, by the pipeline (one row per view) or by the scheduler (a scheduled SQL job's destination, or job:NAME for a pipeline attempt that recorded nothing itself).",
				RowType:     typeOf[schemas.BatchRun](),
				Clustering:  []string{"view", "partition"},
			},
			{
				Dataset: DatasetServing, Name: "top_teams_daily", Owner: OwnerAnalysis,
				Description:  "Per event date (UTC): the ten teams with the highest total score, from batch.team_scores_hourly. Written by the scheduled SQL job top-teams-daily (schedules/sql/top_teams_daily.sql), which replaces one day's partition per run after the batch job has covered that day.",
				RowType:      typeOf[schemas.TopTeamDaily](),
				Partitioning: &Partitioning{Field: "day", Granularity: bigquery.DayPartitioningType},
				Clustering:   []string{"team"},
			},
			{
				Dataset: DatasetOps, Name: "dead_letter_summary", Owner: OwnerData,
				Description: "Dead letters counted per day, pipeline, stage and reason.",
				ViewQuery: "SELECT DATE(time) AS day, pipeline, stage, reason, COUNT(*) AS dead_letters\n" +
					"FROM `{{dataset \"ops\"}}.dead_letters`\nGROUP BY day, pipeline, stage, reason",
			},
			// The serving layer (internal/serving).
			{
				Dataset: DatasetRealtime, Name: "user_scores_daily", Owner: OwnerAnalysis,
				Description:  "Per event date (UTC), user and team: every pane the speed layer fired for the one-day event-time window, with the team-score trigger and allowed lateness; per run_id, the row with the highest pane_index per day, user and team is current, and the runs add up. The realtime counterpart of batch.user_scores_daily.",
				RowType:      typeOf[schemas.UserScoreDailyPane](),
				Partitioning: &Partitioning{Field: "day", Granularity: bigquery.DayPartitioningType, Expiration: 30 * 24 * time.Hour},
				Clustering:   []string{"team", "user"},
			},
			{
				Dataset: DatasetOps, Name: "stream_progress", Owner: OwnerData,
				Description:  "Progress reports of the streaming jobs, one per run every --progress_interval: the input's watermark and the messages read. The serving layer takes a run's reach (the event-time range its input covered) and liveness from them.",
				RowType:      typeOf[schemas.StreamProgress](),
				Partitioning: &Partitioning{Field: "processing_time", Granularity: bigquery.DayPartitioningType, Expiration: 30 * 24 * time.Hour},
				Clustering:   []string{"job", "run_id"},
			},
			{
				Dataset: DatasetServing, Name: "team_scores_hourly", Owner: OwnerAnalysis,
				Description: "Team scores per UTC hour, batch where batch covers the date (a SUCCEEDED ops.batch_runs row for batch.team_scores_hourly and that date) and realtime elsewhere: per speed-job run the latest pane (highest pane_index) of each team and hour, summed over runs. source says which.",
				ViewQuery:   servingTeamScoresHourlySQL,
			},
			{
				Dataset: DatasetServing, Name: "user_scores_daily", Owner: OwnerAnalysis,
				Description: "User scores per event date (UTC) and team, batch where batch covers the date (a SUCCEEDED ops.batch_runs row for batch.user_scores_daily and that date) and realtime elsewhere: per speed-job run the latest pane (highest pane_index) of each day, user and team, summed over runs. source says which.",
				ViewQuery:   servingUserScoresDailySQL,
			},
		},
		Lakes: []Lake{
			{
				Name: LakeGameEvents, Owner: OwnerData,
				Description:  "Raw game events exactly as accepted by the ingest gateway: immutable, append-only, partitioned by event time (UTC hour). The master dataset.",
				RowType:      typeOf[schemas.GameEvent](),
				Format:       "jsonl.gz",
				PathTemplate: LakeGameEvents + "/dt=YYYY-MM-DD/hr=HH/part-*.jsonl.gz",
			},
		},
	}
}

// The serving views use GROUP BY and semi-joins on the small ledger only:
// goccy's BigQuery emulator evaluates every SQL function through a Go
// callback and joins without indexes, so a self-join of a realtime table
// (to find each key's highest pane) took 100 s over a week of panes, and
// it runs window functions in quadratic time. Within one run the panes of
// a key and window accumulate — a later pane has at least the events and
// the score of every earlier one (scores are not negative) — so the
// highest pane's values are the largest ones: MAX per (run, key, window)
// is the current pane, with no join. Rows tied on the highest pane carry
// the same values (a retried write).
const servingTeamScoresHourlySQL = "WITH current_panes AS (\n" +
	"  SELECT IFNULL(run_id, '') AS run, team, window_start, MAX(window_end) AS window_end, MAX(score) AS score, MAX(events) AS events\n" +
	"  FROM `{{dataset \"realtime\"}}.team_scores`\n" +
	"  GROUP BY IFNULL(run_id, ''), team, window_start\n" +
	")\n" +
	"SELECT team, window_start, window_end, score, events, 'batch' AS source\n" +
	"FROM `{{dataset \"batch\"}}.team_scores_hourly`\n" +
	"WHERE CAST(DATE(window_start) AS STRING) IN (" + coveredDates + ")\n" +
	"UNION ALL\n" +
	"SELECT team, window_start, MAX(window_end) AS window_end, SUM(score) AS score, SUM(events) AS events, 'realtime' AS source\n" +
	"FROM current_panes\n" +
	"WHERE CAST(DATE(window_start) AS STRING) NOT IN (" + coveredDates + ")\n" +
	"GROUP BY team, window_start"

const servingUserScoresDailySQL = "WITH current_panes AS (\n" +
	"  SELECT IFNULL(run_id, '') AS run, day, user, team, MAX(score) AS score, MAX(events) AS events\n" +
	"  FROM `{{dataset \"realtime\"}}.user_scores_daily`\n" +
	"  GROUP BY IFNULL(run_id, ''), day, user, team\n" +
	")\n" +
	"SELECT day, user, team, score, events, 'batch' AS source\n" +
	"FROM `{{dataset \"batch\"}}.user_scores_daily`\n" +
	"WHERE CAST(day AS STRING) IN (" + coveredUserDates + ")\n" +
	"UNION ALL\n" +
	"SELECT day, user, team, SUM(score) AS score, SUM(events) AS events, 'realtime' AS source\n" +
	"FROM current_panes\n" +
	"WHERE CAST(day AS STRING) NOT IN (" + coveredUserDates + ")\n" +
	"GROUP BY day, user, team"

// coveredDates and coveredUserDates are the dates the ledger covers for
// each view (partition is REQUIRED, so NOT IN sees no NULL). A semi-join
// with IN rather than a JOIN: the emulator evaluates the subquery once.
const (
	coveredDates = "SELECT `partition` FROM `{{dataset \"ops\"}}.batch_runs` " +
		"WHERE `view` = 'batch.team_scores_hourly' AND status = 'SUCCEEDED'"
	coveredUserDates = "SELECT `partition` FROM `{{dataset \"ops\"}}.batch_runs` " +
		"WHERE `view` = 'batch.user_scores_daily' AND status = 'SUCCEEDED'"
)
