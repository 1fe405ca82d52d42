package gaming

import (
	"github.com/railyard-dev/railyard/runners"
	"math"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms"
)

func TestMain(m *testing.M) {
	// The views' pane accumulation is stateful: see runners.PrismNoSplitExperiment.
	runners.UsePrismNoSplit()
	ptest.MainWithDefault(m, "prism")
}

func init() {
	register.Function1x1(roundMinutes)
}

var (
	d1 = civil.Date{Year: 2026, Month: 11, Day: 1}
	d2 = civil.Date{Year: 2026, Month: 11, Day: 2}
)

func at(clock string) time.Time {
	t, err := time.Parse(time.RFC3339, clock)
	if err != nil {
		panic(err)
	}
	return t
}

func ev(id, user, team string, score int64, clock string) schemas.GameEvent {
	return schemas.GameEvent{EventID: id, User: user, Team: team, Score: score, EventTime: at(clock), SchemaVersion: 1}
}

// fixture is a day designed so every rule of the package doc is exercised:
//   - hour 10: a scores 105, b, c and d 10 each: mean 33.75, a > 2.5×mean is a spammer;
//   - hour 11: p scores 10, q..t 4+3+2+1: mean 4, p = 2.5×mean exactly is NOT a spammer;
//   - a's events 4m59s apart share a session, 5m01s later starts another;
//   - z plays across midnight: one session, on the day it started.
func fixture() []schemas.GameEvent {
	return []schemas.GameEvent{
		ev("a1", "a", "red", 60, "2026-11-01T10:00:00Z"),
		ev("a2", "a", "red", 40, "2026-11-01T10:04:59Z"),
		ev("a3", "a", "red", 5, "2026-11-01T10:10:00Z"),
		ev("b1", "b", "red", 10, "2026-11-01T10:30:00Z"),
		ev("c1", "c", "blue", 10, "2026-11-01T10:31:00Z"),
		ev("d1", "d", "blue", 10, "2026-11-01T10:32:00Z"),
		ev("p1", "p", "red", 10, "2026-11-01T11:00:00Z"),
		ev("q1", "q", "red", 4, "2026-11-01T11:01:00Z"),
		ev("r1", "r", "blue", 3, "2026-11-01T11:02:00Z"),
		ev("s1", "s", "blue", 2, "2026-11-01T11:03:00Z"),
		ev("t1", "t", "blue", 1, "2026-11-01T11:04:00Z"),
		ev("z1", "z", "blue", 7, "2026-11-01T23:58:00Z"),
		ev("z2", "z", "blue", 8, "2026-11-02T00:01:00Z"),
	}
}

func input(s beam.Scope) beam.PCollection {
	var in []any
	for _, e := range fixture() {
		in = append(in, e)
	}
	return transforms.WithEventTime(s, beam.Create(s, in...))
}

func TestUserScoresDaily(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	row := func(d civil.Date, user, team string, score, events int64) schemas.UserScoreDaily {
		return schemas.UserScoreDaily{Day: d, User: user, Team: team, Score: score, Events: events}
	}
	passert.Equals(s, UserScoresDaily(s, input(s)),
		row(d1, "a", "red", 105, 3), row(d1, "b", "red", 10, 1), row(d1, "c", "blue", 10, 1), row(d1, "d", "blue", 10, 1),
		row(d1, "p", "red", 10, 1), row(d1, "q", "red", 4, 1), row(d1, "r", "blue", 3, 1), row(d1, "s", "blue", 2, 1),
		row(d1, "t", "blue", 1, 1), row(d1, "z", "blue", 7, 1), row(d2, "z", "blue", 8, 1),
	)
	ptest.RunAndValidate(t, p)
}

func TestCalculateTeamScoresBatch(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	row := func(team string, hour string, score, events int64) schemas.TeamScore {
		start := at(hour)
		return schemas.TeamScore{Team: team, Score: score, Events: events, WindowStart: start, WindowEnd: start.Add(time.Hour),
			Timing: schemas.TimingOnTime, PaneIndex: 0, IsLast: true, ProcessingTime: start.Add(time.Hour)}
	}
	scores := CalculateTeamScores(s, input(s), TeamScoreOptions{Batch: true})
	passert.Equals(s, beam.WindowInto(s, window.NewGlobalWindows(), scores),
		row("red", "2026-11-01T10:00:00Z", 115, 4), row("blue", "2026-11-01T10:00:00Z", 20, 2),
		row("red", "2026-11-01T11:00:00Z", 14, 2), row("blue", "2026-11-01T11:00:00Z", 6, 3),
		row("blue", "2026-11-01T23:00:00Z", 7, 1), row("blue", "2026-11-02T00:00:00Z", 8, 1),
	)
	ptest.RunAndValidate(t, p)
}

