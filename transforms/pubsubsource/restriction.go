package pubsubsource

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// readRestriction is the work of one reader. Pub/Sub has no offsets to
// split on: the work is "pull until stopped", and a restriction only
// carries what must survive a checkpoint.
type readRestriction struct {
	// QuietSinceMillis is the processing time (Unix milliseconds) of the
	// first of the consecutive pulls that returned nothing; 0 while
	// messages are arriving.
	QuietSinceMillis int64
	// Stopped marks a restriction with no work left: the primary of a
	// checkpoint, a drained (truncated) one, or one stopped by
	// StopAfterIdle.
	Stopped bool
	// PendingToken and PendingAckIDs carry the ack IDs of the bundle that
	// checkpointed into the restriction it resumes with, when that
	// bundle's finalization callback cannot run (see ackHandover in
	// read.go): the runner only starts the resumed restriction after it
	// committed the bundle that produced it, so the resumed reader acks
	// them first.
	PendingToken  int64
	PendingAckIDs []string
	// MessagesRead counts the messages emitted by the bundles before this
	// restriction (the reader's earlier checkpoints); ReportedAtMillis and
	// Reports are the time (Unix ms) and number of its progress reports so
	// far (ReadWithProgress).
	MessagesRead     int64
	ReportedAtMillis int64
	Reports          int64
}

// pullClaim is the position a reader claims before it emits the messages
// of one Pull, or after a Pull returned nothing.
type pullClaim struct {
	Messages int
	At       time.Time
}

// stopClaim is claimed to finish the restriction (StopAfterIdle).
type stopClaim struct{}

// reportClaim is claimed when the reader reports its progress, so that
// the next report's time and number survive a checkpoint.
type reportClaim struct {
	AtMillis int64
}

// handoverClaim is claimed just before a self-checkpoint to hand the
// bundle's ack IDs to the residual restriction.
type handoverClaim struct {
	Token  int64
	AckIDs []string
}

// pullTracker tracks a readRestriction. Every Pull is claimed, so a
// checkpoint the runner asks for while a Pull is under way wins: the claim
// fails and the reader gives the pulled messages back (nack) instead of
// emitting them.
type pullTracker struct {
	rest     readRestriction
	claimed  int64 // messages claimed
	handover *handoverClaim
	err      error
}

func newPullTracker(rest readRestriction) *pullTracker { return &pullTracker{rest: rest} }

// TryClaim claims a pullClaim, or stops the restriction on a stopClaim.
func (t *pullTracker) TryClaim(pos any) bool {
	if t.rest.Stopped || t.err != nil {
		return false
	}
	switch p := pos.(type) {
	case pullClaim:
		if p.Messages > 0 {
			t.rest.QuietSinceMillis = 0
			t.claimed += int64(p.Messages)
		} else if t.rest.QuietSinceMillis == 0 {
			t.rest.QuietSinceMillis = p.At.UnixMilli()
		}
		return true
	case stopClaim:
		t.rest.Stopped = true
		return false
	case handoverClaim:
		t.handover = &p
		return true
	case reportClaim:
		t.rest.ReportedAtMillis = p.AtMillis
		t.rest.Reports++
		return true
	default:
		t.err = fmt.Errorf("pubsubsource: cannot claim %T %v", pos, pos)
		return false
	}
}

// GetError returns the error of an invalid claim.
func (t *pullTracker) GetError() error { return t.err }

// TrySplit checkpoints at fraction 0: the primary stops, the residual
// continues with the quiet-time state and any handed-over ack IDs. Other fractions do not split: a
// Pub/Sub reader has no remaining range to divide (a second reader of the
// same subscription would not take work from this one).
func (t *pullTracker) TrySplit(fraction float64) (primary, residual any, err error) {
	if t.rest.Stopped || t.err != nil || fraction > 0 {
		return t.rest, nil, nil
	}
	r := readRestriction{QuietSinceMillis: t.rest.QuietSinceMillis, MessagesRead: t.rest.MessagesRead + t.claimed,
		ReportedAtMillis: t.rest.ReportedAtMillis, Reports: t.rest.Reports}
	if t.handover != nil {
		r.PendingToken, r.PendingAckIDs = t.handover.Token, t.handover.AckIDs
	}
	residual = r
	t.rest.Stopped = true
	return t.rest, residual, nil
}

