// Package schedule reads and checks schedule files (schedules/*.yaml) and
// does their calendar arithmetic: when a job fires (its cron in its time
// zone), which event date (partition) a firing recomputes, and which
// firings a catch-up considers. It knows nothing of BigQuery or locks;
// internal/scheduler decides from the ledger what actually runs.
//
// # File format
//
//	jobs:
//	  - name: batch-daily           # [a-z0-9-], unique, at most 40 characters
//	    kind: beam                  # beam | sql
//	    pipeline: batch             # beam: a main package pipelines/<pipeline>
//	    profile: local              # beam: a runner profile (runners/profiles)
//	    args: ["--lake=gs://railyard-lake/lake"]  # beam: extra flags
//	    cron: "15 2 * * *"          # 5 fields, or @hourly @daily @weekly @monthly @yearly
//	    timezone: UTC               # IANA zone of the cron and of the partition date (default UTC)
//	    partition: yesterday        # today | yesterday | -Nd, relative to the firing (default yesterday)
//	    start_date: 2026-11-01      # no partition before it is ever run (optional)
//	    catchup: 7                  # the newest N firings are considered, oldest first (default 1)
//	    retries: {max: 3, backoff: 30s, max_backoff: 10m}  # defaults 2, 30s, 10m
//	    timeout: 2h                 # per attempt (default 1h)
//	    max_parallel: 2             # scheduled attempts of this job at once (default 1)
//	  - name: top-teams-daily
//	    kind: sql
//	    sql: sql/top_teams_daily.sql  # sql: relative to this file's directory
//	    destination: serving.top_teams_daily  # sql: dataset.table (logical, without prefix)
//	    partition_column: day       # sql: optional when the destination is in the catalog
//	    depends_on: [batch-daily]   # waits for these jobs' success on the same partition
//	    cron: "30 2 * * *"
//
// Parse refuses a file with every problem it finds, each as
// "FILE:LINE: job NAME: key: reason".
package schedule
