package gen

import (
	"bytes"
	"crypto/sha256"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/railyard-dev/railyard/schemas"
)

func mustNew(t testing.TB, c Config) *Generator {
	t.Helper()
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testConfig(format string, events int64) Config {
	c := DefaultConfig()
	c.Events = events
	c.Seed = 42
	c.Format = format
	return c
}

// digest hashes every line of a run with its kind and times.
func digest(t testing.TB, c Config) [32]byte {
	h := sha256.New()
	for r := range mustNew(t, c).Records() {
		h.Write(r.Line)
		h.Write([]byte{'\n', byte(r.Kind)})
		h.Write([]byte(r.ArrivalTime.String() + r.EventTime.String() + string(r.Reason)))
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func TestGenDeterministic(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			c := testConfig(format, 20_000)
			a, b := digest(t, c), digest(t, c)
			if a != b {
				t.Fatal("two runs of the same config differ")
			}
			c2 := c
			c2.Seed++
			if digest(t, c2) == a {
				t.Fatal("a different seed gives the same output")
			}
		})
	}
}

func TestGenRecordsDecodeAsRecorded(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			c := testConfig(format, 30_000)
			c.InvalidRate = 0.1
			reasons := map[schemas.Reason]int{}
			for r := range mustNew(t, c).Records() {
				if bytes.ContainsAny(r.Line, "\n\r") {
					t.Fatalf("seq %d: line contains a line break: %q", r.Seq, r.Line)
				}
				ev, err := schemas.DecodeLine(r.Line, r.ArrivalTime)
				if r.Kind == KindInvalid {
					if err == nil {
						t.Fatalf("seq %d: invalid line (%s) decodes: %s", r.Seq, r.Reason, r.Line)
					}
					if got := schemas.ReasonOf(err); got != r.Reason {
						t.Fatalf("seq %d: line fails with %s (%v), record says %s: %s", r.Seq, got, err, r.Reason, r.Line)
					}
					reasons[r.Reason]++
					continue
				}
				if err != nil {
					t.Fatalf("seq %d: %s line does not decode: %v: %s", r.Seq, r.Kind, err, r.Line)
				}
				if ev.EventID != r.EventID {
					t.Fatalf("seq %d: event_id %q, record says %q", r.Seq, ev.EventID, r.EventID)
				}
				if !ev.EventTime.Equal(r.EventTime) {
					t.Fatalf("seq %d: event time %s, record says %s", r.Seq, ev.EventTime, r.EventTime)
				}
				if ev.Score < 1 || ev.Score > 100 {
					t.Fatalf("seq %d: implausible score %d", r.Seq, ev.Score)
				}
				if format == FormatJSON && !bytes.Equal(ev.MarshalLine(), r.Line) {
					t.Fatalf("seq %d: line is not normalised:\n got  %s\n want %s", r.Seq, r.Line, ev.MarshalLine())
				}
				// Late events are still valid when processed long after
				// the run.
				if _, err := schemas.DecodeLine(r.Line, c.End().Add(30*24*time.Hour)); err != nil {
					t.Fatalf("seq %d: decoding after the run: %v", r.Seq, err)
				}
			}
			var variants []invalidVariantInfo
			if format == FormatJSON {
				variants = infos(jsonInvalid)
			} else {
				variants = infos(csvInvalid)
			}
			for _, v := range variants {
				if reasons[v.reason] == 0 {
					t.Errorf("no invalid line with reason %s (%s)", v.reason, v.what)
				}
			}
			t.Logf("invalid lines by reason: %v", reasons)
		})
	}
}

type invalidVariantInfo struct {
	reason schemas.Reason
	what   string
}

func infos[F any](vs []invalidVariant[F]) []invalidVariantInfo {
	var out []invalidVariantInfo
	for _, v := range vs {
		out = append(out, invalidVariantInfo{v.reason, v.what})
	}
	return out
}

