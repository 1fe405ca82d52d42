//go:build unix

package localstack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables read by EnsureBigQueryEmulator.
const (
	// EnvBigQueryEmulator names a prebuilt bigquery-emulator binary to use
	// instead of building one.
	EnvBigQueryEmulator = "RAILYARD_BQ_EMULATOR"
	// EnvCacheDir overrides the cache directory (default
	// os.UserCacheDir()/railyard).
	EnvCacheDir = "RAILYARD_CACHE_DIR"
)

const (
	bqEmulatorModule = "github.com/goccy/bigquery-emulator"
	bqEmulatorPkg    = bqEmulatorModule + "/cmd/bigquery-emulator"
	// bqEmulatorDefaultVersion is used in the binary name when the version
	// cannot be read from tools/bigquery-emulator/go.mod.
	bqEmulatorDefaultVersion = "v0.6.6"
	railyardModule           = "github.com/railyard-dev/railyard"
	toolsModuleRel           = "tools/bigquery-emulator"
)

// EnsureBigQueryEmulator returns the path of a bigquery-emulator binary,
// building it once if needed.
//
// If RAILYARD_BQ_EMULATOR is set, that binary is used as is. Otherwise the
// binary is built from the tools/bigquery-emulator module with
// CGO_ENABLED=1 CC=clang CXX=clang++ into the cache directory
// ($RAILYARD_CACHE_DIR, default os.UserCacheDir()/railyard) under a name
// holding the emulator version and a hash of the module's go.mod and
// go.sum, so a version bump rebuilds. A file lock makes concurrent callers
// (test packages run in parallel) wait for one build instead of each
// building. The first build takes about 11 minutes on 2 cores (BuildTakes);
// progress goes to log.
func EnsureBigQueryEmulator(ctx context.Context, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	bin, ready, err := BigQueryEmulatorBinary()
	if err != nil || ready {
		return bin, err
	}
	modDir, err := toolsModuleDir()
	if err != nil {
		return "", err
	}
	version, _, err := toolsModuleVersion(modDir)
	if err != nil {
		return "", err
	}
	cacheDir := filepath.Dir(bin)

	if _, err := exec.LookPath("clang"); err != nil {
		return "", errors.New("the BigQuery emulator needs clang: apt-get install clang (or set " + EnvBigQueryEmulator + " to a prebuilt bigquery-emulator binary)")
	}
	if _, err := exec.LookPath("clang++"); err != nil {
		return "", errors.New("the BigQuery emulator needs clang++: apt-get install clang (or set " + EnvBigQueryEmulator + " to a prebuilt bigquery-emulator binary)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("building the BigQuery emulator needs the go command on PATH (or set " + EnvBigQueryEmulator + " to a prebuilt bigquery-emulator binary)")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}

	unlock, err := lockFile(ctx, filepath.Join(cacheDir, "bigquery-emulator.lock"), log)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Someone else may have built it while we waited for the lock.
	if checkExecutable(bin) == nil {
		return bin, nil
	}

	fmt.Fprintf(log, "localstack: building the BigQuery emulator once (%s), cached at %s\n", BuildTakes, bin)
	tmp := fmt.Sprintf("%s.tmp-%d", bin, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.Command(goBin, "build",
		"-o", tmp,
		"-ldflags", fmt.Sprintf("-X main.version=%s -X main.revision=railyard", version),
		bqEmulatorPkg)
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "CC=clang", "CXX=clang++", "GOWORK=off")
	var out tailBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	setProcessGroup(cmd)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("building the BigQuery emulator: %w", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case err := <-waitErr:
			if err != nil {
				return "", fmt.Errorf("building the BigQuery emulator (in %s: CGO_ENABLED=1 CC=clang CXX=clang++ go build %s): %w\n%s",
					modDir, bqEmulatorPkg, err, out.String())
			}
			if err := os.Rename(tmp, bin); err != nil {
				return "", err
			}
			fmt.Fprintf(log, "localstack: built the BigQuery emulator in %s\n", time.Since(start).Round(time.Second))
			return bin, nil
		case <-tick.C:
			fmt.Fprintf(log, "localstack: still building the BigQuery emulator (%s elapsed)\n", time.Since(start).Round(time.Second))
		case <-ctx.Done():
			_ = killProcessGroup(cmd.Process.Pid, syscall.SIGKILL)
			<-waitErr
			return "", fmt.Errorf("building the BigQuery emulator: %w", ctx.Err())
		}
	}
}

// BuildTakes is how long the one-off build of the BigQuery emulator
// usually takes (measured: 11 min 19 s on a quiet 2-core machine, 38 min
// while other builds ran).
const BuildTakes = "about 11 minutes on 2 cores, longer on a busy machine"

// BigQueryEmulatorBinary returns the path of the emulator binary that
// EnsureBigQueryEmulator uses, and whether it is there already (false: the
// first start builds it, which needs clang). With RAILYARD_BQ_EMULATOR set
// that binary must exist.
func BigQueryEmulatorBinary() (bin string, ready bool, err error) {
	if p := os.Getenv(EnvBigQueryEmulator); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", false, fmt.Errorf("%s=%s: %w", EnvBigQueryEmulator, p, err)
		}
		return p, true, nil
	}
	modDir, err := toolsModuleDir()
	if err != nil {
		return "", false, err
	}
	version, hash, err := toolsModuleVersion(modDir)
	if err != nil {
		return "", false, err
	}
	cacheDir, err := cacheDir()
	if err != nil {
		return "", false, err
	}
	bin = filepath.Join(cacheDir, fmt.Sprintf("bigquery-emulator-%s-%s", version, hash))
	return bin, checkExecutable(bin) == nil, nil
}

