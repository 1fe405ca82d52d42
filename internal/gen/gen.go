package gen

import (
	"fmt"
	"iter"
	"maps"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/railyard-dev/railyard/schemas"
)

// Kind says what a generated line is.
type Kind uint8

// The kinds of generated lines. Valid and Late lines are the valid unique
// events; a Duplicate repeats one of them byte for byte.
const (
	KindValid Kind = iota + 1
	KindLate
	KindDuplicate
	KindInvalid
)

// Kinds lists every Kind in order.
var Kinds = []Kind{KindValid, KindLate, KindDuplicate, KindInvalid}

func (k Kind) String() string {
	switch k {
	case KindValid:
		return "valid"
	case KindLate:
		return "late"
	case KindDuplicate:
		return "duplicate"
	case KindInvalid:
		return "invalid"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Record is one generated line with what it is.
type Record struct {
	// Seq is the 0-based position of the line in arrival order.
	Seq int64
	// Line is the line, without a line ending. Each Record has its own
	// slice: callers may keep it.
	Line []byte
	// Kind is what the line is.
	Kind Kind
	// Reason is why an invalid line fails schemas.DecodeLine; empty for
	// the other kinds.
	Reason schemas.Reason
	// EventID is the event id schemas.DecodeLine reads from a valid, late
	// or duplicate line; empty for invalid lines.
	EventID string
	// EventTime is the line's event time (millisecond precision). For an
	// invalid line it is the event time written in it if that is usable
	// (parseable and not before Start), else zero.
	EventTime time.Time
	// ArrivalTime is when a streaming source sees the line. Arrival times
	// never decrease along a run.
	ArrivalTime time.Time
}

// PartitionTime is the time whose hour partitions the line in the lake: the
// event time, or the arrival time for an invalid line with no usable event
// time.
func (r Record) PartitionTime() time.Time {
	if r.EventTime.IsZero() {
		return r.ArrivalTime
	}
	return r.EventTime
}

// Summary counts the lines generated so far. Lines = ValidUnique +
// Duplicates + Invalid, Late ⊆ ValidUnique, and InvalidByReason sums to
// Invalid; Check verifies that.
type Summary struct {
	Lines           int64                    `json:"lines"`
	ValidUnique     int64                    `json:"valid_unique"`
	Late            int64                    `json:"late"`
	Duplicates      int64                    `json:"duplicates"`
	Invalid         int64                    `json:"invalid"`
	InvalidByReason map[schemas.Reason]int64 `json:"invalid_by_reason"`
	// FirstArrival and LastArrival bound the arrival times.
	FirstArrival time.Time `json:"first_arrival"`
	LastArrival  time.Time `json:"last_arrival"`
	// MinEventTime and MaxEventTime bound the event times of the valid,
	// late and duplicate lines.
	MinEventTime time.Time `json:"min_event_time"`
	MaxEventTime time.Time `json:"max_event_time"`
}

// Valid is the number of lines that decode as valid events: the valid
// unique events and their duplicates.
func (s Summary) Valid() int64 { return s.ValidUnique + s.Duplicates }

// Check verifies that the counts reconcile.
func (s Summary) Check() error {
	if got := s.ValidUnique + s.Duplicates + s.Invalid; got != s.Lines {
		return fmt.Errorf("gen: summary does not reconcile: lines %d ≠ valid unique %d + duplicates %d + invalid %d = %d",
			s.Lines, s.ValidUnique, s.Duplicates, s.Invalid, got)
	}
	var byReason int64
	for _, n := range s.InvalidByReason {
		byReason += n
	}
	if byReason != s.Invalid {
		return fmt.Errorf("gen: summary does not reconcile: invalid %d ≠ %d counted by reason", s.Invalid, byReason)
	}
	if s.Late > s.ValidUnique {
		return fmt.Errorf("gen: summary does not reconcile: late %d > valid unique %d", s.Late, s.ValidUnique)
	}
	return nil
}

// Count returns the number of lines of one kind (KindValid counts the valid
// unique events that are not late).
func (s Summary) Count(k Kind) int64 {
	switch k {
	case KindValid:
		return s.ValidUnique - s.Late
	case KindLate:
		return s.Late
	case KindDuplicate:
		return s.Duplicates
	case KindInvalid:
		return s.Invalid
	}
	return 0
}

// String renders the summary as aligned text lines, invalid reasons sorted.
func (s Summary) String() string {
	var b strings.Builder
	pct := func(n int64) string {
		if s.Lines == 0 {
			return ""
		}
		return fmt.Sprintf(" (%.2f%%)", 100*float64(n)/float64(s.Lines))
	}
	fmt.Fprintf(&b, "lines          %d\n", s.Lines)
	fmt.Fprintf(&b, "valid unique   %d%s, of which late %d\n", s.ValidUnique, pct(s.ValidUnique), s.Late)
	fmt.Fprintf(&b, "duplicates     %d%s\n", s.Duplicates, pct(s.Duplicates))
	fmt.Fprintf(&b, "invalid        %d%s\n", s.Invalid, pct(s.Invalid))
	reasons := make([]string, 0, len(s.InvalidByReason))
	for r := range s.InvalidByReason {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "  %-24s %d\n", r, s.InvalidByReason[schemas.Reason(r)])
	}
	if !s.FirstArrival.IsZero() {
		fmt.Fprintf(&b, "arrival        %s .. %s\n", s.FirstArrival.Format(time.RFC3339Nano), s.LastArrival.Format(time.RFC3339Nano))
	}
	if !s.MinEventTime.IsZero() {
		fmt.Fprintf(&b, "event time     %s .. %s\n", s.MinEventTime.Format(time.RFC3339Nano), s.MaxEventTime.Format(time.RFC3339Nano))
	}
	return b.String()
}

func (s *Summary) add(r Record) {
	s.Lines++
	switch r.Kind {
	case KindValid:
		s.ValidUnique++
	case KindLate:
		s.ValidUnique++
		s.Late++
	case KindDuplicate:
		s.Duplicates++
	case KindInvalid:
		s.Invalid++
		if s.InvalidByReason == nil {
			s.InvalidByReason = make(map[schemas.Reason]int64)
		}
		s.InvalidByReason[r.Reason]++
	}
	if s.FirstArrival.IsZero() {
		s.FirstArrival = r.ArrivalTime
	}
	s.LastArrival = r.ArrivalTime
	if r.Kind != KindInvalid {
		if s.MinEventTime.IsZero() || r.EventTime.Before(s.MinEventTime) {
			s.MinEventTime = r.EventTime
		}
		if r.EventTime.After(s.MaxEventTime) {
			s.MaxEventTime = r.EventTime
		}
	}
}

// Generator yields the records of one Config in arrival order. It is not
// safe for concurrent use.
type Generator struct {
	cfg Config
	rng *rand.Rand

	startMs, spanMs                int64
	maxDelayMs, minLateMs, maxLate int64
	maxDupAgeMs                    int64
	lateProb                       float64
	dupBelow, invalidBelow         float64

	teamCDF     []uint64 // cumulative Zipf weights over teams
	userCDF     []uint64 // cumulative Zipf weights over a team's users (largest team)
	smallTeam   int      // teams ≥ smallTeam have one user fewer
	teamNames   []string
	idHi, idLo  uint64 // event-id parts derived from the seed
	csvSalt     uint64
	invalidSeen int64

	ring    []ringEntry
	ringPos int
	ringLen int

	seq     int64
	summary Summary
}

type ringEntry struct {
	arrivalMs int64
	line      []byte
	id        string
	eventTime time.Time
}

// New returns a Generator for cfg (after Config.WithDefaults), or the
// errors of Config.Validate.
func New(cfg Config) (*Generator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seed := uint64(cfg.Seed)
	g := &Generator{
		cfg:          cfg,
		rng:          rand.New(rand.NewPCG(seed, 0x7261696c79617264)), // "railyard"
		startMs:      cfg.Start.UnixMilli(),
		spanMs:       int64(cfg.Hours) * int64(time.Hour/time.Millisecond),
		maxDelayMs:   cfg.MaxDeviceDelay.Milliseconds(),
		minLateMs:    cfg.MinLateness.Milliseconds(),
		maxLate:      cfg.MaxLateness.Milliseconds(),
		maxDupAgeMs:  cfg.DuplicateMaxAge.Milliseconds(),
		dupBelow:     cfg.DuplicateRate,
		invalidBelow: cfg.DuplicateRate + cfg.InvalidRate,
		teamCDF:      zipfCDF(cfg.Teams, cfg.ZipfS),
		userCDF:      zipfCDF((cfg.Users+cfg.Teams-1)/cfg.Teams, cfg.ZipfS),
		smallTeam:    cfg.Users % cfg.Teams,
		idHi:         mix64(seed),
		idLo:         mix64(seed ^ 0x9e3779b97f4a7c15),
		csvSalt:      mix64(seed^0x6373762d73616c74) % 1_000_000,
		ring:         make([]ringEntry, cfg.DuplicateWindow),
	}
	if g.smallTeam == 0 {
		g.smallTeam = cfg.Teams
	}
	// Only arrivals at least MinLateness after Start can be late; raise the
	// probability for those so that LateRate holds over the whole run.
	if eligible := g.spanMs - g.minLateMs; eligible > 0 {
		g.lateProb = min(1, cfg.LateRate*float64(g.spanMs)/float64(eligible))
	}
	g.teamNames = make([]string, cfg.Teams)
	for t := range g.teamNames {
		g.teamNames[t] = TeamName(t)
	}
	return g, nil
}

// Config returns the generator's configuration, defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Summary returns the counts of the records generated so far.
func (g *Generator) Summary() Summary {
	s := g.summary
	s.InvalidByReason = maps.Clone(s.InvalidByReason)
	return s
}

// Generated is the number of records generated so far.
func (g *Generator) Generated() int64 { return g.seq }

// Records iterates over the remaining records.
func (g *Generator) Records() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		for {
			r, ok := g.Next()
			if !ok || !yield(r) {
				return
			}
		}
	}
}