func TestGenInvalidVariantsCoverReasons(t *testing.T) {
	covered := map[schemas.Reason]bool{}
	for _, v := range append(InvalidVariants(FormatJSON), InvalidVariants(FormatCSV)...) {
		r, _, _ := strings.Cut(v, ":")
		covered[schemas.Reason(r)] = true
	}
	for _, r := range schemas.Reasons {
		// event_time_in_future depends on the consumer's clock, so the
		// generator never produces it.
		if !covered[r] && r != schemas.ReasonEventTimeInFuture {
			t.Errorf("no invalid variant produces %s", r)
		}
	}
}

func TestGenSummaryReconciles(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			c := testConfig(format, 200_000)
			g := mustNew(t, c)
			var counts [KindInvalid + 1]int64
			byReason := map[schemas.Reason]int64{}
			for r := range g.Records() {
				counts[r.Kind]++
				if r.Kind == KindInvalid {
					byReason[r.Reason]++
				}
			}
			s := g.Summary()
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
			if s.Lines != c.Events {
				t.Errorf("lines %d, want %d", s.Lines, c.Events)
			}
			for _, k := range Kinds {
				if s.Count(k) != counts[k] {
					t.Errorf("summary counts %d %s lines, records %d", s.Count(k), k, counts[k])
				}
			}
			for r, n := range byReason {
				if s.InvalidByReason[r] != n {
					t.Errorf("summary counts %d %s lines, records %d", s.InvalidByReason[r], r, n)
				}
			}
			near := func(name string, got, want float64) {
				t.Helper()
				if math.Abs(got-want) > 0.15*want {
					t.Errorf("%s rate %.4f, configured %.4f", name, got, want)
				}
			}
			lines := float64(s.Lines)
			near("duplicate", float64(s.Duplicates)/lines, c.DuplicateRate)
			near("invalid", float64(s.Invalid)/lines, c.InvalidRate)
			near("late", float64(s.Late)/float64(s.ValidUnique), c.LateRate)
			t.Logf("summary:\n%s", s)
		})
	}
}

func TestGenTimes(t *testing.T) {
	c := testConfig(FormatJSON, 100_000)
	c.Hours = 3
	c.LateRate = 0.2
	var prev time.Time
	var late int
	for r := range mustNew(t, c).Records() {
		if r.ArrivalTime.Before(prev) {
			t.Fatalf("seq %d: arrival %s before the previous %s", r.Seq, r.ArrivalTime, prev)
		}
		prev = r.ArrivalTime
		if r.ArrivalTime.Before(c.Start) || !r.ArrivalTime.Before(c.End()) {
			t.Fatalf("seq %d: arrival %s outside [%s, %s)", r.Seq, r.ArrivalTime, c.Start, c.End())
		}
		if r.EventTime.IsZero() {
			if r.Kind != KindInvalid {
				t.Fatalf("seq %d: %s line without event time", r.Seq, r.Kind)
			}
			continue
		}
		if r.EventTime.Before(c.Start) || r.EventTime.After(r.ArrivalTime) {
			t.Fatalf("seq %d: event time %s outside [start %s, arrival %s]", r.Seq, r.EventTime, c.Start, r.ArrivalTime)
		}
		if r.EventTime.Truncate(time.Millisecond) != r.EventTime {
			t.Fatalf("seq %d: event time %s is not in milliseconds", r.Seq, r.EventTime)
		}
		delay := r.ArrivalTime.Sub(r.EventTime)
		switch r.Kind {
		case KindValid, KindInvalid:
			if delay > c.MaxDeviceDelay {
				t.Fatalf("seq %d: %s line has delay %s > %s", r.Seq, r.Kind, delay, c.MaxDeviceDelay)
			}
		case KindLate:
			late++
			if delay < c.MinLateness || delay > c.MaxLateness {
				t.Fatalf("seq %d: late line has lateness %s outside %s..%s", r.Seq, delay, c.MinLateness, c.MaxLateness)
			}
		}
	}
	if late == 0 {
		t.Fatal("no late lines")
	}
	// Arrivals spread over the whole interval.
	if end := c.End().Add(-time.Minute); prev.Before(end) {
		t.Errorf("last arrival %s, want within a minute of %s", prev, c.End())
	}
}

