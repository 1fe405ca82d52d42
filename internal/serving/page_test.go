package serving_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// chromium is Debian's headless-capable browser (scripts/test.sh installs
// it when run as root).
const chromium = "/usr/bin/chromium"

// artifactDir is where the page test saves its screenshots:
// $RAILYARD_TEST_ARTIFACTS, or railyard-test-artifacts in the temp dir.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("RAILYARD_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "railyard-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testPage loads the page in headless Chromium against the planted
// fixture: it shows the top team and the gap, fetches nothing from
// elsewhere, and follows a data change by itself.
func testPage(t *testing.T, stack *localstack.Stack) {
	if _, err := exec.LookPath(chromium); err != nil {
		t.Fatalf("the page test needs Debian's chromium at %s: apt-get install -y chromium (scripts/test.sh does this as root)", chromium)
	}
	// A 1 s refresh: the page polls at the answers' max-age.
	e := newEnv(t, stack, "page_", hour("2026-11-05T12:30:00Z"), time.Second)
	e.plant()
	e.refresh()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	step := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, time.Minute)
		defer scancel()
		if _, err := chromedp.Run(sctx, a); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
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
		sctx, scancel := context.WithTimeout(ctx, time.Minute)
		defer scancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved: %s", path)
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