// Next returns the next record in arrival order, or false after
// Config.Events records.
func (g *Generator) Next() (Record, bool) {
	if g.seq >= g.cfg.Events {
		return Record{}, false
	}
	seq := g.seq
	g.seq++
	arrivalMs := g.startMs + g.arrivalOffset(seq)
	u := g.rng.Float64()
	var r Record
	switch {
	case u < g.dupBelow && g.ringLen > 0:
		r = g.duplicate(arrivalMs)
	case u < g.dupBelow:
		// Nothing to duplicate yet (the very first lines).
		r = g.valid(seq, arrivalMs)
	case u < g.invalidBelow:
		r = g.invalid(seq, arrivalMs)
	default:
		r = g.valid(seq, arrivalMs)
	}
	r.Seq = seq
	r.ArrivalTime = time.UnixMilli(arrivalMs).UTC()
	g.summary.add(r)
	return r, true
}

// arrivalOffset spreads the arrivals evenly over the span: line seq arrives
// at a uniformly random point of the seq-th of Events equal slots, so
// arrivals never decrease. Integer arithmetic keeps it exact.
func (g *Generator) arrivalOffset(seq int64) int64 {
	span := uint64(g.spanMs)
	hi, lo := bits.Mul64(uint64(seq), span)
	var carry uint64
	lo, carry = bits.Add64(lo, g.rng.Uint64N(span), 0)
	hi += carry
	q, _ := bits.Div64(hi, lo, uint64(g.cfg.Events))
	return int64(q)
}

