package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's headless-capable browser, which the page tests
// drive (scripts/test.sh installs it when run as root); no test downloads
// a browser of its own.
const Chromium = "/usr/bin/chromium"

// RequireChromium fails the test at once, with the command that installs
// it, when Chromium is missing; what says what needs it.
func RequireChromium(t testing.TB, what string) {
	t.Helper()
	if _, err := exec.LookPath(Chromium); err != nil {
		t.Fatalf("%s needs Debian's chromium at %s: apt-get install -y chromium (scripts/test.sh does this as root)", what, Chromium)
	}
}

// Browser starts headless Chromium for the rest of the test (no sandbox,
// no background networking, a fresh profile, a 1280×1000 window) and
// returns a chromedp context for it.
func Browser(t testing.TB) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, for the lifetime of ctx
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// BrowserStep runs one chromedp action within a minute, failing the test
// with what on error.
func BrowserStep(t testing.TB, ctx context.Context, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := chromedp.Run(sctx, a); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ArtifactDir is where tests save what a person should look at
// (screenshots): $RAILYARD_TEST_ARTIFACTS, or railyard-test-artifacts in
// the temp dir.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("RAILYARD_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "railyard-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SaveScreenshot saves a full-page screenshot of the browser's page as
// name in ArtifactDir and returns its path.
func SaveScreenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(ArtifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved: %s", path)
	return path
}
