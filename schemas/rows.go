package schemas

import (
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
)

// Pane timings, as Beam reports them for a window's firing.
const (
	TimingEarly  = "EARLY"
	TimingOnTime = "ON_TIME"
	TimingLate   = "LATE"
)

// UserScore is a user's accumulated score: in streaming, one row per
// processing-time firing of the global window; in batch, the final total.
// PaneIndex was added after the table existed, hence NULLABLE.
type UserScore struct {
	User           string    `json:"user" beam:"user" bigquery:"user" desc:"Player."`
	Team           string    `json:"team" beam:"team" bigquery:"team" desc:"Team the player scored for."`
	Score          int64     `json:"score" beam:"score" bigquery:"score" desc:"Total score of the player's valid, unique events so far."`
	Events         int64     `json:"events" beam:"events" bigquery:"events" desc:"Number of valid, unique events summed into score."`
	Timing         string    `json:"timing" beam:"timing" bigquery:"timing" desc:"Pane timing of the firing that produced the row: EARLY, ON_TIME or LATE."`
	ProcessingTime time.Time `json:"processing_time" beam:"processing_time" bigquery:"processing_time" desc:"When the row was computed (processing time, UTC)."`
	PaneIndex      int64     `json:"pane_index" beam:"pane_index" bigquery:"pane_index" bqmode:"NULLABLE" desc:"Index of the firing for this user and team within one run of the speed job, 0 for the first; the highest is current."`
	RunID          string    `json:"run_id" beam:"run_id" bigquery:"run_id" bqmode:"NULLABLE" desc:"Speed-job run (job instance) that computed the row; pane_index counts within one run. NULL in rows written before the column existed."`
}

// TeamScore is a team's score in one fixed event-time window, as of one pane
// (firing) of that window. Later panes of the same window supersede earlier
// ones: readers keep the row with the highest pane_index per team and window.
type TeamScore struct {
	Team           string    `json:"team" beam:"team" bigquery:"team" desc:"Team."`
	Score          int64     `json:"score" beam:"score" bigquery:"score" desc:"Total score of the team's valid, unique events in the window (accumulated over panes)."`
	Events         int64     `json:"events" beam:"events" bigquery:"events" desc:"Number of valid, unique events summed into score."`
	WindowStart    time.Time `json:"window_start" beam:"window_start" bigquery:"window_start" desc:"Inclusive start of the event-time window (UTC)."`
	WindowEnd      time.Time `json:"window_end" beam:"window_end" bigquery:"window_end" desc:"Exclusive end of the event-time window (UTC)."`
	Timing         string    `json:"timing" beam:"timing" bigquery:"timing" desc:"Pane timing: EARLY (speculative), ON_TIME (watermark passed the window end) or LATE (late data after ON_TIME)."`
	PaneIndex      int64     `json:"pane_index" beam:"pane_index" bigquery:"pane_index" desc:"Index of the pane within its window, 0 for the first firing."`
	IsLast         bool      `json:"is_last" beam:"is_last" bigquery:"is_last" desc:"True for the final pane of the window; no later row will supersede it."`
	ProcessingTime time.Time `json:"processing_time" beam:"processing_time" bigquery:"processing_time" desc:"When the pane fired (processing time, UTC)."`
}

// DeadLetter is an input that a stage rejected, kept whole with the reason, so
// that nothing is dropped silently and every reject can be replayed.
type DeadLetter struct {
	Time       time.Time `json:"time" beam:"time" bigquery:"time" desc:"When the input was rejected (processing time, UTC)."`
	Pipeline   string    `json:"pipeline" beam:"pipeline" bigquery:"pipeline" desc:"Job or service that rejected it, e.g. batch, speed, ingest."`
	RunID      string    `json:"run_id" beam:"run_id" bigquery:"run_id" desc:"Batch run (as in ops.batch_runs) or streaming job instance that rejected it; a rerun reports its rejects again under its own run_id."`
	Stage      string    `json:"stage" beam:"stage" bigquery:"stage" desc:"Step within the pipeline, e.g. parse, bigquery_write."`
	Reason     string    `json:"reason" beam:"reason" bigquery:"reason" desc:"Stable reason code, e.g. malformed_json, score_out_of_range."`
	Detail     string    `json:"detail" beam:"detail" bigquery:"detail" desc:"Human-readable explanation of the reason."`
	Source     string    `json:"source" beam:"source" bigquery:"source" desc:"Where the input came from: file and line, subscription and message id, or HTTP request."`
	Payload    []byte    `json:"payload" beam:"payload" bigquery:"payload" desc:"The raw input, byte for byte."`
	Attributes string    `json:"attributes" beam:"attributes" bigquery:"attributes" desc:"Message attributes or request metadata as a JSON object; {} when none."`
}

