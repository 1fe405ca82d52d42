// Package gen generates deterministic synthetic game events — Beam's
// mobile-gaming scenario of users in teams scoring points — for tests,
// benchmarks and demos of every railyard layer.
//
// A Generator is an iterator over Records in ARRIVAL order, the order in
// which a streaming source (Pub/Sub, the ingest gateway) would see them. It
// keeps O(1) memory in the number of events (a bounded ring of recent lines
// for duplicates, plus tables sized by the number of teams), so 10M or more
// events are fine. The same Config always yields byte-identical records:
// randomness comes from math/rand/v2's PCG seeded with Config.Seed.
//
// What a run contains (all rates are per line and configurable):
//
//   - Arrival times spread evenly, with jitter, over [Start, Start+Hours),
//     millisecond precision, non-decreasing.
//   - Valid events: event time = arrival − a small device delay (seconds,
//     never before Start). Users are Zipf-skewed within their team and teams
//     are Zipf-skewed too; each user belongs to exactly one team (user k is
//     in team k mod Teams, named like Beam's "user7_AmberDingo"). Scores are
//     plausible game points, 1..97.
//   - Late events (Config.LateRate of the valid unique events): event time =
//     arrival − lateness (MinLateness..MaxLateness, default 10 min..2 h),
//     only where that stays at or after Start.
//   - Duplicates: the exact bytes (hence the same event_id) of a valid line
//     that arrived at most DuplicateMaxAge (default 10 min) before, among
//     the last DuplicateWindow valid lines, re-sent as an at-least-once
//     client or source would.
//   - Invalid lines: each validation class of schemas.DecodeLine in turn
//     (malformed JSON/CSV, missing or empty field, wrong type, score not an
//     integer or out of range, unparseable event time, event time before
//     2000, string longer than 128 bytes, unknown schema_version, invalid
//     UTF-8 in CSV), cycling deterministically so that even few invalid
//     lines cover every class.
//
// Each Record says what it is (Kind, and Reason for invalid lines) and the
// Generator's Summary counts them, so consumers can reconcile:
//
//	lines = valid unique + duplicates + invalid    (late ⊆ valid unique)
//
// Validate generated lines with a processing time at or after their arrival
// time (Record.ArrivalTime, or Config.End()): an event time more than an hour
// after "now" is rejected as event_time_in_future by schemas.DecodeLine.
//
// Event ids are unique per (seed, line): a JSON event_id is 128 bits derived
// bijectively from the seed and the line's sequence number. A CSV line's id
// is the hash of the line (schemas.CSVEventID); its readable_time field
// carries six sub-millisecond digits, a bijection of the sequence number
// modulo 10⁶, so that two distinct events never produce the same CSV line
// (and id) within 10⁶ lines, and practically never beyond.
//
// LakeWriter and WriteLake write records into the lake layout of
// schemas/catalog ("game_events/dt=YYYY-MM-DD/hr=HH/part-s<seed>-NNNNN.jsonl.gz",
// partitioned by event hour) on a local directory or gs://bucket/prefix,
// through Beam's filesystem package.
package gen
