package idset

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Set holds ids, each with its expiry (an instant in Unix milliseconds). It
// is not safe for concurrent use.
//
// Canonical UUIDs live in a map keyed by their 16 bytes, other ids in a map
// keyed by the string; each map has a min-heap by expiry, so that Forget
// costs O(log n) per id it removes. An id is in a heap exactly while it is
// in its map.
type Set struct {
	uuids  map[[16]byte]int64
	uheap  []uuidEntry
	others map[string]int64
	oheap  []stringEntry
}

type uuidEntry struct {
	exp int64
	id  [16]byte
}

type stringEntry struct {
	exp int64
	id  string
}

// New returns an empty set.
func New() *Set {
	return &Set{uuids: map[[16]byte]int64{}, others: map[string]int64{}}
}

// Len is the number of ids in the set.
func (s *Set) Len() int { return len(s.uuids) + len(s.others) }

// Contains reports whether id is in the set.
func (s *Set) Contains(id string) bool {
	if u, ok := parseUUID(id); ok {
		_, in := s.uuids[u]
		return in
	}
	_, in := s.others[id]
	return in
}

// Add puts id into the set with expiry exp and reports true, or reports
// false and changes nothing if id is already in it.
func (s *Set) Add(id string, exp int64) bool {
	if u, ok := parseUUID(id); ok {
		return s.addUUID(u, exp)
	}
	return s.addString(id, exp)
}

func (s *Set) addUUID(u [16]byte, exp int64) bool {
	if _, in := s.uuids[u]; in {
		return false
	}
	s.uuids[u] = exp
	s.uheap = append(s.uheap, uuidEntry{exp: exp, id: u})
	up(s.uheap, len(s.uheap)-1, func(e uuidEntry) int64 { return e.exp })
	return true
}

func (s *Set) addString(id string, exp int64) bool {
	if _, in := s.others[id]; in {
		return false
	}
	s.others[id] = exp
	s.oheap = append(s.oheap, stringEntry{exp: exp, id: id})
	up(s.oheap, len(s.oheap)-1, func(e stringEntry) int64 { return e.exp })
	return true
}

// Forget removes every id whose expiry is at or before t and returns how
// many it removed.
func (s *Set) Forget(t int64) int {
	n := 0
	for len(s.uheap) > 0 && s.uheap[0].exp <= t {
		delete(s.uuids, s.uheap[0].id)
		s.uheap = pop(s.uheap, func(e uuidEntry) int64 { return e.exp })
		n++
	}
	for len(s.oheap) > 0 && s.oheap[0].exp <= t {
		delete(s.others, s.oheap[0].id)
		s.oheap = pop(s.oheap, func(e stringEntry) int64 { return e.exp })
		n++
	}
	// Give memory back when the set has shrunk a lot (after a burst).
	if cap(s.uheap) > 1024 && len(s.uheap) < cap(s.uheap)/4 {
		s.uheap = append([]uuidEntry(nil), s.uheap...)
		s.uuids = cloneMap(s.uuids)
	}
	if cap(s.oheap) > 1024 && len(s.oheap) < cap(s.oheap)/4 {
		s.oheap = append([]stringEntry(nil), s.oheap...)
		s.others = cloneMap(s.others)
	}
	return n
}

// Next returns the earliest expiry in the set; ok is false when it is
// empty.
func (s *Set) Next() (exp int64, ok bool) {
	switch {
	case len(s.uheap) > 0 && len(s.oheap) > 0:
		return min(s.uheap[0].exp, s.oheap[0].exp), true
	case len(s.uheap) > 0:
		return s.uheap[0].exp, true
	case len(s.oheap) > 0:
		return s.oheap[0].exp, true
	}
	return 0, false
}

