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
				Description:  "Per team and one-hour event-time window: every pane (EARLY, ON_TIME, LATE) the speed layer fired; the row with the highest pane_index per team and window is current.",
				RowType:      typeOf[schemas.TeamScore](),
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
				Description:  "Per team and one-hour event-time window: Beam's GameStats team score, without the events of users whose score in the window exceeds 2.5 times the window's mean user score. Fired once, when the watermark passes the window's end (the highest pane_index per team and window is current); the ON_TIME rows of a day add up to batch.game_stats_daily's score and events.",
				RowType:      typeOf[schemas.TeamScore](),
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