// DownloadBigQueryEmulatorModules downloads the Go modules the emulator's
// build needs (go mod download in tools/bigquery-emulator), calling
// progress with the modules done so far and the total, so that the
// download shows progress of its own before the long, silent compile.
func DownloadBigQueryEmulatorModules(ctx context.Context, progress func(done, total int)) error {
	modDir, err := toolsModuleDir()
	if err != nil {
		return err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("downloading the BigQuery emulator's modules needs the go command on PATH")
	}
	list := exec.CommandContext(ctx, goBin, "list", "-m", "all")
	list.Dir = modDir
	list.Env = append(os.Environ(), "GOWORK=off")
	out, err := list.Output()
	if err != nil {
		return fmt.Errorf("go list -m all in %s: %w", modDir, err)
	}
	total := len(strings.Split(strings.TrimSpace(string(out)), "\n")) - 1 // the module itself
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json")
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	// go mod download -json prints one JSON object per module, as each is
	// done; its closing brace starts a line.
	done := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "}") {
			done++
			if progress != nil {
				progress(done, max(total, done))
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("go mod download in %s: %w\n%s", modDir, err, stderr.String())
	}
	return nil
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

func cacheDir() (string, error) {
	if d := os.Getenv(EnvCacheDir); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set %s): %w", EnvCacheDir, err)
	}
	return filepath.Join(d, "railyard"), nil
}

// toolsModuleDir finds tools/bigquery-emulator: next to this source file
// (the usual case: tests and `go run` inside the repository), else by
// walking up from the working directory to railyard's go.mod.
func toolsModuleDir() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(toolsModuleRel))
		if isToolsModule(d) {
			return filepath.Clean(d), nil
		}
		tried = append(tried, filepath.Clean(d))
	}
	if wd, err := os.Getwd(); err == nil {
		if d, ok := findToolsModuleFrom(wd); ok {
			return d, nil
		}
		tried = append(tried, "railyard's go.mod above "+wd)
	}
	return "", fmt.Errorf("cannot find the %s module (looked at: %s); run from the railyard repository or set %s to a prebuilt bigquery-emulator binary",
		toolsModuleRel, strings.Join(tried, ", "), EnvBigQueryEmulator)
}

// findToolsModuleFrom walks up from dir to railyard's go.mod and returns
// its tools/bigquery-emulator.
func findToolsModuleFrom(dir string) (string, bool) {
	for d := dir; ; {
		if isRailyardRoot(d) {
			t := filepath.Join(d, filepath.FromSlash(toolsModuleRel))
			return t, isToolsModule(t)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

func isToolsModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && bytes.Contains(b, []byte(bqEmulatorModule))
}

func isRailyardRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == railyardModule {
			return true
		}
	}
	return false
}

// toolsModuleVersion reads the emulator version from the tools module's
// go.mod and hashes go.mod and go.sum.
func toolsModuleVersion(dir string) (version, hash string, err error) {
	h := sha256.New()
	version = bqEmulatorDefaultVersion
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", "", err
		}
		h.Write([]byte(name + "\x00"))
		h.Write(b)
		if name != "go.mod" {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
			if len(f) >= 2 && f[0] == bqEmulatorModule && strings.HasPrefix(f[1], "v") {
				version = f[1]
			}
		}
	}
	return version, hex.EncodeToString(h.Sum(nil))[:12], nil
}

