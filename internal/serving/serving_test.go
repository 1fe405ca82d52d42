package serving_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/serving"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// env is the BigQuery emulator with the catalog applied under a prefix,
// and a serving.Server reading it, with a clock the test sets.
type env struct {
	t      *testing.T
	bq     cliflags.BigQuery
	client *bigquery.Client
	srv    *serving.Server
	http   *httptest.Server
	mu     sync.Mutex
	now    time.Time
}

func newEnv(t *testing.T, stack *localstack.Stack, prefix string, now time.Time, refresh time.Duration) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, bq: cliflags.BigQuery{Project: stack.Project, Endpoint: stack.BigQueryEndpoint, DatasetPrefix: prefix}, now: now}
	client, err := e.bq.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	e.client = client
	if err := e.bq.ApplyCatalog(ctx, client); err != nil {
		t.Fatal(err)
	}
	e.srv, err = serving.New(serving.Options{
		Source:  &serving.BigQuerySource{Client: client, Catalog: e.bq.Catalog(), LiveWithin: time.Minute, Job: "speed"},
		Refresh: refresh, Now: e.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) refresh() {
	e.t.Helper()
	if err := e.srv.Refresh(context.Background()); err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
}

func (e *env) insert(table string, rows any) {
	e.t.Helper()
	ds, name, _ := strings.Cut(e.bq.Catalog().TableID(table), ".")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.client.Dataset(ds).Table(name).Inserter().Put(ctx, rows); err != nil {
		e.t.Fatalf("insert into %s: %v", table, err)
	}
}

func (e *env) exec(sql string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := e.client.Query(sql).Run(ctx)
	if err == nil {
		var st *bigquery.JobStatus
		if st, err = job.Wait(ctx); err == nil {
			err = st.Err()
		}
	}
	if err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// get fetches path and decodes a 200 into out; it returns the response.
func (e *env) get(path string, out any, header ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil {
		if resp.StatusCode != http.StatusOK {
			e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			e.t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

func hour(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func date(s string) civil.Date {
	d, err := civil.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func teamPane(run, team, start string, pane, score, events int64) schemas.RealtimeTeamScore {
	ws := hour(start)
	return schemas.RealtimeTeamScore{RunID: run, TeamScore: schemas.TeamScore{Team: team, Score: score, Events: events,
		WindowStart: ws, WindowEnd: ws.Add(time.Hour), Timing: schemas.TimingEarly, PaneIndex: pane, ProcessingTime: ws.Add(time.Hour)}}
}

func batchHour(team, start string, score, events int64) schemas.TeamScore {
	ws := hour(start)
	return schemas.TeamScore{Team: team, Score: score, Events: events, WindowStart: ws, WindowEnd: ws.Add(time.Hour),
		Timing: schemas.TimingOnTime, IsLast: true, ProcessingTime: ws.Add(time.Hour)}
}

func userPane(run, day, user, team string, pane, score, events int64) schemas.UserScoreDailyPane {
	return schemas.UserScoreDailyPane{RunID: run, Day: date(day), User: user, Team: team, Score: score, Events: events,
		Timing: schemas.TimingEarly, PaneIndex: pane, ProcessingTime: hour("2026-11-05T00:00:00Z")}
}

func ledger(view, day, status, run string) schemas.BatchRun {
	return schemas.BatchRun{View: view, Partition: day, RunID: run, StartTime: hour("2026-11-05T01:00:00Z"),
		EndTime: hour("2026-11-05T01:05:00Z"), Status: status}
}

func progress(run, at, watermark string, read int64) schemas.StreamProgress {
	return schemas.StreamProgress{Job: "speed", RunID: run, ProcessingTime: hour(at), Watermark: hour(watermark), MessagesRead: read}
}

// plant writes the fixture of the merge-rule test:
//   - 2026-11-01: covered by batch for both views (SUCCEEDED); realtime
//     rows of that date exist and must be ignored;
//   - 2026-11-02: not covered (the team view has only a FAILED ledger row,
//     another view a SUCCEEDED one; batch rows a failed run left behind
//     must be ignored): two runs overlap on the same keys, with superseded
//     panes and a retried (duplicate) pane, plus a row without run_id;
//   - 2026-11-03: SUCCEEDED, then a later FAILED run: still covered;
//   - 2026-11-04 to 2026-11-05T06:00: nothing covers it, a gap;
//   - 2026-11-05 from 06:00: a live run.
func (e *env) plant() {
	e.insert(catalog.TableTeamScoresHourly, []schemas.TeamScore{
		batchHour("red", "2026-11-01T10:00:00Z", 100, 10), batchHour("blue", "2026-11-01T11:00:00Z", 50, 5),
		batchHour("red", "2026-11-02T10:00:00Z", 777, 77), // left by a failed run
		batchHour("red", "2026-11-03T05:00:00Z", 40, 4),
	})
	e.insert(catalog.TableRealtimeTeam, []schemas.RealtimeTeamScore{
		teamPane("r1", "red", "2026-11-01T10:00:00Z", 0, 999, 99), // covered date: ignored
		teamPane("r1", "red", "2026-11-02T10:00:00Z", 0, 5, 1),    // superseded
		teamPane("r1", "red", "2026-11-02T10:00:00Z", 1, 8, 2),
		teamPane("r1", "red", "2026-11-02T10:00:00Z", 1, 8, 2), // a retried write
		teamPane("r2", "red", "2026-11-02T10:00:00Z", 0, 3, 1), // the second run, same key and window
		teamPane("r2", "red", "2026-11-02T10:00:00Z", 1, 4, 2),
		teamPane("r2", "red", "2026-11-03T01:00:00Z", 0, 6, 1), // covered date: ignored
		teamPane("r3", "red", "2026-11-05T07:00:00Z", 0, 20, 2),
	})
	// A row from before run_id existed: a run of its own.
	e.insert(catalog.TableRealtimeTeam, []schemas.TeamScore{{Team: "blue", Score: 7, Events: 1,
		WindowStart: hour("2026-11-02T11:00:00Z"), WindowEnd: hour("2026-11-02T12:00:00Z"), Timing: schemas.TimingOnTime, ProcessingTime: hour("2026-11-02T12:00:00Z")}})
	e.insert(catalog.TableUserScoresDaily, []schemas.UserScoreDaily{
		{Day: date("2026-11-01"), User: "alice", Team: "red", Score: 100, Events: 10},
		{Day: date("2026-11-02"), User: "alice", Team: "red", Score: 555, Events: 55}, // no SUCCEEDED row: ignored
	})
	e.insert(catalog.TableRealtimeUserDaily, []schemas.UserScoreDailyPane{
		userPane("r1", "2026-11-01", "alice", "red", 0, 999, 99), // covered: ignored
		userPane("r1", "2026-11-02", "alice", "red", 0, 5, 1),
		userPane("r1", "2026-11-02", "alice", "red", 1, 8, 2),
		userPane("r2", "2026-11-02", "alice", "red", 0, 4, 1),
		userPane("r1", "2026-11-02", "bob", "blue", 0, 3, 1),
		userPane("r1", "2026-11-02", "carol", "red", 0, 3, 1), // ties bob on score: bob first
	})
	e.insert(catalog.TableBatchRuns, []schemas.BatchRun{
		ledger(serving.ViewTeamScoresHourly, "2026-11-01", schemas.RunSucceeded, "b1"),
		ledger(serving.ViewUserScoresDaily, "2026-11-01", schemas.RunSucceeded, "b1"),
		ledger(serving.ViewTeamScoresHourly, "2026-11-02", schemas.RunFailed, "b2"),
		ledger(serving.ViewUserScoresDaily, "2026-11-02", schemas.RunFailed, "b2"),
		ledger("batch.game_stats_daily", "2026-11-02", schemas.RunSucceeded, "b2"), // not our view
		ledger(serving.ViewTeamScoresHourly, "2026-11-03", schemas.RunSucceeded, "b3"),
		ledger(serving.ViewTeamScoresHourly, "2026-11-03", schemas.RunFailed, "b4"), // does not uncover
	})
	e.insert(catalog.TableStreamProgress, []schemas.StreamProgress{
		progress("r1", "2026-11-02T00:10:00Z", "2026-11-02T00:00:00Z", 10),
		progress("r1", "2026-11-02T23:10:00Z", "2026-11-02T23:00:00Z", 90),
		progress("r2", "2026-11-02T09:10:00Z", "2026-11-02T09:00:00Z", 5),
		progress("r2", "2026-11-03T02:10:00Z", "2026-11-03T02:00:00Z", 50),
		progress("r3", "2026-11-05T06:10:00Z", "2026-11-05T06:00:00Z", 3),
		progress("r3", "2026-11-05T12:29:50Z", "2026-11-05T12:29:40Z", 40),
	})
}

func TestServing(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	t.Run("MergeRule", func(t *testing.T) { testMergeRule(t, stack) })
	t.Run("NotReadyThenStale", func(t *testing.T) { testNotReadyThenStale(t, stack) })
	t.Run("BadParameters", func(t *testing.T) { testBadParameters(t, stack) })
	t.Run("Page", func(t *testing.T) { testPage(t, stack) })
}

func testMergeRule(t *testing.T, stack *localstack.Stack) {
	e := newEnv(t, stack, "merge_", hour("2026-11-05T12:30:00Z"), 5*time.Second)
	e.plant()
	e.refresh()

	var teams serving.TeamsAnswer
	resp := e.get("/v1/leaderboard/teams?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z&limit=5", &teams)
	// red: batch 100 (11-01) + realtime 8+4 (11-02) + batch 40 (11-03) + realtime 20 (11-05);
	// blue: batch 50 (11-01) + realtime 7 from the row without run_id (11-02).
	wantTeams := []serving.TeamTotal{{Rank: 1, Team: "red", Score: 172, Events: 20}, {Rank: 2, Team: "blue", Score: 57, Events: 6}}
	if fmt.Sprint(teams.Teams) != fmt.Sprint(wantTeams) {
		t.Errorf("teams = %+v, want %+v", teams.Teams, wantTeams)
	}
	f := teams.Freshness
	wantGaps := []serving.Interval{{From: hour("2026-11-04T00:00:00Z"), To: hour("2026-11-05T06:00:00Z")}}
	if fmt.Sprint(f.Gaps) != fmt.Sprint(wantGaps) {
		t.Errorf("gaps = %v, want %v", f.Gaps, wantGaps)
	}
	if f.BatchThrough[serving.ViewTeamScoresHourly] != "2026-11-03" || f.BatchThrough[serving.ViewUserScoresDaily] != "2026-11-01" {
		t.Errorf("batch_through = %v", f.BatchThrough)
	}
	if f.RealtimeWatermark == nil || !f.RealtimeWatermark.Equal(hour("2026-11-05T12:29:40Z")) {
		t.Errorf("realtime_watermark = %v, want r3's 12:29:40", f.RealtimeWatermark)
	}
	if !f.AsOf.Equal(hour("2026-11-05T12:30:00Z")) || f.Stale {
		t.Errorf("as_of %s stale %v", f.AsOf, f.Stale)
	}
	h := resp.Header
	for k, want := range map[string]string{
		"Cache-Control":                 "public, max-age=5",
		"Age":                           "0",
		"Content-Type":                  "application/json",
		serving.HeaderAsOf:              "2026-11-05T12:30:00Z",
		serving.HeaderBatchThrough:      "batch.team_scores_hourly=2026-11-03, batch.user_scores_daily=2026-11-01",
		serving.HeaderRealtimeWatermark: "2026-11-05T12:29:40Z",
		serving.HeaderGaps:              "2026-11-04T00:00:00Z/2026-11-05T06:00:00Z",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}

	// ETag: the same request is 304 with If-None-Match, and a minute later
	// the same snapshot is still 304, with its age.
	etag := h.Get("ETag")
	e.advance(time.Minute)
	if r := e.get("/v1/leaderboard/teams?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z&limit=5", nil, "If-None-Match", etag); r.StatusCode != http.StatusNotModified || r.Header.Get("Age") != "60" || r.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d, Age %q, ETag %q", r.StatusCode, r.Header.Get("Age"), r.Header.Get("ETag"))
	}
	if r := e.get("/v1/leaderboard/teams?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z&limit=1", nil, "If-None-Match", etag); r.StatusCode != http.StatusOK {
		t.Errorf("another request with the first one's ETag: %d, want 200", r.StatusCode)
	}

	var hourly serving.TeamHourlyAnswer
	e.get("/v1/teams/red/hourly?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z", &hourly)
	wantHours := "2026-11-01T10:00:00Z batch 100/10; 2026-11-02T10:00:00Z realtime 12/4; 2026-11-03T05:00:00Z batch 40/4; 2026-11-05T07:00:00Z realtime 20/2"
	if got := hoursString(hourly.Hours); got != wantHours {
		t.Errorf("red hourly:\n got %s\nwant %s", got, wantHours)
	}

	var users serving.UsersAnswer
	e.get("/v1/leaderboard/users?date=2026-11-02&limit=10", &users)
	wantUsers := []serving.UserTotal{{Rank: 1, User: "alice", Team: "red", Score: 12, Events: 3},
		{Rank: 2, User: "bob", Team: "blue", Score: 3, Events: 1}, {Rank: 3, User: "carol", Team: "red", Score: 3, Events: 1}}
	if fmt.Sprint(users.Users) != fmt.Sprint(wantUsers) {
		t.Errorf("users on 2026-11-02 = %+v, want %+v", users.Users, wantUsers)
	}
	if len(users.Freshness.Gaps) != 0 {
		t.Errorf("users on 2026-11-02: gaps %v, want none (r1 reached the whole day)", users.Freshness.Gaps)
	}
	var days serving.UserDaysAnswer
	e.get("/v1/users/alice?from=2026-11-01&to=2026-11-06", &days)
	wantDays := "2026-11-01 red batch 100/10; 2026-11-02 red realtime 12/3"
	if got := daysString(days.Days); got != wantDays {
		t.Errorf("alice's days: %s, want %s", got, wantDays)
	}
	// The user view's coverage: 11-03 is covered for teams only, so for
	// users the gap runs from r2's last watermark to r3's first.
	wantUserGaps := []serving.Interval{{From: hour("2026-11-03T02:00:00Z"), To: hour("2026-11-05T06:00:00Z")}}
	if fmt.Sprint(days.Freshness.Gaps) != fmt.Sprint(wantUserGaps) {
		t.Errorf("alice's gaps = %v, want %v", days.Freshness.Gaps, wantUserGaps)
	}

	// A batch run lands for 11-02: its hours flip from realtime to batch
	// at the next refresh, each hour of the day served exactly once.
	before := e.dayHours(t, "2026-11-02")
	e.exec(fmt.Sprintf("DELETE FROM `%s` WHERE DATE(window_start) = '2026-11-02'", e.bq.Catalog().TableID(catalog.TableTeamScoresHourly)))
	e.insert(catalog.TableTeamScoresHourly, []schemas.TeamScore{batchHour("red", "2026-11-02T10:00:00Z", 13, 5), batchHour("blue", "2026-11-02T11:00:00Z", 7, 1)})
	e.insert(catalog.TableBatchRuns, []schemas.BatchRun{ledger(serving.ViewTeamScoresHourly, "2026-11-02", schemas.RunSucceeded, "b5")})
	e.refresh()
	after := e.dayHours(t, "2026-11-02")
	if before != "blue 11:00 realtime 7; red 10:00 realtime 12" || after != "blue 11:00 batch 7; red 10:00 batch 13" {
		t.Errorf("2026-11-02 before the batch run: %s; after: %s", before, after)
	}
	e.get("/v1/leaderboard/teams?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z&limit=5", &teams)
	if teams.Teams[0].Score != 100+13+40+20 || teams.Freshness.BatchThrough[serving.ViewTeamScoresHourly] != "2026-11-03" {
		t.Errorf("after the batch run: %+v, batch_through %v", teams.Teams, teams.Freshness.BatchThrough)
	}
}

// dayHours lists every (team, hour) of a day the API serves, with source.
func (e *env) dayHours(t *testing.T, day string) string {
	t.Helper()
	var parts []string
	for _, team := range []string{"blue", "red"} {
		var a serving.TeamHourlyAnswer
		e.get(fmt.Sprintf("/v1/teams/%s/hourly?from=%sT00:00:00Z&to=%sT00:00:00Z", team, day, date(day).AddDays(1)), &a)
		for _, h := range a.Hours {
			parts = append(parts, fmt.Sprintf("%s %s %s %d", team, h.WindowStart.Format("15:04"), h.Source, h.Score))
		}
	}
	return strings.Join(parts, "; ")
}

func hoursString(hs []serving.Hour) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("%s %s %d/%d", h.WindowStart.Format(time.RFC3339), h.Source, h.Score, h.Events))
	}
	return strings.Join(parts, "; ")
}

func daysString(ds []serving.Day) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%s %s %s %d/%d", d.Day, d.Team, d.Source, d.Score, d.Events))
	}
	return strings.Join(parts, "; ")
}

// testNotReadyThenStale: 503 until the first snapshot, then a refresh that
// fails (the view it reads is dropped) leaves the last snapshot served,
// marked stale with the error, and its age growing.
func testNotReadyThenStale(t *testing.T, stack *localstack.Stack) {
	e := newEnv(t, stack, "stale_", hour("2026-11-05T12:30:00Z"), 5*time.Second)
	e.plant()
	var body struct{ Error, Reason string }
	r := e.get("/v1/leaderboard/teams", nil)
	_ = json.NewDecoder(r.Body).Decode(&body)
	if r.StatusCode != http.StatusServiceUnavailable || body.Reason != serving.ReasonNotReady || r.Header.Get("Retry-After") == "" {
		t.Errorf("before the first snapshot: %d %+v", r.StatusCode, body)
	}
	if r := e.get("/readyz", nil); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first snapshot: %d", r.StatusCode)
	}
	if r := e.get("/healthz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", r.StatusCode)
	}
	e.refresh()
	if r := e.get("/readyz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("/readyz after the first snapshot: %d", r.StatusCode)
	}
	var fresh serving.TeamsAnswer
	e.get("/v1/leaderboard/teams?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z", &fresh)

	e.exec(fmt.Sprintf("DROP VIEW `%s`", e.bq.Catalog().TableID(catalog.ViewServingTeamScoresHourly)))
	e.advance(30 * time.Second)
	if err := e.srv.Refresh(context.Background()); err == nil {
		t.Fatal("refresh over a dropped view succeeded")
	}
	var stale serving.TeamsAnswer
	resp := e.get("/v1/leaderboard/teams?from=2026-11-01T00:00:00Z&to=2026-11-06T00:00:00Z", &stale)
	if fmt.Sprint(stale.Teams) != fmt.Sprint(fresh.Teams) || !stale.Freshness.AsOf.Equal(fresh.Freshness.AsOf) {
		t.Errorf("stale answer %+v differs from the last snapshot's %+v", stale.Teams, fresh.Teams)
	}
	if !stale.Freshness.Stale || !strings.Contains(stale.Freshness.RefreshError, "team_scores_hourly") ||
		stale.Freshness.RefreshFailedAt == nil || !stale.Freshness.RefreshFailedAt.Equal(hour("2026-11-05T12:30:30Z")) {
		t.Errorf("stale freshness = %+v", stale.Freshness)
	}
	if resp.Header.Get("Age") != "30" || !strings.HasPrefix(resp.Header.Get(serving.HeaderStale), "refresh failing since 2026-11-05T12:30:30Z") {
		t.Errorf("stale headers: Age %q, %s %q", resp.Header.Get("Age"), serving.HeaderStale, resp.Header.Get(serving.HeaderStale))
	}
	if r := e.get("/readyz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("/readyz with a stale snapshot: %d", r.StatusCode)
	}
	m := e.get("/metrics", nil)
	metrics, _ := io.ReadAll(m.Body)
	for _, want := range []string{"railyard_serve_refresh_failures_total 1", "railyard_serve_snapshot_age_seconds 30",
		`railyard_serve_requests_total{code="503",route="teams"} 1`, `railyard_serve_requests_total{code="200",route="teams"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// testBadParameters: every bad parameter is a 400 with its reason,
// unknown paths 404, other methods 405, all as {"error","reason"}.
func testBadParameters(t *testing.T, stack *localstack.Stack) {
	e := newEnv(t, stack, "bad_", hour("2026-11-05T12:30:00Z"), 5*time.Second)
	e.refresh()
	long := strings.Repeat("x", 129)
	for _, c := range []struct {
		path   string
		status int
		reason string
	}{
		{"/v1/leaderboard/teams?from=yesterday", 400, serving.ReasonInvalidTime},
		{"/v1/leaderboard/teams?from=2026-11-01", 400, serving.ReasonInvalidTime},
		{"/v1/leaderboard/teams?to=2026-11-01T10:00:00", 400, serving.ReasonInvalidTime},
		{"/v1/leaderboard/teams?from=2026-11-01T10:30:00Z", 400, serving.ReasonNotWholeHour},
		{"/v1/leaderboard/teams?from=2026-11-01T10:00:00.5Z", 400, serving.ReasonNotWholeHour},
		{"/v1/leaderboard/teams?from=2026-11-01T10:00:00%2B05:30", 400, serving.ReasonNotWholeHour},
		{"/v1/leaderboard/teams?from=2026-11-02T00:00:00Z&to=2026-11-02T00:00:00Z", 400, serving.ReasonEmptyRange},
		{"/v1/leaderboard/teams?from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z", 400, serving.ReasonEmptyRange},
		{"/v1/leaderboard/teams?from=2026-10-01T00:00:00Z&to=2026-11-01T01:00:00Z", 400, serving.ReasonRangeTooLong},
		{"/v1/leaderboard/teams?from=2026-09-01T00:00:00Z&to=2026-09-02T00:00:00Z", 400, serving.ReasonOutOfRange},
		{"/v1/leaderboard/teams?limit=0", 400, serving.ReasonInvalidLimit},
		{"/v1/leaderboard/teams?limit=1001", 400, serving.ReasonInvalidLimit},
		{"/v1/leaderboard/teams?limit=ten", 400, serving.ReasonInvalidLimit},
		{"/v1/leaderboard/teams?limit=5&limit=6", 400, serving.ReasonRepeatedParameter},
		{"/v1/leaderboard/teams?date=2026-11-01", 400, serving.ReasonUnknownParameter},
		{"/v1/leaderboard/teams?from=%zz", 400, serving.ReasonInvalidQuery},
		{"/v1/leaderboard/users?date=2026-13-01", 400, serving.ReasonInvalidDate},
		{"/v1/leaderboard/users?date=2026-11-1", 400, serving.ReasonInvalidDate},
		{"/v1/leaderboard/users?date=2026-11-01&limit=-1", 400, serving.ReasonInvalidLimit},
		{"/v1/leaderboard/users?from=2026-11-01", 400, serving.ReasonUnknownParameter},
		{"/v1/teams//hourly", 400, serving.ReasonInvalidName},
		{"/v1/teams/" + long + "/hourly", 400, serving.ReasonInvalidName},
		{"/v1/teams/red/hourly?from=2026-11-01T10:00:00Z&to=2026-11-01T09:00:00Z", 400, serving.ReasonEmptyRange},
		{"/v1/teams/red/hourly?limit=3", 400, serving.ReasonUnknownParameter},
		{"/v1/users/", 400, serving.ReasonInvalidName},
		{"/v1/users/" + long, 400, serving.ReasonInvalidName},
		{"/v1/users/alice?from=2026-11-01&to=2026-11-01", 400, serving.ReasonEmptyRange},
		{"/v1/users/alice?from=2026-10-01&to=2026-11-02", 400, serving.ReasonRangeTooLong},
		{"/v1/users/alice?from=11/01/2026", 400, serving.ReasonInvalidDate},
		{"/v1/leaderboard", 404, serving.ReasonNotFound},
		{"/v1/teams/red", 404, serving.ReasonNotFound},
		{"/v1/teams/red/daily", 404, serving.ReasonNotFound},
		{"/v1/users/alice/days", 404, serving.ReasonNotFound},
		{"/index.html", 404, serving.ReasonNotFound},
	} {
		r := e.get(c.path, nil)
		var body map[string]string
		err := json.NewDecoder(r.Body).Decode(&body)
		if r.StatusCode != c.status || err != nil || body["reason"] != c.reason || body["error"] == "" {
			t.Errorf("GET %s: %d %v %v, want %d %s", c.path, r.StatusCode, body, err, c.status, c.reason)
		}
	}
	// Names may hold any byte, escaped: a team "a/b c" is one segment.
	var a serving.TeamHourlyAnswer
	e.get("/v1/teams/a%2Fb%20c/hourly", &a)
	if a.Team != "a/b c" {
		t.Errorf("escaped team name came back as %q", a.Team)
	}
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/v1/leaderboard/teams", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
