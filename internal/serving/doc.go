// Package serving is railyard's serving layer: it merges the batch and
// realtime views by the ledger's coverage, keeps the result in memory and
// answers an HTTP API and a leaderboard page from it (`railyard serve`).
//
// # Merge rule
//
// Coverage comes from the ledger. Batch covers event date D (UTC) of a view
// when ops.batch_runs holds a row with that view, partition D and status
// SUCCEEDED; a later FAILED row for the same view and date does not uncover
// it. The views are batch.team_scores_hourly (for team hours) and
// batch.user_scores_daily (for user days); ledger rows of any other view
// are ignored.
//
//   - A covered date is served from the batch table only: every row of
//     batch.team_scores_hourly with DATE(window_start) = D, or of
//     batch.user_scores_daily with day = D. Realtime rows of that date are
//     ignored.
//   - An uncovered date is served from realtime: per speed-job run
//     (run_id; NULL counts as one run), the latest pane of each key and
//     window — the row with the highest pane_index of (run, team,
//     window_start) in realtime.team_scores, of (run, day, user, team) in
//     realtime.user_scores_daily — and those latest panes summed over runs:
//     each run counts the messages it read, and a restarted run numbers its
//     panes from 0 again. Within a run a key's panes accumulate (a later
//     pane has at least the events and the score of every earlier one), so
//     the highest pane's values are the largest: the views take MAX(score)
//     and MAX(events) per (run, key, window), which needs no self-join
//     (rows tied on the highest pane_index carry the same values: a retried
//     write).
//
// So no hour and no day is ever counted from both layers, and a batch run
// landing (its SUCCEEDED ledger row) moves its whole date from realtime to
// batch at once. The views serving.team_scores_hourly and
// serving.user_scores_daily implement the rule in SQL (schemas/catalog,
// created by `railyard catalog apply`), with a source column saying
// "batch" or "realtime"; the server reads them.
//
// # Gaps
//
// A run's reach is the event-time range its input covered: from the start
// of the earliest hour it counted events for, or its first reported
// watermark if that is earlier, to its newest watermark in ops.stream_progress
// — or to the snapshot's time while the run is live (it reported within
// --live_within; the watermark lags the clock by the pipeline's latency,
// which is not a gap). A gap is a part of a requested range, before the
// snapshot's time, that no covered date and no run's reach contains: the
// answer would undercount there, and says so (freshness.gaps) rather than
// silently (the failure of Summingbird's client store when batch falls
// behind the realtime store's retention, twitter/summingbird#71). Gaps of
// team endpoints use the team view's coverage, of user endpoints the user
// view's.
//
// # Snapshot
//
// A background loop reads a Snapshot every --refresh (parameterised
// queries, run in parallel): the two serving views over the last
// --history_days days up to tomorrow, every covered date of the two views,
// and per speed run its progress and first counted hour. Requests are
// answered from the snapshot alone and never wait on BigQuery; answers are
// rendered once per snapshot and request and carry an ETag (304 on
// If-None-Match), Cache-Control max-age equal to the refresh interval, and
// Age. Until the first snapshot has loaded the API answers 503; when a
// refresh fails the last snapshot keeps being served, marked stale, with
// its age and the error.
package serving
