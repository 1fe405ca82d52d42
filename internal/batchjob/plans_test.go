package batchjob

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/reconcile"
	"github.com/railyard-dev/railyard/internal/reference"
	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms"
)

// planRun is what one plan computed.
type planRun struct {
	rows     viewRows
	dead     []string // reason, source, detail and payload of each dead letter, sorted
	counters map[string]int64
}

// runPlan runs the plan's graph (compute) on prism and collects its rows,
// dead letters and railyard counters.
func runPlan(t *testing.T, cfg Config, start time.Time) planRun {
	t.Helper()
	p, err := cfg.plan(start)
	if err != nil {
		t.Fatal(err)
	}
	pipeline, s := beam.NewPipelineWithRoot()
	rows, dead := p.compute(s)
	key := t.Name() + "/" + p.Plan + "/"
	for i, v := range p.Views {
		testkit.Collect(s, key+v.Name, rows[i])
	}
	testkit.Collect(s, key+"dead", dead)
	res, err := ptest.RunWithMetrics(pipeline)
	if err != nil {
		t.Fatalf("plan %s: %v", p.Plan, err)
	}
	var out planRun
	out.rows.Users = testkit.Take[schemas.UserScoreDaily](t, key+"user_scores_daily")
	out.rows.Teams = testkit.Take[schemas.TeamScore](t, key+"team_scores_hourly")
	out.rows.Stats = testkit.Take[schemas.GameStatsDaily](t, key+"game_stats_daily")
	out.rows = normalise(out.rows)
	for _, d := range testkit.Take[schemas.DeadLetter](t, key+"dead") {
		if !d.Time.Equal(start) || d.RunID != cfg.RunID || d.Pipeline != pipelineName || d.Stage != transforms.StageParse {
			t.Errorf("plan %s: dead letter %+v: want time %s, run %s, pipeline %s, stage %s", p.Plan, d, start, cfg.RunID, pipelineName, transforms.StageParse)
		}
		out.dead = append(out.dead, strings.Join([]string{d.Reason, d.Source, d.Detail, string(d.Payload), d.Attributes}, "|"))
	}
	sort.Strings(out.dead)
	out.counters = reconcile.Counters(res)
	return out
}

// writeFile writes a lake file under root (relative path, gzip if *.gz).
func writeFile(t *testing.T, root, rel string, lines ...string) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsonEvent(id, user, team string, score int, at string) string {
	return fmt.Sprintf(`{"event_id":%q,"user":%q,"team":%q,"score":%d,"event_time":%q}`, id, user, team, score, at)
}

// TestPlansAgree runs the hourly and the global plan over the same
// generated lake, plus files that exercise the rules the plans must apply
// identically, and requires identical rows, dead letters and counters
// (and rows equal to internal/reference's).
func TestPlansAgree(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed, cfg.Hours = 20_000, 11, 30
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WriteLake(ctx, g, root, gen.LakeOptions{EventsPerFile: 300}, nil); err != nil {
		t.Fatal(err)
	}
	// Strays: valid events filed in the partition of another hour (07:xx
	// in hr=03), with a copy each, and a conflicting pair; an event outside
	// the run's dates; a session of user "stray" that continues in hour 08.
	writeFile(t, root, "game_events/dt=2026-11-01/hr=03/zz-strays.jsonl",
		jsonEvent("s1", "stray", "red", 10, "2026-11-01T07:58:00Z"),
		jsonEvent("s1", "stray", "red", 10, "2026-11-01T07:58:00Z"),
		jsonEvent("s2", "stray", "red", 20, "2026-11-01T07:59:30Z"),
		jsonEvent("s3", "other", "blue", 9, "2026-11-01T07:10:00Z"),
		jsonEvent("s3", "other", "blue", 8, "2026-11-01T07:10:00Z"), // conflicting: this copy is kept
		jsonEvent("old", "stray", "red", 5, "2026-10-31T23:00:00Z"), // outside the run: outside_partition
		`{"event_id":"broken",`,
	)
	writeFile(t, root, "game_events/dt=2026-11-01/hr=08/zz-late.jsonl",
		jsonEvent("s4", "stray", "red", 30, "2026-11-01T08:01:00Z"),
		jsonEvent("s5", "late", "blue", 1, "2026-11-01T08:59:59.999Z"),
	)
	day1, day2 := civil.Date{Year: 2026, Month: 11, Day: 1}, civil.Date{Year: 2026, Month: 11, Day: 2}
	start := time.Now().UTC().Truncate(time.Millisecond)
	// Many small decode batches per hour, so that batches overlap and dead
	// letters are handed back while the hour is still being read.
	defer func(n, w int) { decodeBatch, decodeWorkers = n, w }(decodeBatch, decodeWorkers)
	decodeBatch, decodeWorkers = 16, 3
	base := Config{Lake: root, Date: day1.String(), To: day2.String(), Views: strings.Join(ViewNames(), ","), RunID: "agree", Sink: SinkDiscard}
	hourlyCfg, globalCfg := base, base
	hourlyCfg.Plan, globalCfg.Plan = PlanHourly, PlanGlobal
	hourly := runPlan(t, hourlyCfg, start)
	global := runPlan(t, globalCfg, start)

	compareViews(t, "hourly vs global", hourly.rows, global.rows)
	if !reflect.DeepEqual(hourly.dead, global.dead) {
		t.Errorf("dead letters differ: hourly %d, global %d\n hourly[:3] %q\n global[:3] %q", len(hourly.dead), len(global.dead), head(hourly.dead), head(global.dead))
	}
	if n := hourly.counters[MetricHourStrays]; n != 5 {
		t.Errorf("%s = %d, want the 5 valid events filed in another hour's partition", MetricHourStrays, n)
	}
	delete(hourly.counters, MetricHourStrays)
	if !maps.Equal(hourly.counters, global.counters) {
		t.Errorf("counters differ:\n hourly %v\n global %v", hourly.counters, global.counters)
	}
	for _, name := range []string{transforms.MetricRead, transforms.MetricInvalid, transforms.MetricDuplicates,
		transforms.MetricInvalidPrefix + transforms.ReasonOutsideRange, transforms.MetricLakeDateLines + day2.String()} {
		if global.counters[name] == 0 {
			t.Errorf("counter %s is 0: the test data does not exercise it", name)
		}
	}

	// Both agree with the plain-Go reference too.
	ref, err := reference.Compute(ctx, root, day1, day2, start)
	if err != nil {
		t.Fatal(err)
	}
	compareViews(t, "hourly vs reference", hourly.rows,
		normalise(viewRows{Users: ref.UserScoresDaily, Teams: ref.TeamScoresHourly, Stats: ref.GameStatsDaily}))
	// (The reference deduplicates before it sets aside events outside the
	// run's dates; the pipeline dead-letters them first. With no copies of
	// those, its unique events are the reference's in-range Events.)
	if c := global.counters; c[transforms.MetricUnique] != ref.Counts.Events || c[transforms.MetricRead] != ref.Counts.Read ||
		c[transforms.MetricInvalid] != ref.Counts.DeadLetters() {
		t.Errorf("unique/read/invalid %d/%d/%d, reference %d/%d/%d", c[transforms.MetricUnique], c[transforms.MetricRead],
			c[transforms.MetricInvalid], ref.Counts.Events, ref.Counts.Read, ref.Counts.DeadLetters())
	}

	// Run reports the same reconciliation for both plans, and the strays.
	var recs []Reconciliation
	var outs []string
	for _, c := range []Config{hourlyCfg, globalCfg} {
		var out bytes.Buffer
		rec, err := Run(ctx, c, &out)
		if err != nil {
			t.Fatalf("Run %s: %v\n%s", c.Plan, err, out.String())
		}
		recs, outs = append(recs, rec), append(outs, out.String())
	}
	if !reflect.DeepEqual(recs[0], recs[1]) || !recs[0].OK() || recs[0].Read != global.counters[transforms.MetricRead] {
		t.Errorf("reconciliations differ or fail:\n hourly %+v\n global %+v", recs[0], recs[1])
	}
	if !strings.Contains(outs[0], "warning: 5 valid event(s) were filed in an hour partition other than their event hour's") ||
		strings.Contains(outs[1], "warning") {
		t.Errorf("the hourly run should warn about the strays, the global one not:\n%s\n%s", outs[0], outs[1])
	}
}

