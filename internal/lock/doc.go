// Package lock is a lease lock per key (the scheduler's key is job and
// partition) that holds across processes and machines, so that two
// schedulers, or a scheduler and a backfill, never run the same partition
// at once.
//
// A lock is an object that says who holds it and until when:
//
//   - gs://BUCKET/PREFIX: the object PREFIX/KEY.lock on Cloud Storage. It
//     is created with a does-not-exist precondition (only one creator
//     wins), renewed by rewriting it with a generation-match precondition
//     (only the holder of the current generation can), and deleted the same
//     way on release.
//   - file:///DIR: the file DIR/KEY.lock, with the same protocol; the
//     compare-and-swap steps run under flock(2) on DIR/.guard, so it holds
//     between processes of one machine (not over NFS).
//
// The holder renews its lease every third of the lease time. A holder that
// dies stops renewing; once the lease has expired, the next TryAcquire takes
// the lock over (again with a generation match, so only one taker wins). A
// holder that cannot renew before its own lease expires learns it through
// Lease.Lost and must stop the work the lock protects: someone else may
// take over from then on.
//
// Expiry compares the taker's clock with the expiry the holder wrote, so
// the lease must be much longer than the clock skew between machines (the
// default two minutes against NTP's milliseconds).
package lock