// lockFile takes an exclusive flock on path, polling so ctx can cancel
// the wait.
func lockFile(ctx context.Context, path string, log io.Writer) (unlock func(), err error) {
	if log == nil {
		log = io.Discard
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !said {
			fmt.Fprintf(log, "localstack: waiting for another process building the BigQuery emulator (lock %s)\n", path)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	b []byte
}

const tailBufferMax = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailBufferMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailBufferMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// bqProcess is a running bigquery-emulator.
type bqProcess struct {
	cmd      *exec.Cmd
	endpoint string // http://127.0.0.1:<port>
	grpcAddr string // 127.0.0.1:<port>
	tmpDir   string
	exited   chan struct{} // closed when cmd.Wait returned
	waitErr  error
}

func (p *bqProcess) pid() int { return p.cmd.Process.Pid }

// startBigQuery starts the emulator on free ports and waits until it
// answers HTTP. A port taken between choosing and binding makes the
// emulator exit; that is retried with new ports.
func startBigQuery(ctx context.Context, bin, project, logLevel string, log io.Writer) (*bqProcess, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startBigQueryOnce(ctx, bin, project, logLevel, log)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if ctx.Err() != nil || !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, lastErr
}

var errExitedEarly = errors.New("bigquery-emulator exited during start-up")

func startBigQueryOnce(ctx context.Context, bin, project, logLevel string, log io.Writer) (*bqProcess, error) {
	if logLevel == "" {
		logLevel = "error"
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	sweepStaleTempDirs()
	tmpDir, err := os.MkdirTemp("", tmpDirPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmpDir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(tmpDir)
		return nil, err
	}
	cmd := exec.Command(bin,
		"--project="+project,
		"--host=127.0.0.1",
		"--port="+strconv.Itoa(ports[0]),
		"--grpc-port="+strconv.Itoa(ports[1]),
		"--log-level="+logLevel,
	)
	// The emulator keeps its in-memory database in a temporary file; give
	// it a directory of its own, removed on stop even after a SIGKILL.
	cmd.Env = append(emulatorEnv(), "TMPDIR="+tmpDir)
	cmd.Dir = tmpDir
	cmd.Stdout = log
	cmd.Stderr = log
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(tmpDir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &bqProcess{
		cmd:      cmd,
		endpoint: "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		grpcAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
		tmpDir:   tmpDir,
		exited:   make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	fmt.Fprintf(log, "localstack: BigQuery emulator (pid %d) starting on %s, gRPC %s\n", cmd.Process.Pid, p.endpoint, p.grpcAddr)
	if err := p.waitReady(ctx, project, 60*time.Second); err != nil {
		_ = p.stop()
		return nil, err
	}
	return p, nil
}

// emulatorEnv is this process's environment without the emulator's own
// BIGQUERY_EMULATOR_* settings (which would add a dataset or change the
// project behind railyard's back).
func emulatorEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BIGQUERY_EMULATOR_") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

const (
	tmpDirPrefix = "railyard-bq-emulator-"
	ownerFile    = "owner.pid"
)

// sweepStaleTempDirs removes emulator temporary directories whose owning
// process is gone (left behind when a test binary was killed: the emulator
// then dies with it, but nobody removes its database file).
func sweepStaleTempDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tmpDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours, or still being set up
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

func (p *bqProcess) waitReady(ctx context.Context, project string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	url := p.endpoint + "/bigquery/v2/projects/" + project + "/datasets"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %v", errExitedEarly, p.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bigquery-emulator not ready after %s: %v", timeout, err)
		}
	}
}

// stop sends SIGTERM to the emulator's process group, then SIGKILL if it
// has not exited after 5 s, waits for it, and removes its temporary
// directory.
func (p *bqProcess) stop() error {
	pid := p.cmd.Process.Pid
	select {
	case <-p.exited:
	default:
		_ = killProcessGroup(pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = killProcessGroup(pid, syscall.SIGKILL)
			<-p.exited
		}
	}
	// Anything else left in the group (there should be nothing).
	_ = killProcessGroup(pid, syscall.SIGKILL)
	return os.RemoveAll(p.tmpDir)
}

func killProcessGroup(pgid int, sig syscall.Signal) error {
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when checked; a process started afterwards may still lose a race for
// them.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
