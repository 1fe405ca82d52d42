// Package speedjob is the speed layer's job: it reads game events from a
// Pub/Sub subscription with railyard's native source (Beam's pubsubio on
// Dataflow), parses and deduplicates them in streaming, computes the
// leaderboard and game-stats views with the same transforms the batch layer
// uses, and streams every pane into the realtime tables with insert IDs
// derived from (table, job instance, key, window, pane index), so that a
// retried bundle or a redelivered message never adds a row twice. Every
// reject goes to ops.dead_letters.
//
// pipelines/speed is its command. The graph is
// runners.ReadPubSub → transforms.Parse → transforms.DedupeStream → the
// gaming views → bqsink.Append, on whichever runner package runners selects.
//
// A run ends when its context is cancelled (a hard stop: what the runner
// had not finalized is redelivered to the next run) or, with StopAfterIdle,
// when the subscription has been empty that long: then the watermark goes
// to the end of time, every window fires its final pane, the rows are
// written, and the job prints its reconciliation.
package speedjob
