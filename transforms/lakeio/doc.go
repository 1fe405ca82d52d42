// Package lakeio reads railyard's data lake: the lines of the files of
// chosen event dates, as a PCollection of transforms.Raw, one element per
// non-empty line, ready for transforms.Parse.
//
// # Layout and API
//
// The lake is <root>/game_events/dt=YYYY-MM-DD/hr=HH/<files> (the catalog's
// lake layout, schemas/catalog), where root is a local directory or
// gs://bucket[/prefix]. Read(s, root, dates) reads every file of every hour
// of the given event dates; ReadRange takes an inclusive range of dates;
// ReadGlob and ReadAll read the files matching arbitrary globs:
//
//	raws := lakeio.ReadRange(s, "gs://railyard-lake/lake",
//		civil.Date{Year: 2026, Month: 11, Day: 1}, civil.Date{Year: 2026, Month: 11, Day: 2})
//	events, dead := transforms.Parse(s, raws, transforms.ParseOptions{...})
//
// ReadHourPartitions lists the same files grouped by hour directory, one
// lakeio.HourPartition per dt=D/hr=H directory, for a DoFn that processes a
// whole hour in one call: HourPartition.Read yields that hour's lines, by
// the rules below, on the calling goroutine.
//
// Each Raw has Source "path:offset" (path as listed, e.g.
// "gs://b/lake/game_events/dt=2026-11-01/hr=00/part-s1-00000.jsonl.gz";
// offset is the byte offset of the line's first byte in the decompressed
// file: split at the last ':'), Payload the line without its ending, and no
// Attributes. The PCollection is bounded, in the global window.
//
// # Files and lines
//
// By name (see WithCompression to override): "*.gz" (".jsonl.gz",
// ".json.gz", ".csv.gz", …) is gzip, concatenated gzip members included;
// ".jsonl", ".ndjson", ".json", ".csv" and ".txt" are uncompressed; any
// other name fails the pipeline with an error naming the file. Files whose
// names start with "." or "_" (temporary files of writers, markers such as
// _SUCCESS) and directories are skipped, with a log line. The reader does
// not parse: JSON and Beam's mobile-gaming CSV lines are both decoded later
// (schemas.DecodeLine), per line.
//
// Lines end at "\n"; a trailing "\r" is stripped too ("\r\n" files), and a
// last line without a newline is read. A UTF-8 byte order mark at the start
// of a file is dropped (the line's offset is then 3). Empty lines (no byte
// between the endings) carry nothing to parse or dead-letter: they are
// skipped and counted in lake_blank_lines. Whitespace-only lines are not
// empty: they are emitted and the parser dead-letters them. So every
// physical line is either one Raw or one blank: physical lines =
// lake_lines + lake_blank_lines. Lines may be up to 64 MiB long
// (WithMaxLineBytes); a longer line fails the pipeline naming the file and
// offset rather than being cut.
//
// # Splitting
//
// Matching runs first: one element per date (or glob) is listed with
// Beam's filesystem package (local, and gs:// on Google's client; both
// registered here), then the files are reshuffled over workers and read by
// a splittable DoFn. An uncompressed file's restriction is its byte range,
// cut initially into WithSplitSize pieces (default 64 MiB) and further
// split dynamically by runners that do so; each line belongs to the piece
// in which it starts (as in Beam's textio), so every line is read exactly
// once however the file is split. A piece reads from its start with a seek
// (local) or a range request (gs://), not from the file's beginning. A gzip
// stream cannot be entered in the middle, so each gzip file is one
// unsplittable restriction: parallelism comes from having many files.
//
// # Failures
//
// A corrupt gzip stream (bad header, bad checksum, truncated) fails the
// pipeline with an error naming the file, never a silent truncation; so
// does an empty .gz file, a file that became shorter than it was listed,
// and a gs:// object stored with Content-Encoding gzip under an
// uncompressed name. A date whose partition directory does not exist is
// legitimate: it yields no lines and a warning in the log. A root that does
// not exist (or its bucket), or that has no game_events/ directory (often a
// root one level too deep), fails the pipeline at run time; CheckRoot does
// the same check for launchers that want to fail before submitting. A glob
// of ReadGlob that matches nothing fails unless AllowEmpty is given.
//
// # Metrics
//
// Counters in the namespace "railyard": lake_files and lake_bytes (files
// matched and their stored, i.e. compressed, sizes; each file counted once
// however it is split), lake_lines (Raw elements emitted) and
// lake_blank_lines.
//
// # Limits
//
// Beam's gs:// file system lists by the glob's prefix up to the first "*"
// and filters the names with a regular expression ("*" within a segment,
// "**" across); it never sends the server a matchGlob, so listing works on
// fake-gcs-server (which ignores matchGlob). "?" cannot be used in gs://
// globs (Beam parses the glob as a URL, where "?" starts the query), and
// "[…]" only after the first "*" (before it, it is taken literally as part
// of the listing prefix): ReadGlob rejects such globs rather than match
// nothing. Each listed gs:// file costs one more request for
// its size. The lake is assumed immutable: an uncompressed file that grows
// after it was listed is read up to its listed size (its lines starting
// later are not read); one that shrinks fails the read.
package lakeio
