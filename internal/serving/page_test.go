package serving_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// testPage loads the page in headless Chromium against the planted
// fixture: it shows the top team and the gap, fetches nothing from
// elsewhere, and follows a data change by itself.
func testPage(t *testing.T, stack *localstack.Stack) {
	testkit.RequireChromium(t, "the page test")
	// A 1 s refresh: the page polls at the answers' max-age.
	e := newEnv(t, stack, "page_", hour("2026-11-05T12:30:00Z"), time.Second)
	e.plant()
	e.refresh()

	ctx := testkit.Browser(t)
	step := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		testkit.BrowserStep(t, ctx, what, a)
	}
	eval := func(expr string) string {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, time.Minute)
		defer scancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	screenshot := func(name string) {
		t.Helper()
		testkit.SaveScreenshot(t, ctx, name)
	}

	step("load the page", chromedp.Navigate(e.http.URL+"/?hours=168&date=2026-11-02"))
	step("wait for the leaderboard", chromedp.Poll[chromedp.Void](`document.body.dataset.loaded === "true" && document.querySelectorAll("#chart rect.gap").length > 0`))
	if got := eval(`document.querySelector("#teams tbody tr").dataset.team + " " + document.querySelector("#teams tbody tr td.num").textContent`); got != "red 172" {
		t.Errorf("top team on the page: %q, want red 172", got)
	}
	if got := eval(`Array.from(document.querySelectorAll("#gaps li.gap")).map(li => li.dataset.from + "/" + li.dataset.to).join(" ")`); got != "2026-10-29T13:00:00Z/2026-11-01T00:00:00Z 2026-11-04T00:00:00Z/2026-11-05T06:00:00Z" {
		// Before 11-01 nothing covers the week either.
		t.Errorf("gaps listed on the page: %q", got)
	}
	if got := eval(`document.querySelectorAll("#chart rect.batch").length + " batch, " + document.querySelectorAll("#chart rect.realtime").length + " realtime"`); got != "2 batch, 2 realtime" {
		t.Errorf("red's chart: %s bars, want 2 batch, 2 realtime", got)
	}
	if got := eval(`document.getElementById("batch-through").textContent + " | " + document.getElementById("watermark").textContent`); got != "team_scores_hourly 2026-11-03, user_scores_daily 2026-11-01 | 2026-11-05 12:29:40 UTC" {
		t.Errorf("freshness on the page: %q", got)
	}
	if got := eval(`document.querySelector("#users tbody tr").dataset.user`); got != "alice" {
		t.Errorf("top player on 2026-11-02: %q, want alice", got)
	}
	// Nothing but this server: every resource the page loaded came from it.
	if got := eval(`performance.getEntriesByType("resource").map(r => r.name).filter(n => !n.startsWith(location.origin + "/")).join(" ")`); got != "" {
		t.Errorf("the page fetched from elsewhere: %s", got)
	}
	screenshot("serving-page.png")

	// The data change: blue scores 500 in today's realtime hour 08:00. The
	// page picks it up on its own at its next poll.
	e.insert(catalog.TableRealtimeTeam, []schemas.RealtimeTeamScore{teamPane("r3", "blue", "2026-11-05T08:00:00Z", 0, 500, 5)})
	e.advance(10 * time.Second)
	e.refresh()
	step("wait for the update", chromedp.Poll[chromedp.Void](`document.querySelector("#teams tbody tr").dataset.team === "blue"`, chromedp.WithPollingTimeout(20*time.Second)))
	if got := eval(`document.querySelector("#teams tbody tr td.num").textContent + " as of " + document.getElementById("as-of").dataset.asOf`); got != "557 as of 2026-11-05T12:30:10Z" {
		t.Errorf("after the update: %q", got)
	}
	screenshot("serving-page-updated.png")
}