// Batch run statuses recorded in ops.batch_runs.
const (
	RunSucceeded = "SUCCEEDED"
	RunFailed    = "FAILED"
	RunCancelled = "CANCELLED"
)

// BatchRun is one entry of the batch run ledger: which partition of which view
// a run replaced, and the counts it reconciled. The serving layer trusts batch
// rows only for partitions with a SUCCEEDED entry.
type BatchRun struct {
	View        string    `json:"view" beam:"view" bigquery:"view" desc:"Table the run wrote, e.g. batch.team_scores_hourly."`
	Partition   string    `json:"partition" beam:"partition" bigquery:"partition" desc:"Partition the run replaced, as YYYY-MM-DD (event date, UTC)."`
	RunID       string    `json:"run_id" beam:"run_id" bigquery:"run_id" desc:"Identifier shared by all ledger rows of one job run."`
	StartTime   time.Time `json:"start_time" beam:"start_time" bigquery:"start_time" desc:"When the run started (UTC)."`
	EndTime     time.Time `json:"end_time" beam:"end_time" bigquery:"end_time" desc:"When the run finished (UTC)."`
	InputEvents int64     `json:"input_events" beam:"input_events" bigquery:"input_events" desc:"Lines read from the lake for this partition."`
	RowsWritten int64     `json:"rows_written" beam:"rows_written" bigquery:"rows_written" desc:"Rows the run wrote to the view's partition."`
	DeadLetters int64     `json:"dead_letters" beam:"dead_letters" bigquery:"dead_letters" desc:"Inputs the run sent to ops.dead_letters."`
	Status      string    `json:"status" beam:"status" bigquery:"status" desc:"SUCCEEDED, FAILED, or CANCELLED (a scheduled attempt stopped together with its scheduler; it does not count against the job's retries)."`
	// The columns below were added for the scheduler (railyard schedule,
	// railyard backfill) after the table existed, hence NULLABLE; a run
	// started by hand leaves them NULL.
	Job          bigquery.NullString    `json:"job" beam:"job" bigquery:"job" bqmode:"NULLABLE" desc:"Schedule job (schedules/*.yaml) whose attempt this row records; NULL for a run started by hand."`
	Attempt      bigquery.NullInt64     `json:"attempt" beam:"attempt" bigquery:"attempt" bqmode:"NULLABLE" desc:"Attempt number of the scheduled run of this job and partition, 1 for the first try."`
	ScheduledFor bigquery.NullTimestamp `json:"scheduled_for" beam:"scheduled_for" bigquery:"scheduled_for" bqmode:"NULLABLE" desc:"The scheduled time the attempt stands for (UTC): the cron firing for a scheduled run, the time the backfill started for a backfill. A SUCCEEDED row covers every firing of its job and partition up to this time."`
	Runner       bigquery.NullString    `json:"runner" beam:"runner" bigquery:"runner" bqmode:"NULLABLE" desc:"What executed the attempt: the Beam runner (prism, flink, spark, dataflow, …) or bigquery for a scheduled SQL job."`
	Error        bigquery.NullString    `json:"error" beam:"error" bigquery:"error" bqmode:"NULLABLE" desc:"Why a FAILED or CANCELLED attempt failed (the end of its log for a pipeline, timeout, …); NULL when it succeeded."`
}

// JobViewPrefix starts the view column of a ledger row that the scheduler
// writes for an attempt of a pipeline job that recorded no view rows itself
// (it failed to start, crashed or timed out): "job:" + the job's name. It is
// never a table, so such a row never marks a view partition as covered.
const JobViewPrefix = "job:"