// GetProgress reports the claimed messages as done; the rest of the
// subscription is unknown, reported as 1 while running.
func (t *pullTracker) GetProgress() (done, remaining float64) {
	if t.rest.Stopped {
		return float64(t.claimed), 0
	}
	return float64(t.claimed), 1
}

// IsDone reports whether the restriction was stopped or checkpointed.
func (t *pullTracker) IsDone() bool { return t.rest.Stopped }

// GetRestriction returns the current restriction.
func (t *pullTracker) GetRestriction() any { return t.rest }

// IsBounded reports false: a subscription has no end.
func (t *pullTracker) IsBounded() bool { return false }

// watermarkEstimator is a manual, monotonic watermark estimator. The reader
// advances it after each Pull to the earliest event time of the pulled
// messages, and on an idle subscription to wall-clock now minus a small
// allowance. Its state is the watermark in Unix milliseconds.
type watermarkEstimator struct {
	State int64
}

// CurrentWatermark returns the watermark.
func (e *watermarkEstimator) CurrentWatermark() time.Time {
	return time.UnixMilli(e.State).UTC()
}

// advanceTo moves the watermark forward to t; it never moves back.
func (e *watermarkEstimator) advanceTo(t mtime.Time) {
	if ms := t.Milliseconds(); ms > e.State {
		e.State = ms
	}
}

// encodeRestriction is readRestriction's coder: varints for the numbers, a
// byte for Stopped, the pending ack IDs, each length-prefixed, then the
// progress counters.
//
// The restriction crosses the runner between the SDF's split and process
// stages. With Beam's schema (row) coder, which RegisterType alone would
// give it, Flink's Java side decodes the row itself and misreads it: a
// Flink job's split→process exchange spun decoding a never-ending list of
// strings, so no checkpoint ever completed (Beam 2.62 Flink job server, Go
// SDK 2.77). A coder of the Go SDK's own is opaque to the runner, which
// only passes the length-prefixed bytes on.
func encodeRestriction(r readRestriction) []byte {
	b := make([]byte, 0, 32)
	b = binary.AppendVarint(b, r.QuietSinceMillis)
	if r.Stopped {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, r.PendingToken)
	b = binary.AppendUvarint(b, uint64(len(r.PendingAckIDs)))
	for _, id := range r.PendingAckIDs {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	b = binary.AppendVarint(b, r.MessagesRead)
	b = binary.AppendVarint(b, r.ReportedAtMillis)
	b = binary.AppendVarint(b, r.Reports)
	return b
}

// decodeRestriction reverses encodeRestriction.
func decodeRestriction(b []byte) (readRestriction, error) {
	var r readRestriction
	bad := func(what string) (readRestriction, error) {
		return readRestriction{}, fmt.Errorf("pubsubsource: corrupt restriction (%s) in %d bytes", what, len(b))
	}
	v, n := binary.Varint(b)
	if n <= 0 {
		return bad("quiet since")
	}
	r.QuietSinceMillis, b = v, b[n:]
	if len(b) < 1 || b[0] > 1 {
		return bad("stopped")
	}
	r.Stopped, b = b[0] == 1, b[1:]
	if v, n = binary.Varint(b); n <= 0 {
		return bad("pending token")
	}
	r.PendingToken, b = v, b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return bad("ack ID count")
	}
	b = b[n:]
	if count > 0 {
		r.PendingAckIDs = make([]string, 0, count)
	}
	for range count {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return bad("ack ID")
		}
		r.PendingAckIDs = append(r.PendingAckIDs, string(b[n:n+int(l)]))
		b = b[n+int(l):]
	}
	for _, f := range []*int64{&r.MessagesRead, &r.ReportedAtMillis, &r.Reports} {
		if v, n = binary.Varint(b); n <= 0 {
			return bad("progress")
		}
		*f, b = v, b[n:]
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return r, nil
}
