package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCloseStopsBigQueryEmulator: Close stops the emulator's process group,
// frees its ports and removes its temporary directory.
func TestCloseStopsBigQueryEmulator(t *testing.T) {
	var log bytes.Buffer
	s, err := Start(context.Background(), Options{BigQuery: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // in case an assertion below fails first
	pid := s.BigQueryPID()
	if pid <= 0 {
		t.Fatalf("BigQueryPID = %d", pid)
	}
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("emulator pgid = %d, %v; want its own group %d", pgid, err, pid)
	}
	tmpDir := s.bq.tmpDir
	if _, err := os.Stat(tmpDir); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.BigQueryEndpoint, "http://127.0.0.1:") || !strings.HasPrefix(s.BigQueryGRPCEndpoint, "127.0.0.1:") {
		t.Errorf("endpoints %q %q", s.BigQueryEndpoint, s.BigQueryGRPCEndpoint)
	}
	httpAddr := strings.TrimPrefix(s.BigQueryEndpoint, "http://")
	for _, addr := range []string{httpAddr, s.BigQueryGRPCEndpoint} {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("emulator not listening on %s: %v", addr, err)
		}
		c.Close()
	}

	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %s", time.Since(start))
	if processAlive(pid) {
		t.Errorf("emulator process %d still running after Close", pid)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("emulator process group %d still exists after Close (kill 0: %v)", pid, err)
	}
	for _, addr := range []string{httpAddr, s.BigQueryGRPCEndpoint} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
	if _, err := os.Stat(tmpDir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind: %v", tmpDir, err)
	}
	if !strings.Contains(log.String(), "shutdown gracefully") {
		t.Errorf("emulator did not shut down on SIGTERM; log:\n%s", log.String())
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestEmulatorDiesWithPanickingProcess: a test binary that panics without
// any cleanup (here: Start without Close) still takes the emulator with it
// (Pdeathsig).
func TestEmulatorDiesWithPanickingProcess(t *testing.T) {
	if os.Getenv("LOCALSTACK_TEST_PANIC_CHILD") == "1" {
		s, err := Start(context.Background(), Options{BigQuery: true})
		if err != nil {
			fmt.Println("START-ERROR", err)
			os.Exit(3)
		}
		fmt.Printf("EMULATOR-PID=%d\n", s.BigQueryPID())
		panic("deliberate panic with a running emulator")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmulatorDiesWithPanickingProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LOCALSTACK_TEST_PANIC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child did not fail:\n%s", out)
	}
	m := regexp.MustCompile(`EMULATOR-PID=(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("child printed no emulator pid (%v):\n%s", err, out)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("emulator %d still running after its parent panicked", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sweepStaleTempDirs() // the child's emulator directory
}

// processAlive reports whether pid exists and is not a zombie (an orphan
// may linger as a zombie where PID 1 does not reap).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

func TestSweepStaleTempDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	stale := filepath.Join(tmp, tmpDirPrefix+"stale")
	live := filepath.Join(tmp, tmpDirPrefix+"live")
	foreign := filepath.Join(tmp, tmpDirPrefix+"foreign")
	for _, d := range []string{stale, live, foreign} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A pid that does not exist: above the kernel's pid_max default.
	os.WriteFile(filepath.Join(stale, ownerFile), []byte("2147483646"), 0o644)
	os.WriteFile(filepath.Join(live, ownerFile), []byte("1"), 0o644)
	sweepStaleTempDirs()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale dir not removed: %v", err)
	}
	for _, d := range []string{live, foreign} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}

func TestToolsModule(t *testing.T) {
	dir, err := toolsModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	if !isToolsModule(dir) {
		t.Fatalf("%s is not the tools module", dir)
	}
	version, hash, err := toolsModuleVersion(dir)
	if err != nil {
		t.Fatal(err)
	}
	if version != "v0.6.6" || !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(hash) {
		t.Errorf("version %q hash %q", version, hash)
	}
	// The working-directory fallback, from a subdirectory of the
	// repository and from outside it.
	root := filepath.Dir(filepath.Dir(dir))
	if got, ok := findToolsModuleFrom(filepath.Join(root, "internal", "localstack")); !ok || got != dir {
		t.Errorf("findToolsModuleFrom(internal/localstack) = %q, %v; want %q", got, ok, dir)
	}
	if got, ok := findToolsModuleFrom(t.TempDir()); ok {
		t.Errorf("findToolsModuleFrom(outside) = %q", got)
	}
}

func TestEnsureBigQueryEmulatorOverrideAndClang(t *testing.T) {
	ctx := context.Background()
	t.Setenv(EnvBigQueryEmulator, filepath.Join(t.TempDir(), "missing"))
	if _, err := EnsureBigQueryEmulator(ctx, nil); err == nil || !strings.Contains(err.Error(), EnvBigQueryEmulator) {
		t.Errorf("missing override binary: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvBigQueryEmulator, self)
	if p, err := EnsureBigQueryEmulator(ctx, nil); err != nil || p != self {
		t.Errorf("override: %q, %v", p, err)
	}

	// Nothing cached and no clang on PATH: a clear error, no build.
	t.Setenv(EnvBigQueryEmulator, "")
	t.Setenv(EnvCacheDir, t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err = EnsureBigQueryEmulator(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "the BigQuery emulator needs clang: apt-get install clang") {
		t.Errorf("no clang: %v", err)
	}
}

func TestLockFileWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	ctx := context.Background()
	unlock, err := lockFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second open in
	// the same process contends like another process would.
	var log bytes.Buffer
	cctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	if _, err := lockFile(cctx, path, &log); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second lock while held: %v", err)
	}
	if !strings.Contains(log.String(), "waiting for another process building the BigQuery emulator") {
		t.Errorf("no waiting message: %q", log.String())
	}
	unlock()
	unlock2, err := lockFile(ctx, path, &log)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}
