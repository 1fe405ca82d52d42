// Package gaming holds the views of the mobile-gaming reference domain (the
// scenario of Beam's UserScore, HourlyTeamScore, LeaderBoard and GameStats
// examples) as PTransforms shared by the batch and streaming layers.
//
// Every view takes valid, unique schemas.GameEvent values (after
// transforms.Parse and transforms.Dedupe) whose element timestamps are their
// event times (transforms.WithEventTime). Times are UTC; a "day" is a UTC
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
