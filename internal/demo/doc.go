// Package demo is `railyard demo`: the whole lambda architecture on one
// machine, on loopback stand-ins, in one command.
//
// In order, each step saying what it does and, when it takes more than a
// few seconds, showing progress and how long it usually takes:
//
//  1. The serving page's address is printed first; the page says what the
//     demo is doing until the serving layer is up.
//  2. Set-up: the BigQuery emulator is built once (it needs clang, which is
//     installed with apt-get when the demo runs as root on Debian or
//     Ubuntu, and otherwise asked for with the exact command), then the
//     local stack (pstest, fake-gcs-server, the emulator) starts and the
//     catalog, serving views included, is applied.
//  3. Yesterday's events are generated into the lake: the backlog the
//     batch layer has not seen yet.
//  4. The scheduler starts with the example schedule file
//     (schedules/railyard.yaml), narrowed to yesterday (catchup 1,
//     start_date yesterday; the example's catchup 7 would also recompute
//     the six days before). It sees from the empty ledger that yesterday's
//     batch-daily firing is due and runs pipelines/batch for it, then the
//     scheduled SQL job, by itself.
//  5. The ingest gateway (HTTP and MQTT), the lake archiver and the speed
//     job run; live traffic for today is posted through both protocols at
//     --rate, with duplicates, late and invalid events.
//  6. The serving layer (the same server as `railyard serve`) merges both:
//     yesterday from batch once its ledger row lands (a gap until then),
//     today from realtime. The demo prints the leaderboard as it moves, the
//     dead-letter counts and, at the end, every job's reconciliation and
//     the check that what is served equals what was generated and posted.
//
// --duration bounds the live traffic; then the streaming jobs drain and
// report. --keep leaves everything up (fresh instances of the streaming
// jobs) and prints the settings that point other commands at it. Ctrl-C
// stops everything at any point and says what, if anything, was left
// running.
//
// The demo writes what it posted, its jobs' logs and the scheduler's log
// under its work directory, so that a test (cmd/railyard's smoke test) can
// check the served figures against what was posted independently.
package demo