// TopTeamDaily is one of the ten best teams of an event date (UTC) by total
// score: the row of serving.top_teams_daily, which the example scheduled SQL
// job (schedules/sql/top_teams_daily.sql) replaces one partition at a time
// from batch.team_scores_hourly.
type TopTeamDaily struct {
	Day    civil.Date `json:"day" beam:"day" bigquery:"day" desc:"Event date (UTC)."`
	Rank   int64      `json:"rank" beam:"rank" bigquery:"rank" desc:"1 for the team with the highest score that day; ties are ordered by team name."`
	Team   string     `json:"team" beam:"team" bigquery:"team" desc:"Team."`
	Score  int64      `json:"score" beam:"score" bigquery:"score" desc:"Total score of the team's valid, unique events that day (sum of batch.team_scores_hourly)."`
	Events int64      `json:"events" beam:"events" bigquery:"events" desc:"Number of valid, unique events summed into score."`
}

// UserScoreDaily is a user's total for one event date (UTC): the row of
// batch.user_scores_daily.
type UserScoreDaily struct {
	Day    civil.Date `json:"day" beam:"day" bigquery:"day" desc:"Event date (UTC)."`
	User   string     `json:"user" beam:"user" bigquery:"user" desc:"Player."`
	Team   string     `json:"team" beam:"team" bigquery:"team" desc:"Team the player scored for."`
	Score  int64      `json:"score" beam:"score" bigquery:"score" desc:"Total score of the player's valid, unique events that day."`
	Events int64      `json:"events" beam:"events" bigquery:"events" desc:"Number of valid, unique events summed into score."`
}

// GameStatsDaily is one team's game statistics for one event date (UTC), in
// the sense of Beam's GameStats example: the row of batch.game_stats_daily.
// Package transforms/gaming states the exact definitions.
type GameStatsDaily struct {
	Day                civil.Date `json:"day" beam:"day" bigquery:"day" desc:"Event date (UTC)."`
	Team               string     `json:"team" beam:"team" bigquery:"team" desc:"Team."`
	Score              int64      `json:"score" beam:"score" bigquery:"score" desc:"Team score that day without the events of spammers: a user's events in an event hour are left out when the user's score in that hour exceeds 2.5 times the mean user score of that hour."`
	Events             int64      `json:"events" beam:"events" bigquery:"events" desc:"Number of valid, unique events summed into score."`
	SpammerUsers       int64      `json:"spammer_users" beam:"spammer_users" bigquery:"spammer_users" desc:"Distinct users of the team flagged as spammers in at least one event hour of the day."`
	Sessions           int64      `json:"sessions" beam:"sessions" bigquery:"sessions" desc:"User sessions (5-minute inactivity gap) of the team's users that started that day."`
	MeanSessionMinutes float64    `json:"mean_session_minutes" beam:"mean_session_minutes" bigquery:"mean_session_minutes" desc:"Mean session length in minutes: from a session's first event to its last event plus the 5-minute gap, as Beam's session windows measure it."`
}

// SessionStats is the mean length of the user sessions that ended in one
// fixed event-time window, as of one pane of that window: Beam's GameStats
// session statistic, the row of realtime.game_stats_sessions. Package
// transforms/gaming states the exact definition.
type SessionStats struct {
	WindowStart        time.Time `json:"window_start" beam:"window_start" bigquery:"window_start" desc:"Inclusive start of the event-time window in which the sessions ended (UTC)."`
	WindowEnd          time.Time `json:"window_end" beam:"window_end" bigquery:"window_end" desc:"Exclusive end of the event-time window (UTC)."`
	Sessions           int64     `json:"sessions" beam:"sessions" bigquery:"sessions" desc:"User sessions (5-minute inactivity gap) whose end falls in the window; a session ends at its last event plus the gap."`
	MeanSessionMinutes float64   `json:"mean_session_minutes" beam:"mean_session_minutes" bigquery:"mean_session_minutes" desc:"Mean session length in minutes: from a session's first event to its last event plus the gap, as Beam's session windows measure it."`
	Timing             string    `json:"timing" beam:"timing" bigquery:"timing" desc:"Pane timing: EARLY, ON_TIME (watermark passed the window end) or LATE."`
	PaneIndex          int64     `json:"pane_index" beam:"pane_index" bigquery:"pane_index" desc:"Index of the pane within its window, 0 for the first firing; the highest is current."`
	IsLast             bool      `json:"is_last" beam:"is_last" bigquery:"is_last" desc:"True for the final pane of the window; no later row will supersede it."`
	ProcessingTime     time.Time `json:"processing_time" beam:"processing_time" bigquery:"processing_time" desc:"When the pane fired (processing time, UTC)."`
	RunID              string    `json:"run_id" beam:"run_id" bigquery:"run_id" bqmode:"NULLABLE" desc:"Speed-job run (job instance) that computed the row; pane_index counts within one run. NULL in rows written before the column existed."`
}

