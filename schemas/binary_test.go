package schemas

import (
	"testing"
	"time"
)

func TestEventBinaryRoundTrip(t *testing.T) {
	for _, e := range []GameEvent{
		{},
		{EventID: "e1", User: "ü", Team: "t", Score: 1_000_000, EventTime: time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.UTC), Platform: "ios", SchemaVersion: 1},
		{EventID: "x", Score: -5, EventTime: time.Unix(0, 0).UTC(), SchemaVersion: 99},
	} {
		b := AppendEvent([]byte("prefix"), e)
		got, rest, err := ReadEvent(b[len("prefix"):])
		if err != nil || len(rest) != 0 {
			t.Fatalf("ReadEvent(%+v) = %v, rest %d", e, err, len(rest))
		}
		if e.EventTime.IsZero() {
			e.EventTime = time.Unix(0, e.EventTime.UnixNano()).UTC()
		}
		if got != e {
			t.Fatalf("round trip: got %+v want %+v", got, e)
		}
		if dec, err := decodeEvent(encodeEvent(got)); err != nil || dec != got {
			t.Fatalf("coder round trip: %+v, %v", dec, err)
		}
	}
	if _, err := decodeEvent(append(encodeEvent(GameEvent{EventID: "a"}), 0)); err == nil {
		t.Fatal("decodeEvent accepted trailing bytes")
	}
}

// FuzzReadEvent: arbitrary bytes never panic, and whatever decodes
// re-encodes to a prefix-identical form.
func FuzzReadEvent(f *testing.F) {
	f.Add(AppendEvent(nil, GameEvent{EventID: "e1", User: "u", Team: "t", Score: 3, EventTime: time.Unix(1, 2).UTC(), SchemaVersion: 1}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, rest, err := ReadEvent(b)
		if err != nil {
			return
		}
		again, rest2, err := ReadEvent(AppendEvent(nil, e))
		if err != nil || len(rest2) != 0 || again != e {
			t.Fatalf("re-encoding %+v: %+v, %v", e, again, err)
		}
		_ = rest
	})
}
