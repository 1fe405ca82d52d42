package demo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/testkit"
)

// TestDemoStopsAtOnceWithoutClang runs the demo as a user who is not root
// on a machine without the emulator binary and without clang: it prints
// the page's address, then stops within seconds, before any download or
// build, with the exact command that installs clang. (As root on
// Debian/Ubuntu it would install clang with apt-get instead; that path
// runs on a fresh CI machine, not here, where clang is installed.)
func TestDemoStopsAtOnceWithoutClang(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	// A PATH with go and nothing else: no clang, no clang++.
	bin := t.TempDir()
	if err := os.Symlink(goBin, filepath.Join(bin, "go")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv(localstack.EnvCacheDir, t.TempDir()) // no emulator built yet
	t.Setenv(localstack.EnvBigQueryEmulator, "")
	geteuid = func() int { return 1000 }
	defer func() { geteuid = os.Geteuid }()

	source, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb testkit.SyncBuffer
	began := time.Now()
	err = Run(context.Background(), Options{Source: source, Listen: "127.0.0.1:0", WorkDir: t.TempDir(), Out: &out, Err: &errb})
	took := time.Since(began)
	if err == nil {
		t.Fatalf("the demo ran without clang:\n%s", out.String())
	}
	msg := err.Error()
	for _, want := range []string{"needs clang", "sudo apt-get install -y clang", localstack.EnvBigQueryEmulator} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q: %s", want, msg)
		}
	}
	if took > 10*time.Second {
		t.Errorf("the demo took %s to stop: it should stop at once", took)
	}
	text := out.String()
	if !strings.HasPrefix(text, "railyard demo:") || !strings.Contains(text, "the page:  http://127.0.0.1:") {
		t.Errorf("the page's address is not printed first:\n%s", text)
	}
	if strings.Contains(text, "modules") || strings.Contains(text, "building") {
		t.Errorf("the demo downloaded or built before checking clang:\n%s", text)
	}
}
