package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/archivejob"
	"github.com/railyard-dev/railyard/internal/serving"
	"github.com/railyard-dev/railyard/internal/speedjob"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms/gaming"
)

func speedTeamOptions() gaming.TeamScoreOptions {
	return gaming.TeamScoreOptions{Window: time.Hour, AllowedLateness: 2 * time.Hour, EarlyDelay: demoEarlyDelay, LateDelay: demoLateDelay}
}

// watch is the live phase: it prints the status every ReportEvery until
// the duration has passed (or the traffic failed).
func (d *demo) watch(ctx context.Context, trafficDone chan error) error {
	start := time.Now()
	end := start.Add(d.o.Duration)
	t := time.NewTicker(d.o.ReportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-trafficDone:
			trafficDone <- err
			if err != nil {
				return err
			}
		case <-time.After(time.Until(end)):
			return nil
		case <-t.C:
			fmt.Fprintf(d.out, "\n── %s of %s ──\n", time.Since(start).Round(time.Second), d.o.Duration)
			if err := d.report(ctx, false); err != nil {
				fmt.Fprintf(d.out, "  (status unavailable: %v)\n", err)
			}
		}
	}
}

// api GETs an answer of the serving API, as any client would.
func (d *demo) api(ctx context.Context, path string, q url.Values, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Reason string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("GET %s: %s (%s)", path, resp.Status, e.Reason)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

func dayRange(day civil.Date) url.Values {
	from := day.In(time.UTC)
	return url.Values{"from": {from.Format(time.RFC3339)}, "to": {from.AddDate(0, 0, 1).Format(time.RFC3339)}}
}

// leaderboard returns a day's teams from the serving API.
func (d *demo) leaderboard(ctx context.Context, day civil.Date, limit int) (serving.TeamsAnswer, error) {
	q := dayRange(day)
	q.Set("limit", fmt.Sprint(limit))
	var a serving.TeamsAnswer
	return a, d.api(ctx, serving.PathTeams, q, &a)
}

// report prints the status: what was posted, the scheduler, both days'
// leaderboards with where they come from, gaps and dead letters.
func (d *demo) report(ctx context.Context, final bool) error {
	t := d.traffic
	if t != nil {
		fmt.Fprintf(d.out, "  posted      %d lines (HTTP %d, MQTT %d): %d valid, %d invalid → gateway rejected them to %s (%d there)\n",
			t.posted.Load(), t.viaHTTP.Load(), t.viaMQTT.Load(), t.accepted.Load(), t.rejected.Load(), "game-events-dead-letters", d.deadTopic.Load())
	}
	status, _ := d.sched.state()
	var jobs []string
	for _, j := range []string{"batch-daily", "top-teams-daily"} {
		s := status[j]
		if s == "" {
			s = "waiting"
			if j == "batch-daily" {
				s = "due, starting"
			} else {
				s = "waiting for batch-daily"
			}
		}
		jobs = append(jobs, j+": "+s)
	}
	fmt.Fprintf(d.out, "  scheduler   %s\n", strings.Join(jobs, " · "))
	yesterday := d.today.AddDays(-1)
	limit := 3
	if final {
		limit = 5
	}
	for _, day := range []civil.Date{yesterday, d.today} {
		a, err := d.leaderboard(ctx, day, limit)
		if err != nil {
			return err
		}
		label := "today    "
		if day == yesterday {
			label = "yesterday"
		}
		fmt.Fprintf(d.out, "  %s   %s from %s:%s\n", label, day, d.source(a.Freshness, day), rank(a.Teams))
	}
	a, err := d.leaderboard(ctx, d.today, 1)
	if err == nil && len(a.Freshness.Gaps) > 0 {
		var gaps []string
		for _, g := range a.Freshness.Gaps {
			gaps = append(gaps, g.From.Format("15:04")+"–"+g.To.Format("15:04"))
		}
		fmt.Fprintf(d.out, "  gaps        today %s UTC: no batch and no speed run read events for it (the demo's traffic began at %s) — reported, not silently undercounted\n",
			strings.Join(gaps, ", "), d.began.UTC().Format("15:04"))
	}
	dl, err := d.deadLetters(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  dead letters  gateway %d (on its dead-letter topic)%s\n", d.deadTopic.Load(), dl)
	return nil
}

// source says where a day's figures come from, from the answer's
// freshness: batch when the ledger covers it, else realtime (or nothing
// yet).
func (d *demo) source(f serving.Freshness, day civil.Date) string {
	if through, ok := f.BatchThrough[serving.ViewTeamScoresHourly]; ok {
		if bt, err := civil.ParseDate(through); err == nil && !bt.Before(day) {
			return "batch (ops.batch_runs covers it)"
		}
	}
	if day.Before(d.today) {
		return "nothing yet — a gap until the scheduled batch run lands"
	}
	if f.RealtimeWatermark != nil {
		return fmt.Sprintf("realtime (speed job live, watermark %s)", f.RealtimeWatermark.UTC().Format("15:04:05"))
	}
	return "realtime"
}

func rank(teams []serving.TeamTotal) string {
	if len(teams) == 0 {
		return " (no events yet)"
	}
	var b strings.Builder
	for _, t := range teams {
		fmt.Fprintf(&b, "  %d. %s %d", t.Rank, t.Team, t.Score)
	}
	return b.String()
}

// deadLetters counts ops.dead_letters by pipeline (the batch job's
// invalid lake lines, the streaming jobs' rejects).
func (d *demo) deadLetters(ctx context.Context) (string, error) {
	rows, err := d.deadLetterCounts(ctx, "pipeline")
	if err != nil {
		return "", err
	}
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s %d", r.Key, r.N))
	}
	if len(parts) == 0 {
		return "; ops.dead_letters: none yet", nil
	}
	return "; ops.dead_letters: " + strings.Join(parts, ", "), nil
}

type countRow struct {
	Key string `bigquery:"k"`
	N   int64  `bigquery:"n"`
}

func (d *demo) deadLetterCounts(ctx context.Context, by string) ([]countRow, error) {
	q := d.bqc.Query(fmt.Sprintf("SELECT %s AS k, COUNT(*) AS n FROM `%s` GROUP BY %s ORDER BY %s", by, d.bq.Catalog().TableID(catalog.TableDeadLetters), by, by))
	return readRows[countRow](ctx, q)
}

// readRows runs q and reads all its rows. The query is never cancelled in
// flight (Ctrl-C): the emulator drops its connection for good when one
// is, and the scheduler could then not record its cancelled attempt.
func readRows[T any](ctx context.Context, q *bigquery.Query) ([]T, error) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	it, err := q.Read(qctx)
	if err != nil {
		return nil, err
	}
	var out []T
	for {
		var r T
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
}

// ledgerRow is one ops.batch_runs row of yesterday.
type ledgerRow struct {
	View        string              `bigquery:"view"`
	RunID       string              `bigquery:"run_id"`
	InputEvents int64               `bigquery:"input_events"`
	RowsWritten int64               `bigquery:"rows_written"`
	DeadLetters int64               `bigquery:"dead_letters"`
	Status      string              `bigquery:"status"`
	Job         bigquery.NullString `bigquery:"job"`
}

func (d *demo) ledger(ctx context.Context, day civil.Date) ([]ledgerRow, error) {
	q := d.bqc.Query(fmt.Sprintf("SELECT view, run_id, input_events, rows_written, dead_letters, status, job FROM `%s` WHERE `partition` = @p ORDER BY view",
		d.bq.Catalog().TableID(catalog.TableBatchRuns)))
	q.Parameters = []bigquery.QueryParameter{{Name: "p", Value: day.String()}}
	return readRows[ledgerRow](ctx, q)
}

// check records one line of the reconciliation.
type checker struct {
	d        *demo
	problems []string
}

func (c *checker) line(ok bool, format string, args ...any) {
	mark := "ok"
	if !ok {
		mark = "MISMATCH"
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(c.d.out, "  %s  %s\n", fmt.Sprintf(format, args...), mark)
}

// reconcile prints every job's account and checks it against what was
// generated and posted, and what is served against both.
func (d *demo) reconcile(ctx context.Context, speed jobResult[speedjob.Reconciliation], archive jobResult[archivejob.Report]) error {
	c := &checker{d: d}
	t := d.traffic
	posted, valid, invalid := t.posted.Load(), t.accepted.Load(), t.rejected.Load()
	gs := d.gateway.Stats()
	fmt.Fprintln(d.out, "\nreconciliation")
	c.line(posted == valid+invalid && gs.Accepted == valid && gs.DeadLettered == invalid && d.deadTopic.Load() == invalid,
		"gateway   posted %d = accepted %d + rejected %d (HTTP %d, MQTT %d); Pub/Sub confirmed %d + %d dead-lettered, %d on the dead-letter topic",
		posted, valid, invalid, t.viaHTTP.Load(), t.viaMQTT.Load(), gs.Accepted, gs.DeadLettered, d.deadTopic.Load())
	if speed.err != nil {
		c.line(false, "speed     run failed: %v", speed.err)
	} else {
		r := speed.res
		c.line(r.OK() && r.Read == valid && r.Unique == d.live.Unique(),
			"speed     read %d = valid %d + invalid %d; valid = unique %d + duplicates %d (the gateway accepted %d; %d unique posted)",
			r.Read, r.Valid, r.Invalid, r.Unique, r.Duplicates, valid, d.live.Unique())
		var rows []string
		for k, v := range r.RowsWritten {
			rows = append(rows, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(rows)
		fmt.Fprintf(d.out, "            rows written: %s\n", strings.Join(rows, ", "))
	}
	if archive.err != nil {
		c.line(false, "archiver  run failed: %v", archive.err)
	} else {
		r := archive.res
		c.line(r.OK() && r.Read == valid && r.Acked == r.Read,
			"archiver  read %d = written %d + dead-lettered %d into %d lake files; acked %d", r.Read, r.LinesWritten, r.DeadLettered, r.Files, r.Acked)
	}
	yesterday := d.today.AddDays(-1)
	rows, err := d.ledger(ctx, yesterday)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Status != "SUCCEEDED" || !strings.HasPrefix(r.View, "batch.") {
			fmt.Fprintf(d.out, "  ledger    %s %s %s (run %s)\n", yesterday, r.View, r.Status, r.RunID)
			continue
		}
		c.line(r.InputEvents == d.backGen.Lines && r.DeadLetters == d.backGen.Invalid,
			"batch     %s %s (scheduled: %s, run %s): read %d lines = the backlog's %d, dead letters %d = its invalid lines, %d rows",
			yesterday, r.View, r.Job.StringVal, r.RunID, r.InputEvents, d.backGen.Lines, r.DeadLetters, r.RowsWritten)
	}
	if byReason, err := d.deadLetterCounts(ctx, "pipeline || ' ' || reason"); err == nil {
		var parts []string
		for _, r := range byReason {
			parts = append(parts, fmt.Sprintf("%s %d", r.Key, r.N))
		}
		fmt.Fprintf(d.out, "  dead letters in ops.dead_letters by pipeline and reason: %s\n", strings.Join(parts, ", "))
	}
	var gw []string
	d.deadByWhy.Range(func(k, v any) bool {
		gw = append(gw, fmt.Sprintf("%s %d", k, v.(interface{ Load() int64 }).Load()))
		return true
	})
	sort.Strings(gw)
	fmt.Fprintf(d.out, "  dead letters on the gateway's topic by reason: %s\n", strings.Join(gw, ", "))

	fmt.Fprintln(d.out, "\nserved (the serving API) against what was generated and posted")
	if err := d.checkServed(ctx, c, yesterday, d.backlog, "batch"); err != nil {
		return err
	}
	for _, day := range d.live.Days() {
		if err := d.checkServed(ctx, c, day, d.live, "realtime"); err != nil {
			return err
		}
	}
	if len(c.problems) > 0 {
		return fmt.Errorf("%d figure(s) did not reconcile: %s", len(c.problems), strings.Join(c.problems, "; "))
	}
	return nil
}

// checkServed compares a day's served team totals with the tally and
// checks that every hour of it comes from the expected layer.
func (d *demo) checkServed(ctx context.Context, c *checker, day civil.Date, want *Tally, layer string) error {
	a, err := d.leaderboard(ctx, day, 1000)
	if err != nil {
		return err
	}
	got := map[string]Total{}
	for _, t := range a.Teams {
		got[t.Team] = Total{Score: t.Score, Events: t.Events}
	}
	exp := want.Teams(day)
	diffs := CompareTeams(exp, got, 3)
	sumGot, sumExp := Sum(got), Sum(exp)
	c.line(len(diffs) == 0, "%s  %d teams, %d points from %d events served; expected %d points from %d unique events%s",
		day, len(got), sumGot.Score, sumGot.Events, sumExp.Score, sumExp.Events, diffText(diffs))
	sources := map[string]int{}
	for team := range exp {
		var h serving.TeamHourlyAnswer
		if err := d.api(ctx, "/v1/teams/"+url.PathEscape(team)+"/hourly", dayRange(day), &h); err != nil {
			return err
		}
		for _, hr := range h.Hours {
			sources[hr.Source]++
		}
	}
	c.line(len(sources) == 1 && sources[layer] > 0, "%s  every team hour served from %s: %v", day, layer, sources)
	return nil
}

func diffText(diffs []string) string {
	if len(diffs) == 0 {
		return ""
	}
	return " — " + strings.Join(diffs, "; ")
}
