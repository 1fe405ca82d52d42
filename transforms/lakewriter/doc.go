// Package lakewriter appends lines to railyard's data lake from a stream:
// Write takes a PCollection<transforms.Raw>, whose element timestamps are
// event times, and writes each payload unchanged as one line of a gzip
// JSON-lines file in the catalog's layout,
//
//	<root>/<dataset>/dt=YYYY-MM-DD/hr=HH/part-<hour>-p<pane>-s<shard>-<n>-<hash>.jsonl.gz
//
// partitioned by the hour of the element's timestamp (UTC). root is a local
// directory or gs://bucket[/prefix]; dataset defaults to game_events. The
// archive job (internal/archivejob) uses it to keep every Pub/Sub message;
// transforms/lakeio reads the files back.
//
// # Windowing: the global window, keyed by hour partition and shard
//
// Elements are keyed by (dataset, event hour, shard) and grouped in the
// global window with the trigger
//
//	Repeatedly(AfterAny(AfterCount(MaxEvents), AfterProcessingTime(+MaxAge)))
//
// discarding fired panes. Each pane of a key becomes one or more new files
// of that hour. Why not fixed event-time windows? Because a fixed window
// with allowed lateness L drops, silently, every element that arrives
// after the watermark passed its end + L, and keeps per-window state for
// L. In the global window nothing is ever late: an event that arrives days
// after its hour's watermark still goes to its own dt=/hr= partition, as a
// new file next to the older ones, never rewriting them. The key carries
// the partition, so a pane never mixes hours. The cost is one small trigger
// state per (hour, shard) key the job has seen, kept for the life of the
// job (Shards × 8760 keys a year of event hours, no buffered data between
// panes).
//
// The count trigger bounds a pane's size; the processing-time trigger
// bounds how long a line waits before its file is written (MaxAge after the
// first line of a pane). A pane larger than MaxEvents lines or MaxBytes
// bytes (uncompressed: lines plus newlines; the stored gzip file is smaller)
// is split into several files; a single line longer than MaxBytes gets a
// file of its own. When the input ends (a bounded run) the remaining lines
// are written in a last pane.
//
// # Files are never overwritten
//
// A pane's lines are sorted before they are written, so the files of a pane
// are a function of its contents, and each file is named with the first 16
// hex digits of the SHA-256 of its decompressed contents (after the hour,
// pane index, shard and file number within the pane). A file is created
// exclusively: on gs:// with a DoesNotExist precondition (the object
// appears when its upload is finalised), locally by writing a hidden
// temporary file (".part-….tmp", which lake readers skip), fsyncing it,
// hard-linking it to its name (which fails if the name exists) and
// fsyncing the directory. If the name exists already, a retried bundle or
// a restarted job is writing the very same contents (same hash): the file
// is counted as written (File.Existed) and nothing is replaced. Different
// contents always get a different name, whatever the pane index (which
// starts again at 0 when a job restarts). A local root therefore needs a
// file system with hard links (any POSIX disk file system; not gcsfuse:
// write gs:// directly).
//
// # Acknowledgements
//
// With Config.AckIDAttribute set, each input's attribute of that name (its
// Pub/Sub ack ID, transforms/pubsubsource's AckIDAttribute) travels with
// its line, and Result.AckIDs gets it only after the file holding the line
// is durable (object finalised, or local file and directory fsynced).
// Acknowledging those IDs (pubsubsource.Acknowledge) therefore never loses
// a message: if the job dies first, the message is redelivered and written
// again, a duplicate that the batch layer's dedupe removes.
//
// # Inputs that cannot be a line
//
// A payload is written byte for byte, so it must be one non-empty line
// that a lake reader gives back unchanged. An empty payload
// (ReasonEmptyPayload), one containing "\n" or "\r" (ReasonLineBreak), one
// starting with a UTF-8 byte order mark (ReasonByteOrderMark, which
// readers strip at the start of a file) and an element whose timestamp has
// no four-digit UTC year (ReasonEventTimeOutOfRange) are not written to
// the dataset: each becomes a schemas.DeadLetter (stage "lake_write", the
// payload and attributes kept, without the ack ID) written as a JSON line
// into the dead-letter dataset of the same lake,
//
//	<root>/_dead_letters/dt=YYYY-MM-DD/hr=HH/part-….jsonl.gz
//
// (hour of the element's event time, or of the processing time when the
// event time is out of range), by the same exclusive, durable writes. Its
// ack ID is released only then, and Result.DeadLetters gets the dead
// letter after its file is durable (for a copy to ops.dead_letters). Lake
// readers never see these files: they live outside every dataset
// directory, and the name starts with "_".
//
// # Metrics and logs
//
// Counters in the namespace "railyard": lake_lines_received (inputs),
// lake_lines_rejected (inputs dead-lettered), lake_files_written,
// lake_lines_written and lake_bytes_written (the dataset's files; bytes as
// stored), lake_files_existing (files found already written),
// lake_dead_letter_files_written and lake_dead_letters_written. After a
// bounded run lake_lines_received = lake_lines_written +
// lake_dead_letters_written. The file counters are incremented from
// Result.Files after a GroupByKey on one key, not in the concurrent write
// bundles: prism (v2.77) keeps a single pending payload per counter it has
// not resolved yet, so when two bundles first report the same counter at
// once, one bundle's increments are lost (seen as short totals in about one
// run of eight). Every file is also logged with its path, lines and bytes.
//
// # Memory
//
// A pane is held whole while it is sorted and written: about MaxEvents
// lines per (hour, shard) key, or what arrives within MaxAge.
package lakewriter
