package schemas

import (
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeLine checks that the decoder never panics, that every failure is a
// typed *ValidationError with a known reason, and that every accepted event
// satisfies the validation rules and survives a MarshalLine round trip.
// The seed corpus lives in testdata/fuzz/FuzzDecodeLine.
func FuzzDecodeLine(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte("user2_AmberCockatoo,AmberCockatoo,13,1447719060000,2015-11-16 16:11:03.921"))
	known := map[Reason]bool{}
	for _, r := range Reasons {
		known[r] = true
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := DecodeLine(line, now)
		if err != nil {
			ve, ok := err.(*ValidationError)
			if !ok || !known[ve.Reason] {
				t.Fatalf("untyped or unknown error %T %v", err, err)
			}
			return
		}
		if verr := e.Validate(now); verr != nil {
			t.Fatalf("accepted event fails Validate: %v", verr)
		}
		for _, s := range []string{e.EventID, e.User, e.Team, e.Platform} {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q", s)
			}
		}
		again, err := DecodeLine(e.MarshalLine(), now)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", e.MarshalLine(), err)
		}
		if again != e {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, again)
		}
	})
}
