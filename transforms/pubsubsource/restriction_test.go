package pubsubsource

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

func TestPullTracker(t *testing.T) {
	t0 := time.UnixMilli(1_000_000)
	tr := newPullTracker(readRestriction{})
	if !tr.TryClaim(pullClaim{Messages: 3, At: t0}) || !tr.TryClaim(pullClaim{Messages: 0, At: t0.Add(time.Second)}) ||
		!tr.TryClaim(pullClaim{Messages: 0, At: t0.Add(2 * time.Second)}) {
		t.Fatal("claims on a running restriction failed")
	}
	if got := tr.GetRestriction().(readRestriction).QuietSinceMillis; got != t0.Add(time.Second).UnixMilli() {
		t.Errorf("quiet since %d, want the first empty Pull's time", got)
	}
	if done, rem := tr.GetProgress(); done != 3 || rem != 1 {
		t.Errorf("progress %v, %v", done, rem)
	}
	// Dynamic splits are refused: a reader has no range to divide.
	if p, r, err := tr.TrySplit(0.5); err != nil || r != nil || p.(readRestriction).Stopped {
		t.Errorf("TrySplit(0.5) = %v, %v, %v; want no split", p, r, err)
	}
	if !tr.TryClaim(handoverClaim{Token: 7, AckIDs: []string{"a", "b"}}) {
		t.Fatal("handover refused")
	}
	if !tr.TryClaim(reportClaim{AtMillis: t0.Add(2 * time.Second).UnixMilli()}) {
		t.Fatal("progress report refused")
	}
	p, r, err := tr.TrySplit(0)
	if err != nil {
		t.Fatal(err)
	}
	// The residual carries the quiet time, the handover, the messages read
	// so far and the progress reports' time and number.
	want := readRestriction{QuietSinceMillis: t0.Add(time.Second).UnixMilli(), PendingToken: 7, PendingAckIDs: []string{"a", "b"},
		MessagesRead: 3, ReportedAtMillis: t0.Add(2 * time.Second).UnixMilli(), Reports: 1}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("residual %+v, want %+v", r, want)
	}
	if !p.(readRestriction).Stopped || !tr.IsDone() || tr.IsBounded() {
		t.Errorf("primary %+v done %v bounded %v; want a stopped, done, unbounded primary", p, tr.IsDone(), tr.IsBounded())
	}
	if tr.TryClaim(pullClaim{Messages: 1, At: t0}) {
		t.Error("claim after the checkpoint succeeded")
	}
	if _, r, _ := tr.TrySplit(0); r != nil {
		t.Errorf("second checkpoint residual %+v", r)
	}

	// Messages end the quiet time; StopAfterIdle stops.
	tr = newPullTracker(readRestriction{QuietSinceMillis: 5})
	tr.TryClaim(pullClaim{Messages: 2, At: t0})
	if got := tr.GetRestriction().(readRestriction).QuietSinceMillis; got != 0 {
		t.Errorf("quiet since %d after messages", got)
	}
	if tr.TryClaim(stopClaim{}) || !tr.IsDone() || tr.GetError() != nil {
		t.Errorf("stop: done %v, err %v", tr.IsDone(), tr.GetError())
	}
	if _, r, _ := tr.TrySplit(0); r != nil {
		t.Errorf("a stopped reader checkpointed a residual %+v", r)
	}

	tr = newPullTracker(readRestriction{})
	if tr.TryClaim(42) || tr.GetError() == nil || !strings.Contains(tr.GetError().Error(), "cannot claim int 42") {
		t.Errorf("bad claim: error %v", tr.GetError())
	}
}

func TestWatermarkEstimatorIsMonotonic(t *testing.T) {
	e := &watermarkEstimator{State: mtime.MinTimestamp.Milliseconds()}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	e.advanceTo(mtime.FromTime(at))
	e.advanceTo(mtime.FromTime(at.Add(-time.Hour)))
	if got := e.CurrentWatermark(); !got.Equal(at) {
		t.Errorf("watermark %v, want %v (never back)", got, at)
	}
	e.advanceTo(mtime.FromTime(at.Add(time.Minute)))
	if got := e.CurrentWatermark(); !got.Equal(at.Add(time.Minute)) {
		t.Errorf("watermark %v, want %v", got, at.Add(time.Minute))
	}
}

func TestRestrictionCoderRoundTrip(t *testing.T) {
	for _, r := range []readRestriction{
		{},
		{QuietSinceMillis: 1796660989009, Stopped: true},
		{QuietSinceMillis: -1, PendingToken: 42, PendingAckIDs: []string{"a", "", "projects/p/subscriptions/s:ack-ÿ"}},
		{MessagesRead: 300, ReportedAtMillis: 1796660989009, Reports: 7},
	} {
		got, err := decodeRestriction(encodeRestriction(r))
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("round trip of %+v = %+v, %v", r, got, err)
		}
	}
	full := encodeRestriction(readRestriction{PendingToken: 7, PendingAckIDs: []string{"ack-1", "ack-2"}})
	for i := range len(full) {
		if _, err := decodeRestriction(full[:i]); err == nil {
			t.Errorf("a restriction cut to %d of %d bytes decoded without error", i, len(full))
		}
	}
	if _, err := decodeRestriction(append(full, 0)); err == nil {
		t.Error("trailing bytes decoded without error")
	}
}
