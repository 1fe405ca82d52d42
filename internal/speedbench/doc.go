// Command speedbench measures the speed layer on this machine; run it
// through scripts/bench-speed.sh, which builds it and the speed job.
//
// Every role runs in a process of its own, so that CPU time and memory are
// measured per role (Linux /proc and wait4 rusage):
//
//   - pstest, the Pub/Sub emulator: this binary re-executed with
//     -serve_pubsub;
//   - goccy's BigQuery emulator (internal/localstack starts it);
//   - the speed job (pipelines/speed, --job_bin) on prism in its own
//     process, or on Flink (--runner=flink) with a Beam Flink job server
//     that the bench starts (runners/jobserver) or finds at --endpoint;
//   - this driver: it publishes generated events at a fixed rate into the
//     game-events topic, polls realtime.user_scores until every valid,
//     unique event is counted, and pulls a second subscription of the same
//     topic with a plain unary Pull loop (the baseline: what pstest itself
//     delivers in the same run).
//
// It reports the sustained events/s through the job, publish → row visible
// latency at p50/p99 (the k-th published event of a user counts as visible
// when a row of that user first counts k events), pstest's publish → pull
// latency on the baseline subscription, the CPU time per published event
// of the job, pstest, the BigQuery emulator and the Flink job server over
// the measured interval (publish start → last event visible), the job's
// peak RSS, and the job's own report of its dedupe state (event ids
// retained and bytes of state at the peak).
//
// With -preload it publishes every event before it starts the job and
// measures the job draining that backlog from its start: the job's
// capacity, apart from how fast the driver and pstest can publish while
// it runs.
package main
