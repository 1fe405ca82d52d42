// Package pubsubsource is railyard's Pub/Sub source: a splittable DoFn that
// reads a subscription with unary Pull and runs on prism and Flink (and any
// portable runner), with at-least-once delivery and event-time timestamps.
// Pipelines normally call runners.ReadPubSub, which uses this package
// everywhere except on Dataflow.
//
//	raws := pubsubsource.Read(s, pubsubsource.Config{
//		Subscription: "projects/P/subscriptions/speed",
//	})
//	events, dead := transforms.Parse(s, raws, transforms.ParseOptions{...})
//
// # Why not Beam's pubsubio
//
// Beam Go's pubsubio.Read only inserts a placeholder transform
// (beam:transform:pubsub_read:v1) that the Dataflow service replaces with
// its own source; no other runner can execute it. Beam's experimental
// native Go reader acks each message as soon as it receives it, which is
// at-most-once: a message whose bundle then fails is lost. And Pub/Sub's
// streaming pull, which the high-level client's Receive uses, is the wrong
// shape for a DoFn that must return regularly (on pstest it also delivers
// about 77 messages/s per stream, against some 277k/s for unary Pull). So
// the reader pulls with the unary Pull, Acknowledge and ModifyAckDeadline
// calls of the client's SubscriptionAdminClient, and acks only what the
// runner has committed.
//
// # Output
//
// Read returns an unbounded PCollection of transforms.Raw, one per
// message: Source "projects/P/subscriptions/S/messages/<message id>",
// Payload the message data, Attributes the message attributes (nil when
// there are none; in AckByCaller mode also AckIDAttribute). The element
// timestamp is the message's event time; the message ID (in Source) and
// the attributes stay available for deduplication and dead letters.
//
// # Event time
//
// The event time is the value of the attribute Config.EventTimeAttribute
// (default "event_time", set by the ingest gateway): an RFC 3339 timestamp
// with or without fraction ("2026-11-01T10:00:00Z",
// "2026-11-01T10:00:00.250+01:00") or epoch milliseconds as a decimal
// string ("1761991200250"). A message without the attribute gets its
// publish time. A message whose attribute does not parse also gets its
// publish time; it is counted in pubsub_bad_event_time and keeps the
// attribute, so that Parse can dead-letter it if it wants. "-" as the
// attribute name means always the publish time. EventTimeOf is the parser.
//
// # Watermark
//
// The reader is one restriction that pulls until stopped; it self-
// checkpoints (sdf.ProcessContinuation) after at most 1 s or 50 Pulls of
// messages, when a Pull after messages returns nothing, and after 250 ms
// when the subscription is empty. While the messages of one Pull are
// emitted, the next Pull is already in flight (a Pull started is emitted
// in the same bundle; if the bundle fails first, its messages are handed
// back for redelivery), so that Pub/Sub serving a Pull and the pipeline
// processing the one before overlap. Its watermark estimator is manual and
// monotonic: after each Pull it moves to the earliest event time in that
// Pull (not the latest, so that one device clock far ahead cannot make
// every other event late), and once the subscription has been empty for
// Config.IdleAdvance (default 5 s of processing time) it moves to
// wall-clock now minus 1 s, so that windows close when nothing arrives.
// Pub/Sub offers no better bound: a message that arrives later with an
// older event time (a slow client, a redelivery) is late downstream.
//
// Config.StopAfterIdle ends the read once the subscription has been empty
// that long (sdf.StopProcessing; the watermark goes to +inf and a pipeline
// reading nothing else finishes): for tests, benchmarks and draining a
// subscription. Otherwise a job stops when it is cancelled; a drain
// (TruncateRestriction) stops the reader and leaves unread messages in
// the subscription.
//
// # Progress
//
// ReadWithProgress also returns the reader's progress reports (Progress):
// its watermark (capped at wall-clock time), the messages it has emitted
// since it started, and a final report when StopAfterIdle ends it. Only
// the reader can report its watermark: Beam gives a DoFn downstream no
// way to read one. The speed job writes them to ops.stream_progress, from
// which the serving layer tells which event-time ranges a run has read
// and whether it is live.
//
// # Delivery (AckOnFinalize, the default)
//
// At least once. Each bundle's messages are acked by that bundle's
// finalization callback (beam.BundleFinalization), which the runner calls
// only after it has committed the bundle's output; the callback holds
// exactly that bundle's ack IDs. Until then the messages are leased: a
// goroutine extends their ack deadlines to Config.AckDeadline (default 60 s)
// right after each Pull and every third of that deadline. If the bundle
// fails in the reader or in a DoFn fused with it (prism fuses the DoFns
// up to the next GroupByKey), the reader nacks (ack deadline 0) what it
// pulled, and Pub/Sub redelivers it at once. If the bundle fails where the
// reader cannot see it, its leases lapse (2 minutes after the Pull while
// the bundle runs; 10 minutes after it finished, the callback's expiry) and
// Pub/Sub redelivers the messages when their deadline passes. Nothing is
// lost; messages can be delivered twice, so downstream deduplicates (by
// event_id, transforms.Dedupe; the BigQuery sink's insert IDs).
//
// What "committed" means depends on the runner. prism keeps all state in
// memory and finalizes a bundle as soon as it has stored its output: acked
// messages are safe only while the prism process lives, and if a later
// stage fails (prism never retries a bundle) or the process dies, what it
// held is gone (TestPrismAcksBeforeLaterStagesRun pins this). Flink
// finalizes bundles when a checkpoint completes, so enable checkpointing
// (without it nothing is ever acked and every message is redelivered);
// Dataflow persists and acks by itself (runners.ReadPubSub uses its native
// source there).
//
// Beam Go v2.77 runs the finalization callbacks of a DoFn instance only
// the first time: the harness reuses the instance after finalizing it, but
// Plan.Finalize swaps in a new bundle finalizer that the DoFn never sees,
// so callbacks registered in later bundles are silently dropped (the
// runner is even told that the bundle needs no finalization; prism logs
// "finalize bundle failed … couldn't find plan in finalizing map" for each
// such bundle, which is harmless). The reader detects this — the
// BundleFinalization it is given already had its callbacks run — and then
// hands the bundle's ack IDs to the residual restriction of its
// checkpoint; the resumed reader acks them first thing, because the runner
// only resumes a checkpoint after committing the bundle that made it. On
// prism that is the same moment as finalization. On Flink it is earlier
// than the checkpoint that covers the bundle, so until Beam fixes the
// harness a Flink failover can lose messages that were acked after the
// last completed checkpoint; where that matters, read in AckByCaller mode
// and acknowledge after the durable write.
//
// # AckByCaller
//
// For the lake archiver, which may only ack a message once the file
// holding it is written. The source never acks, never extends a deadline
// and never nacks: the subscription's own ack deadline is all the time the
// pipeline has (set it high, up to 600 s, on such subscriptions); messages
// not acked by then are redelivered (duplicates, not losses). Every Raw
// carries its ack ID in Attributes[AckIDAttribute]; the pipeline acks with
// Acknowledge(s, cfg, ackIDs) after its durable write (at most 1000 IDs
// per call, transient errors retried, counted in pubsub_acked).
//
// # Metrics
//
// Counters in the "railyard" namespace: pubsub_pulled, pubsub_acked,
// pubsub_nacked, pubsub_deadline_extensions, pubsub_bad_event_time. Acks in
// finalization callbacks and extensions by the lease goroutine happen
// outside any bundle, where Beam Go cannot update a counter; the reader
// adds them to its counters in its next bundle.
//
// # Limits
//
//   - One reader per Read: Pub/Sub spreads a subscription over all its
//     readers, so to read faster call Read more than once and Flatten.
//   - Ordering keys are not honoured beyond what Pull returns.
//   - On prism a stage with no outputs busy-waits while its bundle runs
//     (its progress loop spins on an already closed channel), so a Read
//     whose fused DoFns end in sinks keeps a core busy; a stage that feeds
//     a GroupByKey does not.
//   - pstest scans all its messages on every Pull and every 10 ms, so its
//     throughput falls with the backlog. BenchmarkRead and
//     BenchmarkPullAckBaseline compare this reader with a bare Pull and
//     Acknowledge loop on 100,000 queued messages.
package pubsubsource