// TestHourlyPlanAssumption pins the documented limit of the hourly plan:
// copies of one event id in two hour partitions are deduplicated by the
// global plan and counted once per partition by the hourly one.
func TestHourlyPlanAssumption(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "game_events/dt=2026-11-01/hr=10/a.jsonl",
		jsonEvent("x", "u", "red", 10, "2026-11-01T10:00:00Z"), jsonEvent("y", "v", "red", 1, "2026-11-01T10:30:00Z"))
	writeFile(t, root, "game_events/dt=2026-11-01/hr=11/b.jsonl",
		jsonEvent("x", "u", "red", 10, "2026-11-01T11:00:00Z")) // the same id, another time and partition
	start := time.Now().UTC()
	base := Config{Lake: root, Date: "2026-11-01", Views: strings.Join(ViewNames(), ","), RunID: "assumption", Sink: SinkDiscard}
	hourlyCfg, globalCfg := base, base
	hourlyCfg.Plan, globalCfg.Plan = PlanHourly, PlanGlobal
	hourly, global := runPlan(t, hourlyCfg, start), runPlan(t, globalCfg, start)
	if u, d := global.counters[transforms.MetricUnique], global.counters[transforms.MetricDuplicates]; u != 2 || d != 1 {
		t.Errorf("global plan: unique %d, duplicates %d; want 2, 1", u, d)
	}
	if u, d := hourly.counters[transforms.MetricUnique], hourly.counters[transforms.MetricDuplicates]; u != 3 || d != 0 {
		t.Errorf("hourly plan: unique %d, duplicates %d; want 3, 0 (one count per partition)", u, d)
	}
	if len(hourly.rows.Users) != 2 || hourly.rows.Users[0].Score != 20 || global.rows.Users[0].Score != 10 {
		t.Errorf("user u: hourly %+v, global %+v", hourly.rows.Users, global.rows.Users)
	}
}

// TestHourlyPlanFailsOnCorruptFile: a file the hour stage cannot read fails
// the run with the reader's error, which names the file.
func TestHourlyPlanFailsOnCorruptFile(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "game_events/dt=2026-11-01/hr=10/a.jsonl", jsonEvent("x", "u", "red", 10, "2026-11-01T10:00:00Z"))
	writeFile(t, root, "game_events/dt=2026-11-01/hr=10/b.jsonl.gz", "not gzip at all")
	var out bytes.Buffer
	_, err := Run(context.Background(), Config{Lake: root, Date: "2026-11-01", Views: strings.Join(ViewNames(), ","), Sink: SinkDiscard}, &out)
	if err == nil || !strings.Contains(err.Error(), "b.jsonl.gz: corrupt gzip stream") {
		t.Fatalf("err = %v, want the corrupt file named\n%s", err, out.String())
	}
}
