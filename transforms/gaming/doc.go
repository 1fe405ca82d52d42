// Package gaming holds the views of the mobile-gaming reference domain (the
// scenario of Beam's UserScore, HourlyTeamScore, LeaderBoard and GameStats
// examples) as PTransforms shared by the batch and streaming layers.
//
// Every view takes valid, unique schemas.GameEvent values (after
// transforms.Parse and transforms.Dedupe, or transforms.DedupeStream in
// streaming) whose element timestamps are their event times
// (transforms.WithEventTime). Times are UTC; a "day" is a UTC
// calendar date and an "hour" a UTC-aligned one-hour event-time window
// [h, h+1h).
//
// # Batch views, exact definitions
//
// batch.user_scores_daily (schemas.UserScoreDaily), one row per (day, user,
// team) with at least one event: score = sum of the events' scores, events =
// their count.
//
// batch.team_scores_hourly (schemas.TeamScore), one row per (hour, team) with
// at least one event: score and events as above, window_start = h,
// window_end = h+1h. A batch run is the final ON_TIME pane of each window:
// timing = "ON_TIME", pane_index = 0, is_last = true, and processing_time =
// window_end (the event time at which the ON_TIME pane is due), so that a
// rerun writes identical rows.
//
// batch.game_stats_daily (schemas.GameStatsDaily), Beam's GameStats in batch,
// one row per (day, team) with at least one event:
//
//   - Spammers. For each hour W and user u, s(u,W) is the sum of u's scores
//     in W (all teams). mean(W) is the mean of s(u,W) over the users with at
//     least one event in W. u is a spammer in W when s(u,W) > 2.5 × mean(W)
//     (Beam's SCORE_WEIGHT).
//   - score and events: sum and count over the team's events of the day
//     whose user is not a spammer in the event's hour.
//   - spammer_users: the number of distinct users u with an event of the team
//     that day in an hour W where u is a spammer.
//   - Sessions. Per (team, user), Beam session windows with a 5-minute gap:
//     events at t1 ≤ t2 of the same user and team are in the same session
//     when t2 < t1 + 5 min, transitively. A session's window is
//     [first event, last event + 5 min); its length is that window's
//     duration, in minutes, as a float (Beam's GameStats truncates to whole
//     minutes; railyard keeps the fraction). A session belongs to the day of
//     its first event. Spammers' events count for sessions, as in Beam.
//   - sessions: the number of sessions of the team's users that start that
//     day; mean_session_minutes: the mean of their lengths.
//
// Sessions are computed over the events a run reads: a session that crosses
// the end of the run's last day is cut there.
//
// # Streaming views, exact definitions
//
// The streaming views follow Beam's LeaderBoard and GameStats. An event is
// late when its event time is behind the watermark; a pane is one firing of
// a window for a key. In every view below a row is one pane, and
// pane_index numbers a key's panes in a window 0, 1, 2, … within one run of
// the job.
//
// realtime.team_scores (schemas.TeamScore): CalculateTeamScores, Beam's
// LeaderBoard.CalculateTeamScores. Fixed event-time windows of
// opts.Window (default 60 min, epoch-aligned), allowed lateness
// opts.AllowedLateness (default 120 min), accumulating panes, trigger
// AfterWatermark.pastEndOfWindow() with early firings
// AfterProcessingTime.pastFirstElementInPane() + opts.EarlyDelay (default
// 5 min) and late firings AfterProcessingTime.pastFirstElementInPane() +
// opts.LateDelay (default 10 min). One row per pane per (team, window):
//
//   - score, events: sum and count of all the window's events the job has
//     seen up to this pane (accumulating: a later pane includes earlier ones);
//   - timing EARLY: a speculative pane, EarlyDelay of processing time after
//     the first event of the pane, while the watermark has not passed the
//     window's end;
//   - timing ON_TIME: the pane fired when the watermark passes the window's
//     end. A window with events always has one (Beam's default on-time
//     behaviour, FIRE_ALWAYS), even when an EARLY pane already holds the same
//     total. An event that arrives before the watermark passes the window's
//     end, however far behind the watermark, counts in it;
//   - timing LATE: every pane after the ON_TIME one (or, in a window whose
//     first event came late, every pane): LateDelay of processing time after
//     the first late event of the pane, or when the window expires
//     (watermark past window end + allowed lateness) with late events still
//     waiting, which is then the window's final pane (is_last = true). No
//     other pane is marked last: nothing fires when a window expires with
//     nothing new;
//   - events that arrive after the window expired are droppably late: the
//     runner drops them and no row changes. They are not lost: the lake
//     keeps them and the batch view counts them;
//   - processing_time: when the row was emitted (wall clock).
//
// realtime.user_scores (schemas.UserScore): CalculateUserScores, Beam's
// LeaderBoard.CalculateUserScores. The global window, trigger
// Repeatedly.forever(AfterProcessingTime.pastFirstElementInPane() + delay)
// (default 10 min), accumulating panes. One row per firing per (user,
// team): the total score and event count of the user's events for that
// team since the job started, whatever their event time; timing EARLY
// (ON_TIME only for the events pending when a bounded input ends),
// pane_index per (user, team). Beam keys by user alone; railyard keeps
// user and team, as batch.user_scores_daily does, which is the same when a
// user plays for one team.
//
// realtime.user_scores_daily (schemas.UserScoreDailyPane):
// CalculateUserScoresDaily, the streaming counterpart of
// batch.user_scores_daily. Fixed one-day event-time windows (UTC dates),
// keyed by (user, team), with CalculateTeamScores's trigger, allowed
// lateness and accumulating panes (so EARLY, ON_TIME and LATE mean what
// they mean above, with midnight where the hour's end was). One row per
// pane per (day, user, team): score and events of the day's events the job
// has seen up to this pane. When every event arrives on time, the ON_TIME
// rows are exactly batch.user_scores_daily's rows (the tests compare them).
//
// realtime.game_stats_team_scores (schemas.TeamScore) and
// realtime.game_stats_sessions (schemas.SessionStats): CalculateGameStats,
// Beam's GameStats. Windows fire once, when the watermark passes their end
// (Beam's default trigger), without allowed lateness: later events are
// dropped by the runner (the lake keeps them). Rows have timing ON_TIME,
// pane_index 0 and is_last true (should a runner fire again for data it
// ought to have dropped, a LATE row with the complete total follows).
//
//   - Team scores: fixed windows W of opts.Window (default 60 min). s(u,W)
//     is the sum of user u's scores in W (all teams); mean(W) the mean of
//     s(u,W) over the users with an event in W, given to the spammer check
//     as a side input; u is a spammer in W when s(u,W) > 2.5 × mean(W). One
//     row per (team, W) with an event of a non-spammer: score and events
//     over the team's events in W whose user is not a spammer in W. The
//     counter game_stats_spammers (namespace railyard) counts the (user, W)
//     pairs flagged, game_stats_spam_unchecked those whose window mean was
//     missing (0 unless a runner hands over a side input too early).
//   - Sessions: per user (all teams, as in Beam), session windows with gap
//     opts.SessionGap (default 5 min), merged as Beam merges them (see the
//     batch definition). A session ends at its last event plus the gap and
//     belongs to the fixed window of opts.SessionWindow (default 30 min)
//     that holds its last millisecond (Beam's END_OF_WINDOW timestamp). One
//     row per such window with a session: sessions = their number,
//     mean_session_minutes = their mean length in minutes, with the fraction
//     (Beam truncates each length to whole minutes). A session is emitted
//     once the watermark passes its end. Beam drops an event whose own
//     window [t, t+gap) has already expired when it arrives; here such an
//     event forms a session that is emitted at once, behind the watermark,
//     and the window of session ends drops it if it has fired, which it has
//     unless the watermark is still inside that window.
//
// # How the batch views relate
//
// The same transforms give the batch views: a batch run is the ON_TIME pane
// of each window, computed over everything the lake holds.
// CalculateTeamScores with Batch set writes exactly the rows the streaming
// ON_TIME panes have when every event arrives on time, except
// processing_time (the window end in batch, so reruns are identical),
// is_last (true in batch, where nothing can supersede a row) and, after
// EARLY panes, pane_index (always 0 in batch); the tests feed one fixture
// through both paths and compare. In streaming, late
// events within the allowed lateness come in LATE panes instead, and
// droppably late ones only in batch.
//
// batch.game_stats_daily applies the same spammer rule in one-hour windows:
// with opts.Window = SpamWindow, a day's realtime.game_stats_team_scores
// rows add up to the batch row's score and events for that (day, team), for
// the events the stream saw in time; spammer_users has no streaming column
// (see the counter). Batch sessions are per (team, user) and counted on the
// day they start; streaming sessions are per user and counted in the
// window where they end. When every user plays for one team the two see
// the same sessions, except that batch cuts a session at the end of the
// days it reads.
//
// # How streaming computes them
//
// prism (the local runner) gets accumulating triggers wrong, and the Go
// SDK drops pane information after a CombinePerKey (both described below).
// So CalculateTeamScores and CalculateUserScores group with discarding
// panes and sum each pane right after the GroupByKey, and a stateful DoFn
// (panes.go) keeps the running total per key and window, emits the
// accumulating rows, numbers them, keeps their timing monotonic (EARLY …
// ON_TIME, then LATE) and adds the FIRE_ALWAYS ON_TIME pane with a timer at
// the window's end when early panes took every event. The game stats go
// through the same stateful step. Streaming sessions are merged by a
// stateful DoFn rather than by Beam session windows, because prism fires
// each event's proto-session window on its own once the watermark passes
// it, splitting one session into several.
//
// # What readers must tolerate
//
// The serving layer keeps the current row per key and window: the one with
// the highest pane_index. Readers must tolerate:
//
//   - Rows accumulate: never add up the rows of one key and window.
//   - Equal rows: an ON_TIME row may repeat the last EARLY row's values, and
//     a pane may be written twice by a retried bundle (same pane_index and
//     values, another processing_time; BigQuery's insert-ID deduplication is
//     best effort).
//   - Ties on pane_index within one run carry the same values; break them by
//     the larger events, then the later processing_time, so the choice is
//     deterministic. Across runs pane_index is not comparable: a restarted
//     job numbers every window's panes from 0 again, and its totals hold
//     only what that run read (the speed job writes the run into each
//     row's run_id, as in its insert IDs). Batch replaces those hours once
//     it covers them.
//   - is_last is rarely true (see above): never wait for it. A window's
//     current row may stay EARLY if the job stops before the watermark
//     passes the window's end, and a window whose first event was late has
//     no ON_TIME row, only LATE ones from pane_index 0.
//   - processing_time is the emitting worker's wall clock: use it only to
//     break ties, never to order panes.
//   - Rows arrive in any order and late: a LATE row can land hours of
//     processing time after the ON_TIME one.
//
// Runner behaviour behind these rules, seen on prism (Beam v2.77) with
// TestStream, against an accumulating GroupByKey with LeaderBoard's trigger
// (the railyard transforms above absorb all of it; the tests pin the rows
// they emit instead):
//
//   - Late data fires through the early trigger: a late event gave a pane
//     labelled EARLY after EarlyDelay (not LATE after LateDelay), and the
//     next watermark advance fired a second ON_TIME pane. One stream gave
//     EARLY #0 (5), EARLY #1 (12), ON_TIME #2 (12), then for a late event
//     EARLY #3 (112), ON_TIME #4 (112) and at expiry LATE #5 last (112);
//     Beam gives EARLY #0, EARLY #1, ON_TIME #2, LATE #3 (112). Cause: in
//     accumulating mode prism keeps fired elements pending until the window
//     expires, and they hold the stage's input watermark, which its
//     triggers use to tell whether the window ended (the ON_TIME firing uses
//     the upstream watermark and is right).
//   - When a window expires prism fires a final LATE pane (is_last) with the
//     accumulated, unchanged values, even with nothing new (Beam fires no
//     empty final pane): e.g. ON_TIME #0 (12), then LATE #1 last (12) when a
//     TestStream ends.
//   - After a CombinePerKey every pane reads EARLY, index 0, not first, not
//     last: the Go SDK's combine executors build their output without the
//     pane. Read panes straight after a GroupByKey.
//   - Session windows merge only within one firing: each event's
//     [t, t+gap) window fires once the watermark passes it, so a session
//     whose events straddle a watermark advance comes out split. prism also
//     merges windows that only touch, where Beam does not.
//   - A side input's window reaches a bundle only once the watermark passed
//     that window's end (prism's source): main-input elements processed
//     earlier see it empty. CalculateGameStats reads its side inputs after a
//     GroupByKey of the same window.
//   - Panes of one key and window that wait together for a stateful stage
//     (prism runs one only when its input watermark moves, unless a source
//     self-checkpoints) have the same timestamp and may be handed over in
//     either order.
//   - An event-time timer fires as soon as the watermark reaches its time,
//     while an element with that very timestamp may still be on its way (a
//     pane at a window's last millisecond came after a timer set there).
//     Timers here are set one millisecond later, with the output held at
//     the intended time. In OnTimer the event time is the timer's output
//     timestamp, not its firing time.
//   - A Go DoFn with two event-time timer families hung the pipeline: a
//     bundle of that stage never completed, whichever timers it set (cause
//     not pinned down). One family with two tags works.
//   - After an AfterProcessingTime firing prism computes the next firing
//     from that firing, not from the next pane's first element: an event
//     arriving more than the delay later fires an EARLY pane at once
//     (TestTeamScoresEarlyFiringAfterIdle).
//   - When a TestStream has no events left, prism's processing-time clock
//     jumps to the next scheduled timer (prism's source), so pending
//     processing-time triggers fire at once; the tests here end their
//     streams with the watermark at infinity, which fires the ON_TIME panes
//     first.
//
// # How batch computes them
//
// The batch input comes out of a run-wide deduplication, a GroupByKey in the
// global window, after which element timestamps no longer carry event time
// (Beam Go cannot choose a GroupByKey's output timestamp, and moving
// timestamps back afterwards makes prism drop the elements as late). So in
// batch every view keys on the events' EventTime field instead of using
// Beam windows: CalculateTeamScores with Batch set keys on the epoch-aligned
// fixed window as FixedWindows would assign it, and GameStatsDaily applies
// the session-window merge rule to each user's sorted event times. The
// results are exactly those of the windowed definitions above; the gaming
// tests check them on a fixture, also after Dedupe.
package gaming