// event draws the fields every event has.
type event struct {
	user, team int
	score      int64
	eventMs    int64
	platform   string
}

var platforms = []string{"android", "android", "android", "ios", "ios", "web", "", ""}

func (g *Generator) drawEvent(arrivalMs int64) event {
	team := pick(g.teamCDF, g.rng)
	cdf := g.userCDF
	if team >= g.smallTeam {
		cdf = cdf[:len(cdf)-1]
	}
	rank := pick(cdf, g.rng)
	e := event{team: team, user: team + rank*g.cfg.Teams}
	// Plausible game points: a bell-shaped 1..97.
	e.score = 1 + g.rng.Int64N(25) + g.rng.Int64N(25) + g.rng.Int64N(25) + g.rng.Int64N(25)
	// Device delay: mostly a few seconds, up to MaxDeviceDelay, never
	// before Start.
	delay := g.rng.Int64N(g.rng.Int64N(g.maxDelayMs+1) + 1)
	e.eventMs = arrivalMs - min(delay, arrivalMs-g.startMs)
	e.platform = platforms[g.rng.IntN(len(platforms))]
	return e
}

func (g *Generator) valid(seq, arrivalMs int64) Record {
	e := g.drawEvent(arrivalMs)
	kind := KindValid
	if g.lateProb > 0 && arrivalMs-g.startMs >= g.minLateMs && g.rng.Float64() < g.lateProb {
		maxLate := min(g.maxLate, arrivalMs-g.startMs)
		e.eventMs = arrivalMs - (g.minLateMs + g.rng.Int64N(maxLate-g.minLateMs+1))
		kind = KindLate
	}
	var line []byte
	var id string
	if g.cfg.Format == FormatCSV {
		line = g.appendCSV(make([]byte, 0, 96), seq, e)
		id = schemas.CSVEventID(line)
	} else {
		id = g.eventID(seq)
		line = g.appendJSON(make([]byte, 0, 224), id, e)
	}
	r := Record{Line: line, Kind: kind, EventID: id, EventTime: time.UnixMilli(e.eventMs).UTC()}
	slot := &g.ring[g.ringPos]
	slot.line = append(slot.line[:0], line...)
	slot.id = id
	slot.eventTime = r.EventTime
	slot.arrivalMs = arrivalMs
	g.ringPos = (g.ringPos + 1) % len(g.ring)
	g.ringLen = min(g.ringLen+1, len(g.ring))
	return r
}