func cloneMap[K comparable](m map[K]int64) map[K]int64 {
	c := make(map[K]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// up and pop maintain a binary min-heap ordered by exp (container/heap's
// interface calls cost more than the work here).
func up[E any](h []E, i int, exp func(E) int64) {
	for i > 0 {
		p := (i - 1) / 2
		if exp(h[p]) <= exp(h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func pop[E any](h []E, exp func(E) int64) []E {
	last := len(h) - 1
	h[0] = h[last]
	var zero E
	h[last] = zero
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			return h
		}
		c := l
		if r := l + 1; r < len(h) && exp(h[r]) < exp(h[l]) {
			c = r
		}
		if exp(h[i]) <= exp(h[c]) {
			return h
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// parseUUID decodes a canonical lowercase UUID
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx). Any other spelling, uppercase
// included, is not canonical: it stays a string, so that two different
// strings never map to the same key.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := nibble(s[i])
		lo, ok2 := nibble(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

func formatUUID(u [16]byte) string {
	var b [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[u[i]>>4], hexDigits[u[i]&0xf]
		j += 2
	}
	return string(b[:])
}

// Log blocks.
const (
	blockAdds   = 'A'
	blockForget = 'F'
	tagUUID     = 1
	tagString   = 2
)

// Adds collects ids added to a Set, for one Adds block.
type Adds struct {
	b    []byte
	n    int
	prev int64
}

// Add records that id was added with expiry exp.
func (a *Adds) Add(id string, exp int64) {
	if u, ok := parseUUID(id); ok {
		a.b = append(a.b, tagUUID)
		a.b = append(a.b, u[:]...)
	} else {
		a.b = append(a.b, tagString)
		a.b = binary.AppendUvarint(a.b, uint64(len(id)))
		a.b = append(a.b, id...)
	}
	a.b = binary.AppendVarint(a.b, exp-a.prev)
	a.prev = exp
	a.n++
}

// Len is the number of ids recorded.
func (a *Adds) Len() int { return a.n }

// Block returns the Adds block of the ids recorded (nil if none) and
// resets a.
func (a *Adds) Block() []byte {
	if a.n == 0 {
		return nil
	}
	b := binary.AppendUvarint([]byte{blockAdds}, uint64(a.n))
	b = append(b, a.b...)
	*a = Adds{b: a.b[:0]}
	return b
}

// ForgetBlock is the block recording Forget(t).
func ForgetBlock(t int64) []byte {
	return binary.AppendVarint([]byte{blockForget}, t)
}

var errCorrupt = errors.New("idset: corrupt log block")

// Replay applies one log block to s: an Adds block adds its ids (an id
// already present keeps its expiry, as Add does), a Forget block forgets
// as Forget does. It returns the number of ids the block recorded.
func (s *Set) Replay(block []byte) (int, error) {
	if len(block) == 0 {
		return 0, errCorrupt
	}
	kind, b := block[0], block[1:]
	switch kind {
	case blockForget:
		t, w := binary.Varint(b)
		if w <= 0 || w != len(b) {
			return 0, errCorrupt
		}
		s.Forget(t)
		return 0, nil
	case blockAdds:
	default:
		return 0, fmt.Errorf("idset: unknown log block kind %q", kind)
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return 0, errCorrupt
	}
	b = b[w:]
	var prev int64
	for range n {
		if len(b) == 0 {
			return 0, errCorrupt
		}
		tag := b[0]
		b = b[1:]
		var u [16]byte
		var id string
		switch tag {
		case tagUUID:
			if len(b) < 16 {
				return 0, errCorrupt
			}
			copy(u[:], b)
			b = b[16:]
		case tagString:
			l, w := binary.Uvarint(b)
			if w <= 0 || l > uint64(len(b)-w) {
				return 0, errCorrupt
			}
			id = string(b[w : w+int(l)])
			b = b[w+int(l):]
		default:
			return 0, errCorrupt
		}
		d, w := binary.Varint(b)
		if w <= 0 {
			return 0, errCorrupt
		}
		b = b[w:]
		prev += d
		if tag == tagUUID {
			s.addUUID(u, prev)
		} else {
			s.addString(id, prev)
		}
	}
	if len(b) != 0 {
		return 0, errCorrupt
	}
	return int(n), nil
}

// Snapshot returns Adds blocks, each at most about maxBytes long, that
// together record every id of s with its expiry: replayed into an empty
// set they rebuild s. It is how a log full of forgotten ids is compacted.
func (s *Set) Snapshot(maxBytes int) [][]byte {
	var blocks [][]byte
	var a Adds
	flush := func() {
		if b := a.Block(); b != nil {
			blocks = append(blocks, b)
		}
	}
	for _, e := range s.uheap {
		a.Add(formatUUID(e.id), e.exp)
		if len(a.b) >= maxBytes {
			flush()
		}
	}
	for _, e := range s.oheap {
		a.Add(e.id, e.exp)
		if len(a.b) >= maxBytes {
			flush()
		}
	}
	flush()
	return blocks
}
