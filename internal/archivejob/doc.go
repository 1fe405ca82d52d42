// Package archivejob is the lake archiver: a streaming job that copies every
// message of a Pub/Sub subscription into the data lake, byte for byte, one
// line per message, in the catalog's layout
// <lake>/game_events/dt=YYYY-MM-DD/hr=HH/part-….jsonl.gz partitioned by
// event time (the event_time attribute the ingest gateway sets, else the
// publish time). pipelines/archive is its command.
//
// The graph is runners.ReadPubSub (AckMode AckByCaller) →
// transforms/lakewriter → runners.AcknowledgePubSub: a message is acked
// only after the file that holds it is durable, so a crash redelivers
// instead of losing. (On Dataflow, whose native source acks a message once
// Dataflow's own checkpoint holds it and retries the write until it
// succeeds, the acks are Dataflow's; that source also drops a message whose
// event_id attribute it saw in the last minutes, so exact duplicates reach
// the lake less often there.) Lake files are created exclusively and never rewritten; late
// events land in their own hour as new files (see package lakewriter for
// the windowing and naming). Messages that cannot be a line of a JSON-lines
// file unchanged (empty, a line break, a byte order mark) are dead-lettered
// into <lake>/_dead_letters/… and acked once that file is durable; with
// BigQuery flags they are also appended to ops.dead_letters.
//
// # Ack deadline
//
// The source does not extend the ack deadlines of messages it leaves to
// the caller: the subscription's own ack deadline must cover the time from
// a pull to the write of the message's file, at most --max_age plus the
// time to group, compress and upload. Run checks the subscription before
// submitting and refuses an ack deadline below 2 × --max_age + 10 s
// (Pub/Sub's maximum is 600 s: set it with
// `gcloud pubsub subscriptions update S --ack-deadline=600`). A message not
// acked in time is redelivered and written again: a duplicate in the lake,
// which the batch layer's dedupe removes, never a loss.
//
// Stopping the job (Ctrl-C, SIGTERM, a crash) loses nothing either: the
// lines of panes not yet written were never acked, so Pub/Sub redelivers
// them to the next run once their ack deadline passes.
//
// # Bounded runs
//
// With StopAfterIdle the source stops once the subscription has been empty
// that long; every pending line is then written, every message acked, and
// Run prints the account read = written + dead-lettered from the job's
// counters, with the files and bytes written.
package archivejob
