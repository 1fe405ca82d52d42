package transforms

import (
	"hash/maphash"
	"iter"
	"time"

	"github.com/railyard-dev/railyard/schemas"
)

// UniqueEvents keeps one copy per event_id of the events added to it, with
// Dedupe's rule (KeptCopy), in plain Go: for a DoFn that deduplicates a
// bounded part of the input by itself, such as the batch job's hour stage
// (one lake hour partition at a time). It is not safe for concurrent use.
//
// This set is what bounds such a stage's working set, so it is compact:
// per unique event, the id's bytes, a 48-byte record (user, team and
// platform names are stored once each) and 8 to 16 bytes of hash table,
// in chunks that never need copying as the set grows. Reset empties it
// and keeps its memory for the next use.
type UniqueEvents struct {
	seed    maphash.Seed
	slots   []uint32 // open addressing: 0 empty, else record index + 1
	records [][]uniqueRecord
	n       int // records
	ids     [][]byte
	idCur   int // the id chunk being filled
	names   map[string]uint32
	nameOf  []string
	added   int64
}

const (
	recordChunk = 4096    // records per chunk
	idChunk     = 1 << 20 // bytes per id chunk
)

// uniqueRecord is a kept copy; nanos is the event time in Unix
// nanoseconds, which covers every accepted event time (2000 to now + 1 h)
// up to the year 2262. The id is ids[idChunk][idPos:idPos+idLen].
type uniqueRecord struct {
	nanos, score, schema  int64
	idChunk, idPos, idLen uint32
	user, team, platform  uint32
}

// Add adds one valid event.
func (u *UniqueEvents) Add(e schemas.GameEvent) {
	if u.slots == nil {
		u.seed = maphash.MakeSeed()
		u.slots = make([]uint32, 1024)
		u.names = map[string]uint32{}
	}
	u.added++
	slot := u.find(e.EventID)
	if i := u.slots[slot]; i != 0 {
		r := u.record(int(i - 1))
		old := u.event(*r)
		if keep := KeptCopy(old, e); keep != old {
			r.nanos, r.score, r.schema = keep.EventTime.UnixNano(), keep.Score, keep.SchemaVersion
			r.user, r.team, r.platform = u.intern(keep.User), u.intern(keep.Team), u.intern(keep.Platform)
		}
		return
	}
	r := uniqueRecord{
		nanos: e.EventTime.UnixNano(), score: e.Score, schema: e.SchemaVersion,
		user: u.intern(e.User), team: u.intern(e.Team), platform: u.intern(e.Platform),
	}
	r.idChunk, r.idPos, r.idLen = u.storeID(e.EventID)
	if u.n%recordChunk == 0 && u.n/recordChunk == len(u.records) {
		u.records = append(u.records, make([]uniqueRecord, recordChunk))
	}
	*u.record(u.n) = r
	u.n++
	u.slots[slot] = uint32(u.n)
	if 2*u.n > len(u.slots) {
		u.grow()
	}
}

func (u *UniqueEvents) record(i int) *uniqueRecord { return &u.records[i/recordChunk][i%recordChunk] }

func (u *UniqueEvents) id(r *uniqueRecord) []byte {
	return u.ids[r.idChunk][r.idPos : r.idPos+r.idLen]
}

// find returns the slot that holds id, or the empty slot where it goes.
func (u *UniqueEvents) find(id string) int {
	mask := len(u.slots) - 1
	for s := int(maphash.String(u.seed, id)) & mask; ; s = (s + 1) & mask {
		i := u.slots[s]
		if i == 0 || string(u.id(u.record(int(i-1)))) == id {
			return s
		}
	}
}

func (u *UniqueEvents) grow() {
	u.slots = make([]uint32, 2*len(u.slots))
	mask := len(u.slots) - 1
	for i := range u.n {
		s := int(maphash.Bytes(u.seed, u.id(u.record(i)))) & mask
		for u.slots[s] != 0 {
			s = (s + 1) & mask
		}
		u.slots[s] = uint32(i + 1)
	}
}

// storeID copies an id into the id chunks; ids never straddle chunks.
func (u *UniqueEvents) storeID(id string) (chunk, pos, n uint32) {
	for u.idCur < len(u.ids) && len(u.ids[u.idCur])+len(id) > cap(u.ids[u.idCur]) {
		u.idCur++
	}
	if u.idCur == len(u.ids) {
		u.ids = append(u.ids, make([]byte, 0, max(idChunk, len(id))))
	}
	k := u.idCur
	pos = uint32(len(u.ids[k]))
	u.ids[k] = append(u.ids[k], id...)
	return uint32(k), pos, uint32(len(id))
}

func (u *UniqueEvents) intern(name string) uint32 {
	if i, ok := u.names[name]; ok {
		return i
	}
	i := uint32(len(u.nameOf))
	u.names[name] = i
	u.nameOf = append(u.nameOf, name)
	return i
}

func (u *UniqueEvents) event(r uniqueRecord) schemas.GameEvent {
	return schemas.GameEvent{
		EventID: string(u.id(&r)), User: u.nameOf[r.user], Team: u.nameOf[r.team], Score: r.score,
		EventTime: time.Unix(0, r.nanos).UTC(), Platform: u.nameOf[r.platform], SchemaVersion: r.schema,
	}
}

// Unique is the number of distinct event ids added.
func (u *UniqueEvents) Unique() int64 { return int64(u.n) }

// Duplicates is the number of events added whose id had been added
// before: added = Unique + Duplicates.
func (u *UniqueEvents) Duplicates() int64 { return u.added - int64(u.n) }

// All yields the kept copy of every event id, in the order the ids were
// first added. The event times are in UTC.
func (u *UniqueEvents) All() iter.Seq[schemas.GameEvent] {
	return func(yield func(schemas.GameEvent) bool) {
		for i := range u.n {
			if !yield(u.event(*u.record(i))) {
				return
			}
		}
	}
}

// Reset empties the set and keeps its memory for the next use.
func (u *UniqueEvents) Reset() {
	clear(u.slots)
	u.n = 0
	for k := range u.ids {
		u.ids[k] = u.ids[k][:0]
	}
	u.idCur = 0
	clear(u.names)
	clear(u.nameOf)
	u.nameOf = u.nameOf[:0]
	u.added = 0
}
