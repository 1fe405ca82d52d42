package speedjob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/reference"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

func TestMain(m *testing.M) {
	code := ptest.MainRetWithDefault(m, "prism")
	jobServers.Stop()
	os.Exit(code)
}

// speedEnv is pstest and the BigQuery emulator with the catalog applied,
// a game-events topic and a speed subscription.
type speedEnv struct {
	stack  *localstack.Stack
	bq     cliflags.BigQuery
	client *bigquery.Client
	topic  string
	sub    string
	// lines are every line published so far, for the reference.
	lines [][]byte
}

func newSpeedEnv(t *testing.T, prefix string) *speedEnv {
	t.Helper()
	ctx := context.Background()
	stack := localstack.StartForTest(t, localstack.Options{PubSub: true, BigQuery: true})
	env := &speedEnv{
		stack: stack,
		bq:    cliflags.BigQuery{Project: stack.Project, Endpoint: stack.BigQueryEndpoint, DatasetPrefix: prefix},
		topic: gcpclient.TopicName(stack.Project, "game-events"),
		sub:   gcpclient.SubscriptionName(stack.Project, "speed"),
	}
	client, err := env.bq.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	env.client = client
	if err := env.bq.ApplyCatalog(ctx, client); err != nil {
		t.Fatal(err)
	}
	ps, err := stack.GCPConfig().PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	if err := gcpclient.EnsureTopic(ctx, ps, env.topic, time.Minute, env.sub); err != nil {
		t.Fatal(err)
	}
	return env
}

