// Package idset is the compact memory of transforms.DedupeStream: the set of
// event ids seen, each with the event-time instant after which it is
// forgotten, and the append-only log that persists the set in Beam state.
//
// Why it exists: keeping one Beam state cell (and one timer) per event id
// costs the runner a key, a state entry, a timer and a watermark hold per
// id, and every event three synchronous state round trips between the SDK
// harness and the runner (read, clear, append). DedupeStream instead keys
// events by a hash bucket of their id and processes them in batches; each
// bucket keeps its ids here, in worker memory, and appends each batch's new
// ids to a log in the bucket's bag state, so that the runner holds a few
// tens of bytes per id and sees a handful of state requests per batch.
//
// Keys: an id in canonical lowercase UUID form (what the ingest gateway and
// internal/gen issue) is stored as its 16 bytes, any other id as itself;
// a tag byte keeps the two forms apart, so distinct ids never share a key.
//
// The log is a sequence of blocks: an Adds block records ids added with
// their expiry, a Forget block the firing of the bucket's timer at some
// instant (every id present then with an expiry at or before it was
// removed). Replaying the blocks in order rebuilds exactly the set the
// writer had, including ids added again after being forgotten; Snapshot
// writes the live set alone, for compaction.
package idset
