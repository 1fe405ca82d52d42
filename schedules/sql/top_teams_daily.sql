-- The ten best teams of the event date @partition, from the batch layer's
-- hourly team scores: replaces that date's partition of
-- serving.top_teams_daily whole, so a rerun gives the same rows.
-- Run by the scheduler (job top-teams-daily in schedules/railyard.yaml) with
-- @partition as a DATE parameter; {{destination}} and {{table "…"}} expand
-- to project.dataset.table with the dataset prefix in use.
--
-- Written for BigQuery and goccy's emulator alike: no MERGE, no CREATE OR
-- REPLACE, no window functions (a team's rank is the number of teams at or
-- above it, counted with a join), and the day comes from the data rather
-- than from @partition in the select list (the emulator types a DATE
-- parameter there as INT64).
BEGIN TRANSACTION;

DELETE FROM `{{destination}}` WHERE day = @partition;

INSERT INTO `{{destination}}` (day, rank, team, score, events)
SELECT a.day, COUNT(*) AS rank, a.team, a.score, a.events
FROM (
  SELECT DATE(window_start) AS day, team, SUM(score) AS score, SUM(events) AS events
  FROM `{{table "batch.team_scores_hourly"}}`
  WHERE DATE(window_start) = @partition
  GROUP BY day, team
) AS a
JOIN (
  SELECT team, SUM(score) AS score
  FROM `{{table "batch.team_scores_hourly"}}`
  WHERE DATE(window_start) = @partition
  GROUP BY team
) AS b
ON b.score > a.score OR (b.score = a.score AND b.team <= a.team)
GROUP BY a.day, a.team, a.score, a.events
HAVING COUNT(*) <= 10;

COMMIT TRANSACTION;