// publish publishes the generator's lines as the ingest gateway would.
func (e *speedEnv) publish(t *testing.T, cfg gen.Config) gen.Summary {
	t.Helper()
	ctx := context.Background()
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := e.stack.GCPConfig().PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	pub := ps.Publisher(e.topic)
	defer pub.Stop()
	sum, err := gen.Publish(ctx, g, pub, gen.PublishOptions{
		OnPublish: func(r gen.Record, _ time.Time) { e.lines = append(e.lines, r.Line) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func (e *speedEnv) config(instance string) Config {
	return Config{
		Subscription: e.sub, PubSubEndpoint: e.stack.PubSubEndpoint, BQ: e.bq,
		Instance: instance, StopAfterIdle: 3 * time.Second,
		UserDelay: time.Second, FlushDelay: 500 * time.Millisecond,
	}
}

func (e *speedEnv) run(t *testing.T, cfg Config) Reconciliation {
	t.Helper()
	var out bytes.Buffer
	rec, err := Run(context.Background(), cfg, &out)
	t.Logf("speed run %s:\n%s", cfg.Instance, out.String())
	if err != nil {
		t.Fatalf("speed run %s: %v", cfg.Instance, err)
	}
	return rec
}

// reference computes the batch views over every published line, as the
// batch job would from the lake.
func (e *speedEnv) reference(t *testing.T) reference.Result {
	t.Helper()
	acc, err := reference.NewAccumulator(civil.Date{Year: 2026, Month: 10, Day: 1}, civil.Date{Year: 2026, Month: 12, Day: 31}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range e.lines {
		if err := acc.AddLine(l); err != nil {
			t.Fatal(err)
		}
	}
	return acc.Result()
}

type teamWindow struct {
	Team  string
	Start time.Time
}

type paneRow struct {
	Score, Events, Pane int64
	Timing              string
	IsLast              bool
}

// instanceOf numbers the job instance that wrote a row from its
// processing time: cuts are the times between consecutive runs.
func instanceOf(processed time.Time, cuts []time.Time) int {
	n := 0
	for _, c := range cuts {
		if !processed.Before(c) {
			n++
		}
	}
	return n
}

// latestTeamPanes reads a team score table and keeps, per job instance,
// team and window, the pane with the highest pane_index, as the serving
// layer does, then adds up the instances: each instance counted the
// events it read. It fails the test if two rows of an instance share
// team, window and pane.
func (e *speedEnv) latestTeamPanes(t *testing.T, table string, cuts []time.Time) map[teamWindow]paneRow {
	t.Helper()
	rows := e.query(t, fmt.Sprintf("SELECT team, window_start, score, events, pane_index, timing, is_last, processing_time FROM `%s`", e.bq.Catalog().TableID(table)))
	type instanceKey struct {
		teamWindow
		instance int
	}
	latest := map[instanceKey]paneRow{}
	seen := map[string]bool{}
	for _, r := range rows {
		k := instanceKey{teamWindow{r[0].(string), r[1].(time.Time).UTC()}, instanceOf(r[7].(time.Time), cuts)}
		p := paneRow{Score: r[2].(int64), Events: r[3].(int64), Pane: r[4].(int64), Timing: r[5].(string), IsLast: r[6].(bool)}
		id := fmt.Sprint(k, p.Pane)
		if seen[id] {
			t.Errorf("%s: two rows for team %s, window %s, pane %d of instance %d", table, k.Team, k.Start, p.Pane, k.instance)
		}
		seen[id] = true
		if cur, ok := latest[k]; !ok || p.Pane > cur.Pane {
			latest[k] = p
		}
	}
	total := map[teamWindow]paneRow{}
	for k, p := range latest {
		cur := total[k.teamWindow]
		cur.Score += p.Score
		cur.Events += p.Events
		cur.Pane = max(cur.Pane, p.Pane)
		cur.Timing = p.Timing
		total[k.teamWindow] = cur
	}
	return total
}

// checkAllAcked fails the test unless pstest saw an ack for every message
// published so far.
func (e *speedEnv) checkAllAcked(t *testing.T) {
	t.Helper()
	msgs := e.stack.PubSubServer.Messages()
	unacked := 0
	for _, m := range msgs {
		if m.Acks == 0 {
			unacked++
		}
	}
	if len(msgs) == 0 || unacked > 0 {
		t.Errorf("%d of %d messages were never acked", unacked, len(msgs))
	}
}

func (e *speedEnv) query(t *testing.T, sql string) [][]bigquery.Value {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	it, err := e.client.Query(sql).Read(ctx)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out [][]bigquery.Value
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		out = append(out, row)
	}
}

// checkConverged compares the realtime tables' latest panes with the batch
// views computed from the same lines; cuts separate the job instances.
func (e *speedEnv) checkConverged(t *testing.T, cuts ...time.Time) {
	t.Helper()
	want := e.reference(t)
	got := e.latestTeamPanes(t, catalog.TableRealtimeTeam, cuts)
	if len(got) != len(want.TeamScoresHourly) {
		t.Errorf("realtime.team_scores has %d team windows, the batch view %d", len(got), len(want.TeamScoresHourly))
	}
	for _, w := range want.TeamScoresHourly {
		p, ok := got[teamWindow{w.Team, w.WindowStart.UTC()}]
		switch {
		case !ok:
			t.Errorf("team %s window %s: no realtime row (batch: score %d, events %d)", w.Team, w.WindowStart, w.Score, w.Events)
		case p.Score != w.Score || p.Events != w.Events:
			t.Errorf("team %s window %s: realtime latest pane %d (%s) score %d events %d, batch score %d events %d",
				w.Team, w.WindowStart, p.Pane, p.Timing, p.Score, p.Events, w.Score, w.Events)
		}
	}

	// User scores: the latest firing per instance, user and team, added up
	// over the instances, is the user's total over every day.
	wantUsers := map[string][2]int64{}
	for _, u := range want.UserScoresDaily {
		k := u.User + "/" + u.Team
		v := wantUsers[k]
		wantUsers[k] = [2]int64{v[0] + u.Score, v[1] + u.Events}
	}
	rows := e.query(t, fmt.Sprintf("SELECT user, team, score, events, pane_index, processing_time FROM `%s`", e.bq.Catalog().TableID(catalog.TableRealtimeUser)))
	type firing struct{ score, events, pane int64 }
	latest := map[string]firing{}
	for _, r := range rows {
		k := fmt.Sprintf("%s/%s/%d", r[0], r[1], instanceOf(r[5].(time.Time), cuts))
		f := firing{r[2].(int64), r[3].(int64), r[4].(int64)}
		if cur, ok := latest[k]; !ok || f.pane > cur.pane {
			latest[k] = f
		}
	}
	gotUsers := map[string]firing{}
	for k, f := range latest {
		user := k[:strings.LastIndex(k, "/")]
		cur := gotUsers[user]
		gotUsers[user] = firing{cur.score + f.score, cur.events + f.events, 0}
	}
	if len(gotUsers) != len(wantUsers) {
		t.Errorf("realtime.user_scores has %d users, the batch view %d", len(gotUsers), len(wantUsers))
	}
	for k, w := range wantUsers {
		if g := gotUsers[k]; g.score != w[0] || g.events != w[1] {
			t.Errorf("user %s: realtime latest firing score %d events %d, batch score %d events %d", k, g.score, g.events, w[0], w[1])
		}
	}
}

func TestSpeedEndToEnd(t *testing.T) {
	testEndToEnd(t, newSpeedEnv(t, "sp1_"), "speed-e2e")
}

// testEndToEnd publishes generated events with duplicates, invalid and
// late lines, drains them through one run of the job on the runner the
// flags select, and checks the realtime tables against the batch views of
// the same lines, the dead letters, that no pane row repeats and that
// every message was acked.
func testEndToEnd(t *testing.T, env *speedEnv, instance string) {
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed, cfg.Hours = 3000, 11, 4
	sum := env.publish(t, cfg)
	if sum.Duplicates == 0 || sum.Invalid == 0 || sum.Late == 0 {
		t.Fatalf("fixture lacks duplicates, invalid or late events: %s", sum)
	}

	rec := env.run(t, env.config(instance))
	if rec.Read != sum.Lines || rec.Invalid != sum.Invalid || rec.Unique != sum.ValidUnique || rec.Duplicates != sum.Duplicates {
		t.Errorf("reconciliation read/invalid/unique/duplicates = %d/%d/%d/%d, published %d/%d/%d/%d",
			rec.Read, rec.Invalid, rec.Unique, rec.Duplicates, sum.Lines, sum.Invalid, sum.ValidUnique, sum.Duplicates)
	}
	env.checkConverged(t)
	env.checkAllAcked(t)
	env.checkServingInputs(t, map[string]int64{instance: rec.Read})

	// Every invalid line is kept, with its reason, in ops.dead_letters.
	dead := env.query(t, fmt.Sprintf("SELECT reason, COUNT(*) FROM `%s` WHERE pipeline = 'speed' GROUP BY reason",
		env.bq.Catalog().TableID(catalog.TableDeadLetters)))
	byReason := map[string]int64{}
	var total int64
	for _, r := range dead {
		byReason[r[0].(string)] = r[1].(int64)
		total += r[1].(int64)
	}
	if total != sum.Invalid {
		t.Errorf("ops.dead_letters holds %d speed rows, want the %d invalid lines", total, sum.Invalid)
	}
	for reason, n := range sum.InvalidByReason {
		if byReason[string(reason)] != n {
			t.Errorf("dead letters with reason %s: %d, want %d", reason, byReason[string(reason)], n)
		}
	}

	// Every pane row is there once: rows = distinct (team, window, pane).
	for _, table := range []string{catalog.TableRealtimeTeam, catalog.TableRealtimeGameStatsTeams} {
		r := env.query(t, fmt.Sprintf("SELECT COUNT(*), COUNT(DISTINCT CONCAT(team, '/', CAST(window_start AS STRING), '/', CAST(pane_index AS STRING))) FROM `%s`",
			env.bq.Catalog().TableID(table)))
		if r[0][0].(int64) == 0 || r[0][0] != r[0][1] {
			t.Errorf("%s: %v rows, %v distinct panes", table, r[0][0], r[0][1])
		}
	}
	if r := env.query(t, fmt.Sprintf("SELECT COUNT(*) FROM `%s`", env.bq.Catalog().TableID(catalog.TableRealtimeGameStatsSessions))); r[0][0].(int64) == 0 {
		t.Errorf("no rows in %s", catalog.TableRealtimeGameStatsSessions)
	}
}

// TestSpeedStopAndRestart stops the job while the subscription still holds
// messages and starts a new instance on the same subscription: every
// message is processed by exactly one of the two, and the realtime tables
// converge to the batch values with no row twice.
func TestSpeedStopAndRestart(t *testing.T) {
	testStopAndRestart(t, newSpeedEnv(t, "sp2_"))
}

func testStopAndRestart(t *testing.T, env *speedEnv) {
	first := gen.DefaultConfig()
	first.Events, first.Seed, first.Hours = 1500, 21, 2
	sumA := env.publish(t, first)

	// The first instance stops as soon as it has been idle for a moment;
	// meanwhile the second batch of events is still to come. Its events
	// start three hours later, and at most 50 min late, so they fall in
	// windows the first instance never saw.
	second := gen.DefaultConfig()
	second.Events, second.Seed, second.Hours = 1500, 22, 2
	second.Start = first.Start.Add(3 * time.Hour)
	second.MaxLateness = 50 * time.Minute
	recA := env.run(t, env.config("speed-a"))
	cut := time.Now()
	sumB := env.publish(t, second)
	recB := env.run(t, env.config("speed-b"))

	for _, c := range []struct {
		name string
		rec  Reconciliation
		sum  gen.Summary
	}{{"first", recA, sumA}, {"second", recB, sumB}} {
		if c.rec.Read != c.sum.Lines || c.rec.Unique != c.sum.ValidUnique || c.rec.Duplicates != c.sum.Duplicates {
			t.Errorf("%s instance read/unique/duplicates %d/%d/%d, published %d/%d/%d",
				c.name, c.rec.Read, c.rec.Unique, c.rec.Duplicates, c.sum.Lines, c.sum.ValidUnique, c.sum.Duplicates)
		}
	}
	env.checkConverged(t, cut)
	env.checkServingInputs(t, map[string]int64{"speed-a": recA.Read, "speed-b": recB.Read})
}

// checkServingInputs checks what the serving layer reads from the runs
// (run → the messages it read): run_id on every realtime row, the per-day
// user view, whose latest pane per run summed over runs equals the batch
// view, the progress reports, and the serving views over these rows (no
// ledger rows: everything is realtime and equals the batch views).
func (e *speedEnv) checkServingInputs(t *testing.T, runs map[string]int64) {
	t.Helper()
	cat := e.bq.Catalog()
	for _, table := range []string{catalog.TableRealtimeTeam, catalog.TableRealtimeUser, catalog.TableRealtimeGameStatsTeams,
		catalog.TableRealtimeGameStatsSessions, catalog.TableRealtimeUserDaily} {
		for _, r := range e.query(t, fmt.Sprintf("SELECT IFNULL(run_id, '') AS run, COUNT(*) FROM `%s` GROUP BY run", cat.TableID(table))) {
			if _, ok := runs[r[0].(string)]; !ok {
				t.Errorf("%s: %v rows with run_id %q, want one of %v", table, r[1], r[0], runs)
			}
		}
	}

	want := e.reference(t)
	type dayUser struct{ day, user, team string }
	type pane struct{ score, events, pane int64 }
	latest := map[string]pane{}
	for _, r := range e.query(t, fmt.Sprintf("SELECT run_id, CAST(day AS STRING), user, team, score, events, pane_index FROM `%s`", cat.TableID(catalog.TableRealtimeUserDaily))) {
		k := fmt.Sprint(r[0], "|", r[1], "|", r[2], "|", r[3])
		p := pane{r[4].(int64), r[5].(int64), r[6].(int64)}
		if cur, ok := latest[k]; !ok || p.pane > cur.pane {
			latest[k] = p
		}
	}
	got := map[dayUser]pane{}
	for k, p := range latest {
		parts := strings.Split(k, "|")
		du := dayUser{parts[1], parts[2], parts[3]}
		g := got[du]
		got[du] = pane{g.score + p.score, g.events + p.events, 0}
	}
	if len(got) != len(want.UserScoresDaily) {
		t.Errorf("realtime.user_scores_daily has %d (day, user, team), the batch view %d", len(got), len(want.UserScoresDaily))
	}
	for _, w := range want.UserScoresDaily {
		if g := got[dayUser{w.Day.String(), w.User, w.Team}]; g.score != w.Score || g.events != w.Events {
			t.Errorf("user %s/%s on %s: realtime daily score %d events %d, batch %d/%d", w.User, w.Team, w.Day, g.score, g.events, w.Score, w.Events)
		}
	}

	prog := e.query(t, fmt.Sprintf("SELECT run_id, job, COUNT(*), MAX(messages_read), COUNTIF(watermark > processing_time) FROM `%s` GROUP BY run_id, job",
		cat.TableID(catalog.TableStreamProgress)))
	if len(prog) != len(runs) {
		t.Errorf("ops.stream_progress has reports of %d runs, want %d: %v", len(prog), len(runs), prog)
	}
	for _, r := range prog {
		read, ok := runs[r[0].(string)]
		switch {
		case !ok || r[1] != "speed":
			t.Errorf("progress of an unknown run or job: %v", r)
		case r[3].(int64) != read:
			t.Errorf("run %s: last progress report counts %v messages read, the run read %d", r[0], r[3], read)
		case r[4].(int64) != 0:
			t.Errorf("run %s: %v reports with a watermark after their processing time", r[0], r[4])
		}
	}

	// The serving view with no ledger rows: the realtime merge of the
	// runs, hour by hour equal to the batch view.
	served := map[teamWindow][2]int64{}
	for _, r := range e.query(t, fmt.Sprintf("SELECT team, window_start, score, events, source FROM `%s`", cat.TableID(catalog.ViewServingTeamScoresHourly))) {
		if r[4] != "realtime" {
			t.Errorf("serving row %v: source %v without any ledger row", r, r[4])
		}
		served[teamWindow{r[0].(string), r[1].(time.Time).UTC()}] = [2]int64{r[2].(int64), r[3].(int64)}
	}
	if len(served) != len(want.TeamScoresHourly) {
		t.Errorf("serving.team_scores_hourly has %d team hours, the batch view %d", len(served), len(want.TeamScoresHourly))
	}
	for _, w := range want.TeamScoresHourly {
		if g := served[teamWindow{w.Team, w.WindowStart.UTC()}]; g != [2]int64{w.Score, w.Events} {
			t.Errorf("serving team %s hour %s: %v, batch %d/%d", w.Team, w.WindowStart, g, w.Score, w.Events)
		}
	}
}
