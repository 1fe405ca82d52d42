package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/chromedp/chromedp"

	"github.com/railyard-dev/railyard/internal/demo"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/serving"
	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/schemas"
)

// demoSmoke* are the smoke test's settings: short live traffic, a small
// backlog.
const (
	demoSmokeDuration = "20s"
	demoSmokeRate     = "20"
	demoSmokeBacklog  = 5000
	demoSmokeSeed     = 7
)

// TestDemoSmoke runs `railyard demo --keep` for a short duration, as a user
// would, and checks through the serving API (HTTP, as any client) that
// yesterday is served from batch (the ledger covers it: the scheduler
// caught it up by itself), today from realtime, and that the served
// figures equal what the test computes itself from what was generated and
// posted: the backlog regenerated from its seed, the live lines the demo
// logged as it sent them. Invalid lines are not served (the gateway and
// the batch job dead-letter them) and a duplicate event_id counts once;
// with those two rules the figures must be equal, score and events, team
// by team. A healthy run prints no ERROR line. It then takes the page's
// screenshot in headless Chromium (docs/demo.png is a copy) and stops the
// kept demo as Ctrl-C does: it must end without an error and leave
// nothing running.
func TestDemoSmoke(t *testing.T) {
	testkit.RequireChromium(t, "the demo's page check")
	began := time.Now()
	work := t.TempDir()
	var out, errb testkit.SyncBuffer
	cmd := newRootCommand()
	cmd.SetArgs([]string{"demo", "--duration", demoSmokeDuration, "--rate", demoSmokeRate, "--backlog", fmt.Sprint(demoSmokeBacklog),
		"--seed", fmt.Sprint(demoSmokeSeed), "--listen", "127.0.0.1:0", "--work_dir", work, "--report_every", "10s", "--keep"})
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			interrupt()
			<-done
		}
		if t.Failed() {
			t.Logf("demo output:\n%s\nstandard error:\n%s", out.String(), errb.String())
		}
	}()

	// Until the report and the --keep settings are out.
	deadline := time.After(15 * time.Minute)
	for !strings.Contains(out.String(), "everything keeps running") {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("the demo ended before keeping: %v", err)
		case <-deadline:
			t.Fatal("no report within 15 minutes")
		case <-time.After(time.Second):
		}
	}
	reportAt := time.Since(began)
	text := out.String()

	// The page's address is the first thing printed.
	m := regexp.MustCompile(`(?m)^  the page:\s+(http://127\.0\.0\.1:\d+)/`).FindStringSubmatchIndex(text)
	if m == nil || m[0] > strings.Index(text, "[1/6]") {
		t.Fatalf("the page's URL is not printed first:\n%s", text)
	}
	base := text[m[2]:m[3]]
	dm := regexp.MustCompile(`plan:\s+yesterday (\d{4}-\d\d-\d\d) .* today (\d{4}-\d\d-\d\d) live`).FindStringSubmatch(text)
	if dm == nil {
		t.Fatalf("no plan line with the dates:\n%s", text)
	}
	yesterday, _ := civil.ParseDate(dm[1])
	today, _ := civil.ParseDate(dm[2])
	if yesterday != today.AddDays(-1) {
		t.Fatalf("plan: yesterday %s, today %s", yesterday, today)
	}
	for _, want := range []string{
		"scheduler: batch-daily for " + yesterday.String() + ": SUCCEEDED",
		"every figure reconciles",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if strings.Contains(text, "MISMATCH") {
		t.Errorf("the demo's own reconciliation reports a mismatch")
	}
	if e := errb.String(); strings.Contains(e, "ERROR") {
		t.Errorf("a healthy demo printed ERROR lines:\n%s", e)
	}

	// What must be served, computed here: the backlog regenerated from its
	// seed, and every line the demo posted (it logs each as sent).
	backlog := newExpected()
	g, err := gen.New(demo.BacklogConfig(today, demoSmokeBacklog, demoSmokeSeed))
	if err != nil {
		t.Fatal(err)
	}
	for r := range g.Records() {
		backlog.add(r.Line)
	}
	live := newExpected()
	for _, name := range []string{demo.PostedHTTPFile, demo.PostedMQTTFile} {
		f, err := os.Open(filepath.Join(work, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			live.add(sc.Bytes())
		}
		f.Close()
	}
	if live.lines == 0 || live.invalid == 0 || live.duplicates == 0 {
		t.Errorf("the live traffic should hold valid, invalid and duplicate lines: %d lines, %d invalid, %d duplicates", live.lines, live.invalid, live.duplicates)
	}
	// The demo's account of the gateway: every posted line accepted or
	// rejected, the rejected ones exactly the invalid ones.
	if want := fmt.Sprintf("gateway   posted %d = accepted %d + rejected %d", live.lines, live.lines-live.invalid, live.invalid); !strings.Contains(text, want) {
		t.Errorf("the demo's gateway account differs from the posted lines: want %q", want)
	}

	get := func(path string, q url.Values, into any) {
		t.Helper()
		resp, err := http.Get(base + path + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s?%s: %s", path, q.Encode(), resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
	day := func(d civil.Date) url.Values {
		from := d.In(time.UTC)
		return url.Values{"from": {from.Format(time.RFC3339)}, "to": {from.AddDate(0, 0, 1).Format(time.RFC3339)}}
	}
	check := func(d civil.Date, want map[string][2]int64, source string) {
		t.Helper()
		q := day(d)
		q.Set("limit", "1000")
		var a serving.TeamsAnswer
		get(serving.PathTeams, q, &a)
		got := map[string][2]int64{}
		for _, tt := range a.Teams {
			got[tt.Team] = [2]int64{tt.Score, tt.Events}
		}
		if len(want) == 0 {
			t.Fatalf("%s: nothing expected: the test's own tally is empty", d)
		}
		for team, w := range want {
			if got[team] != w {
				t.Errorf("%s %s: served %d points / %d events, posted %d / %d", d, team, got[team][0], got[team][1], w[0], w[1])
			}
		}
		for team := range got {
			if _, ok := want[team]; !ok {
				t.Errorf("%s: served team %s that was never posted", d, team)
			}
		}
		bt := a.Freshness.BatchThrough[serving.ViewTeamScoresHourly]
		switch source {
		case "batch":
			if bt < d.String() {
				t.Errorf("%s: batch through %q: the ledger should cover it", d, bt)
			}
		case "realtime":
			if bt >= d.String() {
				t.Errorf("%s: batch through %q: batch should not cover today", d, bt)
			}
		}
		hours := 0
		for team := range want {
			var h serving.TeamHourlyAnswer
			get("/v1/teams/"+url.PathEscape(team)+"/hourly", day(d), &h)
			for _, hr := range h.Hours {
				hours++
				if hr.Source != source {
					t.Errorf("%s %s hour %s served from %q, want %s", d, team, hr.WindowStart.Format("15:04"), hr.Source, source)
				}
			}
		}
		if hours == 0 {
			t.Errorf("%s: no team hours served", d)
		}
		t.Logf("%s: %d teams, %d team hours, all from %s; served = posted (%d points, %d unique events of %d lines: %d invalid, %d duplicates)",
			d, len(got), hours, source, sum(want)[0], sum(want)[1], map[bool]int64{true: backlog.lines, false: live.lines}[source == "batch"],
			map[bool]int64{true: backlog.invalid, false: live.invalid}[source == "batch"], map[bool]int64{true: backlog.duplicates, false: live.duplicates}[source == "batch"])
	}
	check(yesterday, backlog.teams[yesterday], "batch")
	if len(live.teams) != 1 || live.teams[today] == nil {
		t.Errorf("live events on other days than %s: %v", today, live.days())
	}
	check(today, live.teams[today], "realtime")

	screenshotDemoPage(t, base)

	// Ctrl-C: everything stops and the demo says so.
	interrupt()
	select {
	case err := <-done:
		stopped = true
		if err != nil { // with --keep, Ctrl-C is how the demo ends after its report
			t.Errorf("after Ctrl-C the kept demo returned %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the demo did not stop within 2 minutes of Ctrl-C")
	}
	if text := out.String(); !strings.Contains(text, "nothing is left running") || strings.Contains(text, "LEFT RUNNING") {
		t.Errorf("after Ctrl-C the demo does not say that nothing is left running:\n%s", text[strings.LastIndex(text, "interrupted"):])
	}
	if e := errb.String(); strings.Contains(e, "ERROR") {
		t.Errorf("the demo printed ERROR lines:\n%s", e)
	}
	t.Logf("demo smoke test: report after %s, stopped after %s", reportAt.Round(time.Second), time.Since(began).Round(time.Second))
}

// expected is the test's own account of a set of lines: decoded with the
// shared schema code, invalid ones out, one copy per event_id, score and
// events per event date and team.
type expected struct {
	seen                       map[string]bool
	teams                      map[civil.Date]map[string][2]int64
	lines, invalid, duplicates int64
}

func newExpected() *expected {
	return &expected{seen: map[string]bool{}, teams: map[civil.Date]map[string][2]int64{}}
}

func (e *expected) add(line []byte) {
	e.lines++
	ev, err := schemas.DecodeLine(line, time.Now())
	if err != nil {
		e.invalid++
		return
	}
	if e.seen[ev.EventID] {
		e.duplicates++
		return
	}
	e.seen[ev.EventID] = true
	d := civil.DateOf(ev.EventTime.UTC())
	if e.teams[d] == nil {
		e.teams[d] = map[string][2]int64{}
	}
	v := e.teams[d][ev.Team]
	e.teams[d][ev.Team] = [2]int64{v[0] + ev.Score, v[1] + 1}
}

func (e *expected) days() []civil.Date {
	var ds []civil.Date
	for d := range e.teams {
		ds = append(ds, d)
	}
	return ds
}

func sum(m map[string][2]int64) [2]int64 {
	var s [2]int64
	for _, v := range m {
		s[0] += v[0]
		s[1] += v[1]
	}
	return s
}

// screenshotDemoPage loads the demo's page in headless Chromium, waits
// until it shows the leaderboard and a chart with both batch and realtime
// hours (the default span is the last 48 hours: yesterday and today), and
// saves its screenshot as demo.png in the artifact directory
// ($RAILYARD_TEST_ARTIFACTS, or railyard-test-artifacts in the temp dir);
// docs/demo.png is a copy.
func screenshotDemoPage(t *testing.T, base string) {
	t.Helper()
	ctx := testkit.Browser(t)
	run := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		testkit.BrowserStep(t, ctx, what, a)
	}
	run("load the page", chromedp.Navigate(base+"/"))
	run("wait for the leaderboard with batch and realtime hours", chromedp.Poll[chromedp.Void](
		`document.body.dataset.loaded === "true" && document.querySelectorAll("#teams tbody tr").length > 0 && `+
			`document.querySelectorAll("#chart rect.batch").length > 0 && document.querySelectorAll("#chart rect.realtime").length > 0`,
		chromedp.WithPollingTimeout(45*time.Second)))
	testkit.SaveScreenshot(t, ctx, "demo.png")
}

// TestDemoInterrupt stops the demo as Ctrl-C does while the scheduler runs
// yesterday's batch pipeline and the live traffic flows:
// the command ends with "demo interrupted", the demo lists what it stopped
// and that nothing is left running, prints no ERROR line, and the
// emulator's process is gone.
func TestDemoInterrupt(t *testing.T) {
	var out, errb testkit.SyncBuffer
	cmd := newRootCommand()
	work := t.TempDir()
	cmd.SetArgs([]string{"demo", "--listen", "127.0.0.1:0", "--work_dir", work, "--backlog", "2000"})
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.After(5 * time.Minute)
	// Once the batch pipeline runs: the hardest moment to stop.
	for !strings.Contains(out.String(), "scheduler: built ./pipelines/batch") {
		select {
		case err := <-done:
			t.Fatalf("the demo ended by itself: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("the batch pipeline was not built within 5 minutes:\n%s", out.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
	interrupt()
	select {
	case err := <-done:
		if err == nil || err.Error() != "demo interrupted" {
			t.Errorf("after Ctrl-C the demo returned %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the demo did not stop within 2 minutes of Ctrl-C")
	}
	text := out.String()
	if i := strings.LastIndex(text, "interrupted after"); i >= 0 {
		t.Logf("the demo's account of the stop:\n%s", text[i:])
	}
	for _, want := range []string{"interrupted after", "stopped: ", "the scheduler", "the local stack", "nothing is left running"} {
		if !strings.Contains(text, want) {
			t.Errorf("after Ctrl-C the output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "LEFT RUNNING") {
		t.Errorf("something was left running:\n%s", text)
	}
	if e := errb.String(); strings.Contains(e, "ERROR") {
		t.Errorf("stopping printed ERROR lines:\n%s", e)
	}
	m := regexp.MustCompile(`BigQuery emulator pid (\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no emulator pid in the output:\n%s", text)
	}
	if _, err := os.Stat("/proc/" + m[1]); err == nil {
		t.Errorf("the emulator (pid %s) still runs", m[1])
	}
	// Nor does any process the scheduler started (go build, the batch
	// pipeline: their command lines name the work directory).
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), work) {
			t.Errorf("%s still runs: %s", filepath.Dir(p), strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}
