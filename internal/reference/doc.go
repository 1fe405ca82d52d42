// Package reference computes railyard's batch views from the lake with plain
// Go: one process, one pass over the input, maps. It is the independent
// implementation that the Beam batch pipeline is tested against and the
// baseline of the benchmark, so it favours obviously-correct code over
// cleverness, and is still fast enough to run on millions of events.
//
// # What Compute does
//
// Compute(ctx, root, from, to, now) reads every file of the lake under root
// (a local directory, or gs://bucket/prefix through Beam's filesystem package,
// which honours STORAGE_EMULATOR_HOST) whose partition date lies in
// [from, to]: "<root>/game_events/dt=YYYY-MM-DD/hr=*/*". File names starting
// with "." or "_" are skipped (the lake writer's temporary files); "*.gz" files
// are gunzipped, other files are read as plain lines. Files are streamed line
// by line, never loaded whole.
//
// Each line is then, in this order:
//
//  1. Blank lines (nothing between two line endings) are skipped and only
//     counted (Counts.BlankLines); they are not inputs.
//  2. Decoded with schemas.DecodeLine(line, now). A failure is an invalid
//     line, counted per schemas.Reason.
//  3. Deduplicated by event_id over all valid events read. Copies of an id are
//     usually identical; when they differ, the copy whose MarshalLine() is
//     lexicographically smallest (bytes.Compare) is kept, whatever the reading
//     order, so the result is deterministic.
//  4. Kept if its event date (UTC) lies in [from, to]; otherwise it is dropped
//     and counted as outside_partition (the batch pipeline dead-letters it
//     with that reason). The range check comes after deduplication, so an
//     event id is either in range or outside it, never both.
//
// The views are computed from the kept events exactly as package
// transforms/gaming defines them: batch.user_scores_daily,
// batch.team_scores_hourly (final ON_TIME pane: pane_index 0, is_last true,
// processing_time = window_end) and batch.game_stats_daily (spammers per
// event hour, sessions with a 5-minute gap, mean session minutes). Details
// that the definitions leave to the implementation:
//
//   - Spammer test in exact integer arithmetic: with S the sum of the hour's
//     user scores and N the number of users with an event in that hour, u is
//     a spammer when 2·s(u,W)·N > 5·S (128-bit products, no rounding), which is
//     s(u,W) > 2.5 × S/N. Exactly 2.5 × the mean is not a spammer.
//   - Sessions are per (team, user) over event times with nanosecond
//     precision; an event exactly 5 minutes after the previous one starts a
//     new session. A session's length is (last − first + 5 min) in minutes.
//   - mean_session_minutes = float64(Σ lengths in ns) / float64(sessions) /
//     6e10, the sum taken exactly (128 bits). A (day, team) with events but
//     no session starting that day (all its events continue sessions that
//     started the day before) has sessions 0 and mean_session_minutes 0.
//
// # Counts
//
// Result.Counts reconcile, and Counts.Check verifies it:
//
//	read       = valid + invalid                 (blank lines are not read lines)
//	invalid    = Σ invalid_by_reason
//	valid      = unique + duplicates
//	unique     = events + outside_partition      (events: the views' input)
//	dead letters = invalid + outside_partition
//
// ConflictingIDs counts the event ids whose copies were not all identical.
//
// # Output
//
// Rows are sorted: user_scores_daily by (day, user, team), team_scores_hourly
// by (window_start, team), game_stats_daily by (day, team); strings compare
// bytewise. Equal inputs give equal results whatever the file order and
// worker count.
//
// # Speed
//
// Options.Workers (default GOMAXPROCS) files are read and decoded
// concurrently; a single goroutine deduplicates and aggregates, so the
// result does not depend on the worker count. Workers = 1 reads everything
// on the calling goroutine. Memory grows with the number of unique events
// (their ids and a 40-byte record each, user/team/platform names interned),
// not with the input size.
//
// Event times are kept as int64 nanoseconds since 1970, which covers the
// accepted range (2000-01-01 to now + 1 h) up to the year 2262.
package reference
