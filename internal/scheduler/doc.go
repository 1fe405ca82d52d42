// Package scheduler runs the jobs of a schedule file (internal/schedule):
// `railyard schedule run` (Once, Run), `railyard backfill` (Backfill) and
// `railyard schedule status` (Status).
//
// # State lives in the ledger
//
// The scheduler keeps nothing of its own between passes. Every attempt is
// recorded in ops.batch_runs with the job, attempt number, the time it
// stands for (scheduled_for), the runner and the error: by the pipeline
// itself (one row per view; the scheduler passes --job, --attempt,
// --scheduled_for and --run_id), or by the scheduler (a sql job's
// destination, or job:NAME for a pipeline that recorded nothing because it
// failed to start, crashed or timed out). From these rows alone it decides,
// per firing t of a job (partition p):
//
//   - done: a SUCCEEDED attempt of the job for p with scheduled_for ≥ t
//     (a later firing's run of the same partition, or a backfill, covers
//     earlier firings);
//   - failed: 1+retries.max FAILED scheduled attempts for (p, t);
//   - due otherwise, with the next attempt not before the last failure's
//     end plus the backoff.
//
// A pass looks at the newest catchup firings of each job (none before
// start_date) and starts the due ones, oldest first, at most max_parallel
// per job. So a scheduler that was down, or another instance on another
// machine, continues where the last one stopped: missed firings within the
// catch-up window run, oldest first; older ones are listed by Status as
// missed, for railyard backfill.
//
// # One partition, one run
//
// Each firing's attempts run under the lock of (job, partition)
// (internal/lock), taken before the first attempt and kept through the
// retries. A pass that finds the lock held reports the firing as running
// elsewhere and looks again later; under the lock it rereads the
// partition's ledger rows, so a firing another instance completed is not
// run again. A backfill waits for a held date instead, and if the run it
// waited for succeeded, does not run the date again.
//
// # Retries, timeouts, dependencies, concurrency
//
// A failed attempt is retried after Backoff: retries.backoff doubled per
// failure up to retries.max_backoff, with deterministic "equal jitter"
// (half to all of it, derived from job and firing, so every instance waits
// the same). An attempt that outlives the job's timeout is cancelled (the
// pipeline's process group gets SIGTERM, then SIGKILL; a query job is
// cancelled) and counts as failed. A job with depends_on starts a firing
// only once every upstream job succeeded for the same partition, as
// recently as its latest firing for it; until then it waits and says what
// for (logs, Outcome, Status). Scheduled attempts take slots of their
// job's max_parallel; a backfill has its own --parallel slots in its own
// process, so it never starves the schedule, and the lock keeps the two
// off the same partition.
//
// # Clock
//
// All waiting (backoff, timeouts, polling, lock leases) goes through an
// internal/clock.Clock, so the tests drive due runs, catch-up, retries and
// timeouts with a fake clock.
package scheduler
