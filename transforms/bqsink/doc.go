// Package bqsink is railyard's BigQuery sink: sharded, batched insertAll
// writes with bounded, jittered retries, deterministic insert IDs, and
// per-row failures sent to a dead-letter output instead of being dropped.
// Unlike Beam's bigqueryio it does not funnel everything through one key
// and it never invents new insert IDs on a retry.
//
// # Two modes
//
// ReplacePartitions is the batch layer's write: for every day partition a
// run owns, the partition ends up holding exactly the run's rows for it,
// replaced atomically. Rerunning gives identical contents; an owned
// partition without rows ends up empty; other partitions are not touched.
//
//	res := bqsink.ReplacePartitions(s, bqsink.ReplaceConfig{
//		Config: bqsink.Config{
//			Project:  bq.Project,  // cliflags.BigQuery
//			Endpoint: bq.Endpoint, // "" for BigQuery itself
//			Table:    bq.Catalog().TableID(catalog.TableTeamScoresHourly),
//			Pipeline: "batch", RunID: runID,
//		},
//		PartitionColumn: "window_start",
//		Partitions:      []civil.Date{day},
//		OnEmulator:      bq.OnEmulator(),
//	}, teamScores) // PCollection<schemas.TeamScore>
//	// res.Written: PCollection<bqsink.PartitionCount>, one per owned day,
//	// for the run ledger; res.DeadLetters: PCollection<schemas.DeadLetter>.
//
// Append is for ops.dead_letters and the streaming layer: rows are
// appended with insert IDs the caller derives from the row (table, key,
// window, pane — see InsertID), so a retried bundle sends the same IDs:
//
//	res := bqsink.Append(s, bqsink.AppendConfig{Config: cfg},
//		beam.ParDo(s, bqsink.DeadLetterInsertID, deadLetters))
//
// BigQuery drops rows whose insert ID it saw in about the last minute, best
// effort; goccy's emulator keeps every copy. AppendDeadLetters is Append for
// a job's dead letters: it counts them (dead_letters_written) and fails the
// bundle for one the table refuses, since there is nowhere left to keep it.
//
// # How a partition replace works
//
// No single BigQuery mechanism is both atomic and available on goccy's
// emulator v0.6.6, except one: a multi-statement query. A load or copy job
// with WRITE_TRUNCATE into a partition decorator ("table$YYYYMMDD") replaces
// one partition atomically on BigQuery, but the emulator runs query jobs
// only (copy: 400 "unspecified job configuration query"; load into a
// decorator: a 500 panic that leaves a table literally named "t$YYYYMMDD").
// MERGE and CREATE OR REPLACE TABLE fail there too. So:
//
//  1. prepare (one element, from beam.Impulse): read the target's schema,
//     check it is DAY-partitioned on PartitionColumn (DATE, TIMESTAMP or
//     DATETIME), and create a staging table unique to this pipeline
//     construction: the target's columns plus _railyard_row_id and
//     _railyard_attempt, expiring after StagingTTL.
//  2. encode: each row becomes the JSON object insertAll sends, its day is
//     checked against the owned partitions (other days are dead-lettered
//     with reason "partition_not_owned"), and it is keyed by one of Shards
//     shard keys by the hash of its content, so identical rows meet in one
//     shard.
//  3. stage (after a GroupByKey, with prepare's output as a side input, so
//     after the staging table exists): each shard numbers identical rows
//     (row ID = content hash + copy number) and insertAll-s its rows into
//     staging in batches of at most BatchRows rows and BatchBytes bytes,
//     under a fresh attempt token per call; it reports, per partition, how
//     many rows that attempt staged.
//  4. commit (once, with every shard's report as a side input, so after all
//     shards finished): check that staging holds exactly the reported rows
//     (distinct row IDs of successful attempts, per partition), run the
//     script below, count each owned partition in the target, check the
//     counts against the reports, and emit them.
//  5. cleanup: drop the staging table (failures are logged and counted;
//     the table expires anyway).
//
// The commit script (for a DATE column "day"; a TIMESTAMP or DATETIME
// column is compared as DATE(column), in UTC):
//
//	BEGIN TRANSACTION;
//	DELETE FROM target WHERE day IN UNNEST(@partitions);
//	INSERT INTO target (cols…)
//	SELECT ANY_VALUE(col) AS col, … FROM staging
//	WHERE _railyard_attempt IN UNNEST(@attempts) AND day IN UNNEST(@partitions)
//	GROUP BY _railyard_row_id;
//	COMMIT TRANSACTION;
//
// When no row was staged, it is only the DELETE.
//
// Readers see either the old or the new contents of all owned partitions:
// BigQuery commits the transaction atomically and rolls it back on any
// error; the emulator runs each query job in one SQLite transaction.
//
// Exactly once: the target is only ever changed by the commit, which is
// idempotent (run it twice, get the same contents). A request abandoned by
// the client after its deadline may still have been executed by the
// server: an insertAll "ghost" only adds copies of rows with the same row
// ID to staging, which the GROUP BY collapses (counted in
// bq_staging_duplicates); a ghost commit is just one more run of the same
// idempotent script. Rows written by a shard attempt that failed (and was
// retried by the runner) carry that attempt's token, which no successful
// report lists, so they are ignored even if the retried attempt saw
// different input.
//
// OnEmulator (set it from cliflags.BigQuery.OnEmulator()) adds a dry run of
// the script before the real one: the emulator executes dry runs and rolls
// them back, while a real script that fails halfway keeps the statements
// before the failure — a failing INSERT would leave the partitions
// emptied. The dry run makes such a failure happen without effect; a
// failure between the dry run and the real run remains possible there.
//
// # Retries
//
// Every BigQuery call runs under a per-attempt deadline (Retry.AttemptTimeout,
// Retry.JobTimeout for query jobs), which also bounds the client library's
// own retry loop (it retries 5xx until its context ends). Failed attempts
// are classified by Retryable: HTTP 429 and 5xx, the reasons
// rateLimitExceeded, backendError and internalError, aborted transactions
// ("concurrent update"), attempt timeouts and connection errors are retried
// with exponential backoff (Retry.Initial 100ms doubling up to Retry.Max 10s,
// each pause drawn from [b/2, b]) for at most Retry.Attempts tries; other
// 4xx fail at once and fail the bundle. Per-row insertAll errors are sent
// to the dead letters ("bigquery_row_error", Detail = BigQuery's message,
// Payload = the row's JSON, Source = "dataset.table$YYYYMMDD"), except
// "stopped", "backendError", "internalError", "timeout" and
// "rateLimitExceeded", whose rows are sent again. Requests set
// skipInvalidRows, so the valid rows of a request are written.
//
// # Metrics
//
// Counters in the namespace "railyard": bq_rows_written (rows in the
// destination: committed by a replace, or appended), bq_rows_staged,
// bq_retries, bq_row_errors (rows dead-lettered), bq_staging_duplicates and
// bq_staging_cleanup_failures.
package bqsink