func TestGenDuplicatesShareEarlierEventID(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			c := testConfig(format, 100_000)
			c.DuplicateRate = 0.1
			seen := map[string][]byte{} // event id -> line of the valid unique event
			arrived := map[string]time.Time{}
			dups := 0
			for r := range mustNew(t, c).Records() {
				switch r.Kind {
				case KindValid, KindLate:
					if _, ok := seen[r.EventID]; ok {
						t.Fatalf("seq %d: event id %s of a unique event was used before", r.Seq, r.EventID)
					}
					seen[r.EventID] = r.Line
					arrived[r.EventID] = r.ArrivalTime
				case KindDuplicate:
					dups++
					orig, ok := seen[r.EventID]
					if !ok {
						t.Fatalf("seq %d: duplicate of event id %s that was not sent before", r.Seq, r.EventID)
					}
					if !bytes.Equal(orig, r.Line) {
						t.Fatalf("seq %d: duplicate line differs from the original:\n%s\n%s", r.Seq, r.Line, orig)
					}
					// Dense enough that a recent original always exists.
					if age := r.ArrivalTime.Sub(arrived[r.EventID]); age > c.DuplicateMaxAge {
						t.Fatalf("seq %d: duplicate of a line that arrived %s before, more than %s", r.Seq, age, c.DuplicateMaxAge)
					}
				}
			}
			if dups == 0 {
				t.Fatal("no duplicates")
			}
		})
	}
}

func TestGenSkew(t *testing.T) {
	c := testConfig(FormatJSON, 100_000)
	teams := map[string]int{}
	users := map[string]int{}
	userTeam := map[string]string{}
	for r := range mustNew(t, c).Records() {
		if r.Kind == KindInvalid {
			continue
		}
		ev, err := schemas.DecodeLine(r.Line, r.ArrivalTime)
		if err != nil {
			t.Fatal(err)
		}
		teams[ev.Team]++
		users[ev.User]++
		if tm, ok := userTeam[ev.User]; ok && tm != ev.Team {
			t.Fatalf("user %s plays in %s and %s", ev.User, tm, ev.Team)
		}
		userTeam[ev.User] = ev.Team
	}
	if len(teams) != c.Teams {
		t.Errorf("%d teams seen, want %d", len(teams), c.Teams)
	}
	if len(users) > c.Users {
		t.Errorf("%d users seen, more than %d", len(users), c.Users)
	}
	checkSkew := func(what string, counts map[string]int) {
		t.Helper()
		var n []int
		for _, v := range counts {
			n = append(n, v)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(n)))
		top, median := n[0], n[len(n)/2]
		t.Logf("%s: %d distinct, top %d, median %d", what, len(n), top, median)
		if top < 3*median {
			t.Errorf("%s not skewed: top %d, median %d", what, top, median)
		}
	}
	checkSkew("teams", teams)
	checkSkew("users", users)
}

func TestGenEventIDsUnique(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			// Few users and a short span make equal CSV fields likely;
			// the readable_time digits must still keep the lines apart.
			c := testConfig(format, 300_000)
			c.Teams, c.Users, c.Hours = 1, 2, 1
			c.ZipfS = 3
			ids := make(map[string]struct{}, c.Events)
			for r := range mustNew(t, c).Records() {
				if r.Kind != KindValid && r.Kind != KindLate {
					continue
				}
				if _, ok := ids[r.EventID]; ok {
					t.Fatalf("seq %d: event id %s repeats: %s", r.Seq, r.EventID, r.Line)
				}
				ids[r.EventID] = struct{}{}
			}
		})
	}
	// Different seeds never share ids.
	a, b := mustNew(t, testConfig(FormatJSON, 1)), mustNew(t, Config{Events: 1, Seed: 43})
	ra, _ := a.Next()
	rb, _ := b.Next()
	if ra.EventID[:18] == rb.EventID[:18] {
		t.Errorf("seeds 42 and 43 share the id prefix: %s %s", ra.EventID, rb.EventID)
	}
}

func TestGenConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"negative events", func(c *Config) { c.Events = -1 }, "events"},
		{"dup rate", func(c *Config) { c.DuplicateRate = 1.5 }, "dup_rate"},
		{"invalid rate NaN", func(c *Config) { c.InvalidRate = math.NaN() }, "invalid_rate"},
		{"late rate", func(c *Config) { c.LateRate = -0.1 }, "late_rate"},
		{"rates sum", func(c *Config) { c.DuplicateRate, c.InvalidRate = 0.6, 0.6 }, "exceeds 1"},
		{"format", func(c *Config) { c.Format = "xml" }, "format"},
		{"zipf", func(c *Config) { c.ZipfS = 1 }, "zipf_s"},
		{"users < teams", func(c *Config) { c.Teams, c.Users = 10, 5 }, "users"},
		{"teams", func(c *Config) { c.Teams = -3 }, "teams"},
		{"hours", func(c *Config) { c.Hours = -1 }, "hours"},
		{"start", func(c *Config) { c.Start = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }, "start"},
		{"lateness", func(c *Config) { c.MinLateness, c.MaxLateness = time.Hour, time.Minute }, "lateness"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %s", err, tc.want)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	// Zero fields take the defaults.
	g := mustNew(t, Config{Events: 10})
	if got := g.Config(); got.Teams != DefaultTeams || got.Users != DefaultUsers || got.Hours != DefaultHours ||
		got.ZipfS != DefaultZipfS || got.Format != FormatJSON || !got.Start.Equal(DefaultStart) {
		t.Fatalf("defaults not applied: %+v", got)
	}
}

func TestGenNames(t *testing.T) {
	seen := map[string]bool{}
	for i := range 5000 {
		n := TeamName(i)
		if seen[n] {
			t.Fatalf("team name %s repeats (team %d)", n, i)
		}
		seen[n] = true
	}
	if n := UserName(MaxUsers-1, MaxTeams); len(n) > schemas.MaxStringBytes {
		t.Fatalf("user name %s too long", n)
	}
	if got := UserName(21, 20); got != "user21_"+TeamName(1) {
		t.Fatalf("UserName(21, 20) = %s", got)
	}
}

func TestGenEmptyAndSmallRuns(t *testing.T) {
	g := mustNew(t, Config{Events: 0})
	if _, ok := g.Next(); ok {
		t.Fatal("a run of 0 events yields a record")
	}
	// One team, one user, one hour, every line a duplicate candidate.
	c := Config{Events: 1000, Teams: 1, Users: 1, Hours: 1, DuplicateRate: 1}
	g = mustNew(t, c)
	recs := slices.Collect(g.Records())
	if len(recs) != 1000 || recs[0].Kind != KindValid {
		t.Fatalf("got %d records, first %s", len(recs), recs[0].Kind)
	}
	if err := g.Summary().Check(); err != nil {
		t.Fatal(err)
	}
	if s := g.Summary(); s.Duplicates != 999 {
		t.Fatalf("duplicates %d, want 999", s.Duplicates)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, format := range []string{FormatJSON, FormatCSV} {
		b.Run(format, func(b *testing.B) {
			c := testConfig(format, 10_000_000)
			g := mustNew(b, c)
			var n int64
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r, ok := g.Next()
				if !ok {
					g = mustNew(b, c)
					r, _ = g.Next()
				}
				n += int64(len(r.Line))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.SetBytes(n / int64(max(b.N, 1)))
		})
	}
}