// RealtimeTeamScore is a TeamScore pane as the speed layer stores it, with
// the run that computed it: the row of realtime.team_scores and
// realtime.game_stats_team_scores. Batch rows (batch.team_scores_hourly)
// stay plain TeamScores: a batch row has no run to tell apart.
type RealtimeTeamScore struct {
	TeamScore
	RunID string `json:"run_id" beam:"run_id" bigquery:"run_id" bqmode:"NULLABLE" desc:"Speed-job run (job instance) that computed the row; pane_index counts within one run, so readers keep the highest pane per run and add up the runs. NULL in rows written before the column existed."`
}

// UserScoreDailyPane is a user's score for one event date (UTC), as of one
// pane of that day's window: the row of realtime.user_scores_daily, the
// speed layer's counterpart of batch.user_scores_daily. Panes fire with
// the team-score trigger (gaming.CalculateUserScoresDaily); later panes of
// the same run, day, user and team supersede earlier ones.
type UserScoreDailyPane struct {
	Day            civil.Date `json:"day" beam:"day" bigquery:"day" desc:"Event date (UTC): the one-day event-time window [day, day+1)."`
	User           string     `json:"user" beam:"user" bigquery:"user" desc:"Player."`
	Team           string     `json:"team" beam:"team" bigquery:"team" desc:"Team the player scored for."`
	Score          int64      `json:"score" beam:"score" bigquery:"score" desc:"Total score of the player's valid, unique events that day that this run has seen up to this pane (accumulated over panes)."`
	Events         int64      `json:"events" beam:"events" bigquery:"events" desc:"Number of valid, unique events summed into score."`
	Timing         string     `json:"timing" beam:"timing" bigquery:"timing" desc:"Pane timing: EARLY (speculative), ON_TIME (watermark passed the day's end) or LATE (late data after ON_TIME)."`
	PaneIndex      int64      `json:"pane_index" beam:"pane_index" bigquery:"pane_index" desc:"Index of the pane within its day, user and team in one run, 0 for the first firing; the highest is current."`
	IsLast         bool       `json:"is_last" beam:"is_last" bigquery:"is_last" desc:"True for the final pane of the window; no later row of this run will supersede it."`
	ProcessingTime time.Time  `json:"processing_time" beam:"processing_time" bigquery:"processing_time" desc:"When the pane fired (processing time, UTC)."`
	RunID          string     `json:"run_id" beam:"run_id" bigquery:"run_id" bqmode:"NULLABLE" desc:"Speed-job run (job instance) that computed the row; readers keep the highest pane per run and add up the runs."`
}

// StreamProgress is one progress report of a streaming job: how far its
// input had got at a moment of processing time. The serving layer reads
// them to tell which event-time ranges some run's realtime input reached
// (and which nothing covers: gaps) and whether a run is live.
type StreamProgress struct {
	Job            string    `json:"job" beam:"job" bigquery:"job" desc:"Streaming job that reports, e.g. speed."`
	RunID          string    `json:"run_id" beam:"run_id" bigquery:"run_id" desc:"Run (job instance) that reports, as in the run_id of the realtime rows it writes."`
	ProcessingTime time.Time `json:"processing_time" beam:"processing_time" bigquery:"processing_time" desc:"When the report was made (processing time, UTC)."`
	Watermark      time.Time `json:"watermark" beam:"watermark" bigquery:"watermark" desc:"The input's event-time watermark then, capped at processing_time: the run has read its input up to this event time (data for earlier times that comes later is late). A run reports only once its input has a watermark."`
	MessagesRead   int64     `json:"messages_read" beam:"messages_read" bigquery:"messages_read" desc:"Messages the run had read from its subscription since it started."`
}
