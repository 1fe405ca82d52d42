package idset

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func uuidOf(n uint64) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", n>>32, (n>>16)&0xffff, n&0xffff, (n*7)&0xffff, (n*2654435761)&0xffffffffffff)
}

// contents lists a set's ids with their expiries, sorted.
func contents(s *Set) []string {
	var out []string
	for u, exp := range s.uuids {
		out = append(out, fmt.Sprintf("%s@%d", formatUUID(u), exp))
	}
	for id, exp := range s.others {
		out = append(out, fmt.Sprintf("%s@%d", id, exp))
	}
	slices.Sort(out)
	return out
}

func TestAddContainsForget(t *testing.T) {
	s := New()
	ids := []string{uuidOf(1), uuidOf(2), "csv-abc", "UPPER-" + uuidOf(3)[6:], ""}
	for i, id := range ids {
		if !s.Add(id, int64(100+i)) {
			t.Fatalf("Add(%q) = false on an empty set", id)
		}
		if s.Add(id, 999) {
			t.Fatalf("second Add(%q) = true", id)
		}
	}
	if s.Len() != len(ids) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(ids))
	}
	if next, ok := s.Next(); !ok || next != 100 {
		t.Fatalf("Next = %d, %v; want 100", next, ok)
	}
	if n := s.Forget(101); n != 2 {
		t.Fatalf("Forget(101) removed %d, want 2 (expiries 100 and 101)", n)
	}
	for i, id := range ids {
		if got, want := s.Contains(id), i >= 2; got != want {
			t.Errorf("Contains(%q) = %v after Forget(101), want %v", id, got, want)
		}
	}
	if next, _ := s.Next(); next != 102 {
		t.Fatalf("Next = %d after Forget(101), want 102", next)
	}
	// A forgotten id can come back with another expiry.
	if !s.Add(ids[0], 50) || !s.Contains(ids[0]) {
		t.Fatal("a forgotten id could not be added again")
	}
	if next, _ := s.Next(); next != 50 {
		t.Fatalf("Next = %d, want 50", next)
	}
}

func TestUUIDForms(t *testing.T) {
	id := "0123abcd-4567-89ef-0123-456789abcdef"
	u, ok := parseUUID(id)
	if !ok || formatUUID(u) != id {
		t.Fatalf("parseUUID(%q) = %x, %v; round trip %q", id, u, ok, formatUUID(u))
	}
	for _, notCanonical := range []string{
		"0123ABCD-4567-89ef-0123-456789abcdef", // uppercase: another string, another id
		"0123abcd456789ef0123456789abcdef",
		"0123abcd-4567-89ef-0123-456789abcdeg",
		"{0123abcd-4567-89ef-0123-456789abcd}",
	} {
		if _, ok := parseUUID(notCanonical); ok {
			t.Errorf("parseUUID(%q) accepted a non-canonical form", notCanonical)
		}
	}
	s := New()
	s.Add(id, 1)
	if s.Contains("0123ABCD-4567-89ef-0123-456789abcdef") {
		t.Fatal("the uppercase spelling is a different id")
	}
}

// TestReplayRebuildsTheSet drives a set with random adds (fresh ids,
// repeats, ids forgotten and added again, UUIDs and other strings) and
// forgets, logging as DedupeStream does, and checks after every step that
// replaying the log into an empty set gives the same contents, and that a
// snapshot does too.
func TestReplayRebuildsTheSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	live := New()
	var log [][]byte
	for step := range 400 {
		if rng.IntN(5) == 0 {
			t0 := int64(rng.IntN(1000))
			live.Forget(t0)
			log = append(log, ForgetBlock(t0))
		} else {
			var a Adds
			for range rng.IntN(20) {
				var id string
				if rng.IntN(3) == 0 {
					id = fmt.Sprintf("other-%d", rng.IntN(300))
				} else {
					id = uuidOf(uint64(rng.IntN(300)))
				}
				exp := int64(rng.IntN(1200))
				if live.Add(id, exp) {
					a.Add(id, exp)
				}
			}
			if b := a.Block(); b != nil {
				log = append(log, b)
			}
		}
		replayed := New()
		for _, b := range log {
			if _, err := replayed.Replay(b); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		if got, want := contents(replayed), contents(live); !slices.Equal(got, want) {
			t.Fatalf("step %d: replayed log has %d ids, the live set %d:\n%v\n%v", step, len(got), len(want), got, want)
		}
		snap := New()
		for _, b := range live.Snapshot(64) {
			if _, err := snap.Replay(b); err != nil {
				t.Fatalf("step %d: snapshot: %v", step, err)
			}
		}
		if got, want := contents(snap), contents(live); !slices.Equal(got, want) {
			t.Fatalf("step %d: snapshot has %d ids, the live set %d", step, len(got), len(want))
		}
		// Next is the earliest expiry.
		var earliest int64 = -1
		for _, e := range live.uuids {
			if earliest < 0 || e < earliest {
				earliest = e
			}
		}
		for _, e := range live.others {
			if earliest < 0 || e < earliest {
				earliest = e
			}
		}
		if next, ok := live.Next(); ok != (earliest >= 0) || (ok && next != earliest) {
			t.Fatalf("step %d: Next = %d, %v; the earliest expiry is %d", step, next, ok, earliest)
		}
	}
}

func TestReplayRejectsCorruptBlocks(t *testing.T) {
	var a Adds
	a.Add(uuidOf(7), 10)
	a.Add("x", 20)
	good := a.Block()
	for _, bad := range [][]byte{nil, {'Z'}, good[:len(good)-1], append(append([]byte(nil), good...), 0), {blockForget}, {blockAdds, 5, tagUUID}} {
		if _, err := New().Replay(bad); err == nil {
			t.Errorf("Replay(%x) accepted a corrupt block", bad)
		}
	}
	if n, err := New().Replay(good); err != nil || n != 2 {
		t.Fatalf("Replay(good) = %d, %v", n, err)
	}
}

// BenchmarkAdd measures adding fresh UUID ids (the hot path of
// DedupeStream) and reports the heap bytes per id retained.
func BenchmarkAdd(b *testing.B) {
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = uuidOf(uint64(i) * 11400714819323198485)
	}
	s := New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%len(ids) == 0 {
			s = New()
		}
		s.Add(ids[i%len(ids)], int64(i))
	}
}