// recent returns the entry back lines before the newest (back ≥ 1).
func (g *Generator) recent(back int) *ringEntry {
	return &g.ring[(g.ringPos-back+len(g.ring))%len(g.ring)]
}

func (g *Generator) duplicate(arrivalMs int64) Record {
	// Entries arrived in order, so those at most DuplicateMaxAge old are
	// the newest k; repeat one of them, or the newest if none is that new.
	cutoff := arrivalMs - g.maxDupAgeMs
	k := sort.Search(g.ringLen, func(i int) bool { return g.recent(i+1).arrivalMs < cutoff })
	e := g.recent(1 + g.rng.IntN(max(k, 1)))
	return Record{
		Line:      append([]byte(nil), e.line...),
		Kind:      KindDuplicate,
		EventID:   e.id,
		EventTime: e.eventTime,
	}
}

// eventID is a UUID-shaped id, unique per (seed, seq): the high half
// depends only on the seed, the low half is a bijection of seq.
func (g *Generator) eventID(seq int64) string {
	lo := mix64(uint64(seq) + g.idLo)
	var b [36]byte
	const hex = "0123456789abcdef"
	put := func(pos int, v uint64, nibbles int) {
		for i := nibbles - 1; i >= 0; i-- {
			b[pos+i] = hex[v&0xf]
			v >>= 4
		}
	}
	put(0, g.idHi>>32, 8)
	b[8] = '-'
	put(9, g.idHi>>16, 4)
	b[13] = '-'
	put(14, g.idHi, 4)
	b[18] = '-'
	put(19, lo>>48, 4)
	b[23] = '-'
	put(24, lo, 12)
	return string(b[:])
}

// mix64 is splitmix64's finaliser, a bijection on uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// zipfCDF returns the cumulative integer weights of ranks 0..n-1 under
// P(k) ∝ (k+1)^-s. The weights are rounded to integers on a 2³² scale
// (each at least 1) so that sampling is exact integer arithmetic and does
// not depend on the platform's floating point beyond math.Pow.
func zipfCDF(n int, s float64) []uint64 {
	w := make([]float64, n)
	var total float64
	for k := range w {
		w[k] = math.Pow(float64(k+1), -s)
		total += w[k]
	}
	cdf := make([]uint64, n)
	var cum uint64
	for k := range w {
		cum += max(1, uint64(math.Round(w[k]/total*(1<<32))))
		cdf[k] = cum
	}
	return cdf
}

// pick draws an index with the weights of a cumulative table.
func pick(cdf []uint64, r *rand.Rand) int {
	if len(cdf) == 1 {
		return 0
	}
	x := r.Uint64N(cdf[len(cdf)-1])
	return sort.Search(len(cdf), func(i int) bool { return cdf[i] > x })
}
