package gaming

import (
	"reflect"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/railyard-dev/railyard/schemas"
)

type emitted struct {
	userDays, teamHours, userHours []string
	sessions                       map[string]Sessions
}

func aggregate(events ...schemas.GameEvent) emitted {
	var a PartialAggregator
	for _, e := range events {
		a.Add(e)
	}
	out := emitted{sessions: map[string]Sessions{}}
	a.Emit(
		func(k string, _ ScoreCount) { out.userDays = append(out.userDays, k) },
		func(k string, _ ScoreCount) { out.teamHours = append(out.teamHours, k) },
		func(k string, _ ScoreCount) { out.userHours = append(out.userHours, k) },
		func(k string, s Sessions) { out.sessions[k] = s },
	)
	return out
}

// TestPartialKeysAreTheEventKeys: the aggregator's keys are exactly those
// the event-level transforms give each event, and its hour is the team
// window and the spam window.
func TestPartialKeysAreTheEventKeys(t *testing.T) {
	if w := (TeamScoreOptions{}).withDefaults().Window; w != partialHour || SpamWindow != partialHour {
		t.Fatalf("team window %s, spam window %s: the partial aggregates assume both are %s", w, SpamWindow, partialHour)
	}
	window := &keyByWindowTeamFn{WindowMillis: partialHour.Milliseconds()}
	events := append(fixture(), ev("e1", "late", "red", 3, "2026-11-01T10:59:59.999Z"), ev("e2", "late", "red", 4, "2026-11-01T00:00:00.001Z"))
	for _, e := range events {
		got := aggregate(e)
		day, _ := keyByDayUserTeam(e)
		team, _ := window.ProcessElement(e)
		hour, _ := keyByHourUserTeam(e)
		session, ms := keyByTeamUser(e)
		want := emitted{userDays: []string{day}, teamHours: []string{team}, userHours: []string{hour},
			sessions: map[string]Sessions{session: {Windows: []Interval{{Start: ms, End: ms + SessionGap.Milliseconds()}}}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("event %+v: partial keys %+v, want %+v", e, got, want)
		}
	}
}

// TestPartialAggregatorSums: several events of one key add up, and
// sessions within the set are merged.
func TestPartialAggregatorSums(t *testing.T) {
	var a PartialAggregator
	for _, e := range fixture()[:3] { // a's three red events in hour 10
		a.Add(e)
	}
	var sums []ScoreCount
	var sessions []Sessions
	a.Emit(func(_ string, sc ScoreCount) { sums = append(sums, sc) }, func(_ string, sc ScoreCount) { sums = append(sums, sc) },
		func(_ string, sc ScoreCount) { sums = append(sums, sc) }, func(_ string, s Sessions) { sessions = append(sessions, s) })
	want := ScoreCount{Score: 105, Events: 3}
	if !reflect.DeepEqual(sums, []ScoreCount{want, want, want}) {
		t.Errorf("sums %v, want %v three times", sums, want)
	}
	gap := SessionGap.Milliseconds()
	t0 := at("2026-11-01T10:00:00Z").UnixMilli()
	t2 := at("2026-11-01T10:10:00Z").UnixMilli()
	wantSessions := []Sessions{{Windows: []Interval{{t0, at("2026-11-01T10:04:59Z").UnixMilli() + gap}, {t2, t2 + gap}}}}
	if !reflect.DeepEqual(sessions, wantSessions) {
		t.Errorf("sessions %v, want %v", sessions, wantSessions)
	}
	a.Reset()
	n := 0
	a.Emit(func(string, ScoreCount) { n++ }, func(string, ScoreCount) { n++ }, func(string, ScoreCount) { n++ }, func(string, Sessions) { n++ })
	if n != 0 {
		t.Errorf("after Reset: %d partials", n)
	}
}

// aggregateSetFn aggregates the fixture's events of one set (set index =
// the element) into partials, as the batch job's hour stage does per hour
// partition. Split "hour" makes a set per event hour; "mod3" spreads the
// events over 3 sets whatever their time, so sessions and hours span sets.
type aggregateSetFn struct {
	Split string
}

func (fn *aggregateSetFn) ProcessElement(set int, userDay, teamHour, userHour func(string, ScoreCount), sessions func(string, Sessions)) {
	var a PartialAggregator
	for i, e := range fixture() {
		k := i % 3
		if fn.Split == "hour" {
			k = e.EventTime.Hour()
		}
		if k == set {
			a.Add(e)
		}
	}
	a.Emit(userDay, teamHour, userHour, sessions)
}

func init() {
	register.DoFn5x0[int, func(string, ScoreCount), func(string, ScoreCount), func(string, ScoreCount), func(string, Sessions)](&aggregateSetFn{})
}

// TestViewsFromPartials: the *FromPartials transforms give exactly the
// event-level views' rows, whatever the split of the events into sets.
func TestViewsFromPartials(t *testing.T) {
	for split, sets := range map[string][]int{"hour": {10, 11, 23, 0, 5}, "mod3": {0, 1, 2}} {
		t.Run(split, func(t *testing.T) {
			p, s := beam.NewPipelineWithRoot()
			var elems []any
			for _, k := range sets {
				elems = append(elems, k)
			}
			userDays, teamHours, userHours, sessions := beam.ParDo4(s, &aggregateSetFn{Split: split}, beam.Create(s, elems...))
			parts := Partials{UserDays: userDays, TeamHours: teamHours, UserHours: userHours, Sessions: sessions}

			events := input(s)
			passert.Equals(s, UserScoresDailyFromPartials(s, parts.UserDays), UserScoresDaily(s, events))
			passert.Equals(s, TeamScoresHourlyFromPartials(s, parts.TeamHours),
				beam.WindowInto(s, window.NewGlobalWindows(), CalculateTeamScores(s, events, TeamScoreOptions{Batch: true})))
			passert.Equals(s, beam.ParDo(s, roundMinutes, GameStatsDailyFromPartials(s, parts.UserHours, parts.Sessions)), wantStats()...)
			ptest.RunAndValidate(t, p)
		})
	}
}

// TestMergeSessionsIsOrderFree: partial session lists merge to the same
// windows in any order, and the inputs are not modified.
func TestMergeSessionsIsOrderFree(t *testing.T) {
	gap := SessionGap.Milliseconds()
	w := func(start int64) Sessions { return Sessions{Windows: []Interval{{start, start + gap}}} }
	a := mergeSessions(w(0), w(3*gap))
	b := w(2*gap - 1)
	c := w(gap - 1)
	x := mergeSessions(mergeSessions(a, b), c)
	y := mergeSessions(c, mergeSessions(b, a))
	want := []Interval{{0, 2*gap - 1}, {2*gap - 1, 3*gap - 1}, {3 * gap, 4 * gap}}
	if !reflect.DeepEqual(x.Windows, want) || !reflect.DeepEqual(y.Windows, want) {
		t.Fatalf("merge order matters: %v vs %v, want %v", x, y, want)
	}
	// The inputs are left as they were.
	if !slices.Equal(a.Windows, []Interval{{0, gap}, {3 * gap, 4 * gap}}) {
		t.Fatalf("mergeSessions changed its input: %v", a.Windows)
	}
}