func wantStats() []any {
	redMean := math.Round((599.0/60+20)/5*1e6) / 1e6
	return []any{
		schemas.GameStatsDaily{Day: d1, Team: "red", Score: 24, Events: 3, SpammerUsers: 1, Sessions: 5, MeanSessionMinutes: redMean},
		schemas.GameStatsDaily{Day: d1, Team: "blue", Score: 33, Events: 6, SpammerUsers: 0, Sessions: 6, MeanSessionMinutes: 5.5},
		schemas.GameStatsDaily{Day: d2, Team: "blue", Score: 8, Events: 1, SpammerUsers: 0, Sessions: 0, MeanSessionMinutes: 0},
	}
}

// roundMinutes makes float means comparable with passert.Equals.
func roundMinutes(r schemas.GameStatsDaily) schemas.GameStatsDaily {
	r.MeanSessionMinutes = math.Round(r.MeanSessionMinutes*1e6) / 1e6
	return r
}

func TestGameStatsDaily(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	// red on day 1: b (10) and hour 11's p, q (14) count; a is a spammer.
	// Sessions: a [10:00, 10:09:59) 599 s, a [10:10, 10:15), b, p, q 5 min each.
	// blue on day 1: c, d, r, s, t, z: 33; sessions 5×5 min + z [23:58, 00:06) 8 min.
	// blue on day 2: z's 8 points; its session started on day 1.
	passert.Equals(s, beam.ParDo(s, roundMinutes, GameStatsDaily(s, input(s))), wantStats()...)
	ptest.RunAndValidate(t, p)
}

func TestJoinKeyRoundTrips(t *testing.T) {
	for _, parts := range [][]string{{"a", "b"}, {"", "x:y", "12:3"}, {"2026-11-01", "té|am", ""}} {
		got := splitKey(joinKey(parts...))
		if len(got) != len(parts) {
			t.Fatalf("split(join(%q)) = %q", parts, got)
		}
		for i := range parts {
			if got[i] != parts[i] {
				t.Fatalf("split(join(%q)) = %q", parts, got)
			}
		}
	}
}

// TestViewsAfterDedupe feeds the views the way the batch job does: out of a
// run-wide Dedupe (a GroupByKey in the global window), with duplicates. The
// views must not rely on element timestamps there.
func TestViewsAfterDedupe(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	var in []any
	for _, e := range fixture() {
		in = append(in, e, e) // every event twice
	}
	events := transforms.Dedupe(s, transforms.WithEventTime(s, beam.Create(s, in...)))
	passert.Count(s, UserScoresDaily(s, events), "user rows", 11)
	passert.Count(s, beam.WindowInto(s, window.NewGlobalWindows(), CalculateTeamScores(s, events, TeamScoreOptions{Batch: true})), "team rows", 6)
	passert.Equals(s, beam.ParDo(s, roundMinutes, GameStatsDaily(s, events)), wantStats()...)
	ptest.RunAndValidate(t, p)
}

func TestMergeWindows(t *testing.T) {
	gap := SessionGap.Milliseconds()
	w := func(start int64) Interval { return Interval{Start: start, End: start + gap} }
	got := mergeWindows([]Interval{w(10 * gap), w(0), w(gap - 1), w(2*gap - 1), w(3 * gap)})
	// [0,g) and [g-1,2g-1) overlap and merge; [2g-1,3g-1) only touches the
	// merged window, so it is a session of its own (as in Beam).
	want := []Interval{{0, 2*gap - 1}, {2*gap - 1, 3*gap - 1}, {3 * gap, 4 * gap}, {10 * gap, 11 * gap}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mergeWindows = %v, want %v", got, want)
	}
	fn := &sessionsFn{GapMillis: gap}
	// Merging partial accumulators gives the same windows in any order.
	a := fn.AddInput(fn.AddInput(fn.CreateAccumulator(), 0), 3*gap)
	b := fn.AddInput(fn.CreateAccumulator(), 2*gap-1)
	c := fn.AddInput(fn.CreateAccumulator(), gap-1)
	if x, y := fn.MergeAccumulators(fn.MergeAccumulators(a, b), c), fn.MergeAccumulators(c, fn.MergeAccumulators(b, a)); !reflect.DeepEqual(x, y) || len(x.Windows) != 3 {
		t.Fatalf("merge order matters: %v vs %v", x, y)
	}
}
