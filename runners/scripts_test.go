package runners

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core"
)

// The job-server scripts cannot start a real job server here (no Docker
// engine, no Maven Central); these tests check their syntax, help, argument
// handling and the exact commands they would run, and exercise the Java
// path end to end against a fake Maven repository and a fake java.

type jobServerScript struct {
	path     string
	runner   string
	image    string // default Docker image
	artifact string // Maven artifact of the default job server
	master   string // default master argument
}

var jobServerScripts = []jobServerScript{
	{path: "../scripts/flink-job-server.sh", runner: "flink",
		image:    "apache/beam_flink2.2_job_server:" + core.SdkVersion,
		artifact: "beam-runners-flink-2.2-job-server", master: `--flink-master=\[local\]`},
	{path: "../scripts/spark-job-server.sh", runner: "spark",
		image:    "apache/beam_spark3_job_server:" + core.SdkVersion,
		artifact: "beam-runners-spark-3-job-server", master: `--spark-master-url=local\[4\]`},
}

// runScript runs a script with a clean environment; it returns the combined
// output and the exit code.
func runScript(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("running %v: %v", args, err)
		return "", -1
	}
}

func TestJobServerScripts(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	for _, sc := range jobServerScripts {
		t.Run(sc.runner, func(t *testing.T) {
			if out, code := runScript(t, nil, "-n", sc.path); code != 0 {
				t.Fatalf("bash -n: %s", out)
			}
			if shellcheck, err := exec.LookPath("shellcheck"); err == nil {
				if out, err := exec.Command(shellcheck, "--external-sources", sc.path).CombinedOutput(); err != nil {
					t.Errorf("shellcheck: %v\n%s", err, out)
				}
			} else {
				t.Log("shellcheck not installed; skipped")
			}
			data, err := os.ReadFile(sc.path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "\nset -euo pipefail\n") {
				t.Error("script lacks set -euo pipefail")
			}
			if !strings.Contains(string(data), `DEFAULT_BEAM_VERSION="`+core.SdkVersion+`"`) {
				t.Errorf("script's DEFAULT_BEAM_VERSION is not the Go SDK's version %s", core.SdkVersion)
			}

			useLine := "--runner=" + sc.runner + " --endpoint=localhost:8099 --environment_type=LOOPBACK"
			out, code := runScript(t, nil, sc.path, "--help")
			if code != 0 || !strings.HasPrefix(out, "Usage: ") || !strings.Contains(out, useLine) ||
				!strings.Contains(out, "--profile="+sc.runner) {
				t.Errorf("--help exited %d:\n%s", code, out)
			}

			out, code = runScript(t, nil, sc.path, "--dry-run", "--mode=docker")
			wantDocker := "would run: docker run --rm --name railyard-" + sc.runner + "-job-server --network=host " +
				sc.image + " " + sc.master + " --job-port=8099 --artifact-port=8098 --expansion-port=8097\n"
			if code != 0 || !strings.Contains(out, useLine) || !strings.HasSuffix(out, wantDocker) {
				t.Errorf("docker dry run exited %d:\n%s\nwant it to end with:\n%s", code, out, wantDocker)
			}

			out, code = runScript(t, nil, sc.path, "--dry-run", "--mode", "docker", "--job-port=9099",
				"--artifact-port", "9098", "--expansion-port=9097", "--", "--extra-flag", "x y")
			if code != 0 || !strings.Contains(out, "--endpoint=localhost:9099 ") ||
				!strings.HasSuffix(out, ` --job-port=9099 --artifact-port=9098 --expansion-port=9097 --extra-flag x\ y`+"\n") {
				t.Errorf("dry run with ports exited %d:\n%s", code, out)
			}

			cache := t.TempDir()
			out, code = runScript(t, nil, sc.path, "--dry-run", "--mode=java", "--java=/opt/jdk/bin/java", "--cache-dir", cache)
			jar := filepath.Join(cache, sc.artifact+"-"+core.SdkVersion+".jar")
			wantURL := "https://repo.maven.apache.org/maven2/org/apache/beam/" + sc.artifact + "/" + core.SdkVersion + "/" +
				sc.artifact + "-" + core.SdkVersion + ".jar"
			if code != 0 || !strings.Contains(out, "would download "+wantURL+"\n") ||
				!strings.HasSuffix(out, "would run: /opt/jdk/bin/java -jar "+jar+" "+sc.master+" --job-port=8099 --artifact-port=8098 --expansion-port=8097\n") {
				t.Errorf("java dry run exited %d:\n%s", code, out)
			}

			for _, bad := range [][]string{
				{"--bogus"}, {"--job-port=0"}, {"--job-port", "8098"}, {"--mode=kubernetes"},
				{"--jar", filepath.Join(cache, "missing.jar")}, {"--beam-version=latest"}, {"--job-port"},
			} {
				out, code := runScript(t, nil, append([]string{sc.path, "--dry-run"}, bad...)...)
				if code != 2 || !strings.Contains(out, filepath.Base(sc.path)+": ") {
					t.Errorf("%v: exit %d, want 2 with a message:\n%s", bad, code, out)
				}
			}
		})
	}
	out, code := runScript(t, nil, jobServerScripts[0].path, "--flink-version=1.17", "--dry-run")
	if code != 2 || !strings.Contains(out, "Flink 1.17 has no Beam job server; choose one of: 1.19 1.20 2.0 2.1 2.2") {
		t.Errorf("--flink-version=1.17: exit %d:\n%s", code, out)
	}
	out, code = runScript(t, nil, jobServerScripts[0].path, "--flink-version=1.19", "--flink-master=flink-jm:8081", "--mode=docker", "--dry-run")
	if code != 0 || !strings.Contains(out, " apache/beam_flink1.19_job_server:"+core.SdkVersion+" --flink-master=flink-jm:8081 ") ||
		!strings.Contains(out, "use --environment_type=DOCKER or PROCESS") {
		t.Errorf("--flink-version=1.19 --flink-master=flink-jm:8081: exit %d:\n%s", code, out)
	}
}

// TestJobServerScriptJavaDownload runs the Java path for real against a fake
// Maven repository on loopback and a fake java that prints its arguments.
func TestJobServerScriptJavaDownload(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if _, err := exec.LookPath("wget"); err != nil {
			t.Skip("neither curl nor wget")
		}
	}
	sc := jobServerScripts[1] // spark
	jarBody := []byte("not really a jar")
	sum := sha1.Sum(jarBody)
	jarPath := "/maven2/org/apache/beam/" + sc.artifact + "/" + core.SdkVersion + "/" + sc.artifact + "-" + core.SdkVersion + ".jar"
	var jarGets atomic.Int32
	badSum := atomic.Bool{}
	repo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case jarPath:
			jarGets.Add(1)
			_, _ = w.Write(jarBody)
		case jarPath + ".sha1":
			if badSum.Load() {
				_, _ = w.Write([]byte(strings.Repeat("0", 40)))
				return
			}
			_, _ = w.Write([]byte(hex.EncodeToString(sum[:]) + "\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer repo.Close()

	bin := t.TempDir()
	fakeJava := filepath.Join(bin, "java")
	if err := os.WriteFile(fakeJava, []byte(`#!/bin/sh
if [ "$1" = "-version" ]; then echo 'openjdk version "17.0.15" 2025-04-15' >&2; exit 0; fi
echo "FAKE-JAVA $*"
`), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	args := []string{sc.path, "--mode=java", "--java", fakeJava, "--cache-dir", cache, "--maven-repo", repo.URL + "/maven2/"}
	jar := filepath.Join(cache, sc.artifact+"-"+core.SdkVersion+".jar")
	wantExec := "FAKE-JAVA -jar " + jar + " --spark-master-url=local[4] --job-port=8099 --artifact-port=8098 --expansion-port=8097\n"

	for i, wantGets := range []int32{1, 1} { // the second run uses the cache
		out, code := runScript(t, nil, args...)
		if code != 0 || !strings.HasSuffix(out, wantExec) {
			t.Fatalf("run %d exited %d:\n%s\nwant it to end with %q", i, code, out, wantExec)
		}
		if n := jarGets.Load(); n != wantGets {
			t.Errorf("run %d: %d jar downloads, want %d", i, n, wantGets)
		}
		if got, err := os.ReadFile(jar); err != nil || string(got) != string(jarBody) {
			t.Errorf("cached jar %q, %v", got, err)
		}
	}

	// A checksum mismatch leaves nothing in the cache.
	badSum.Store(true)
	cache2 := t.TempDir()
	out, code := runScript(t, nil, append(args[:len(args)-4:len(args)-4], "--cache-dir", cache2, "--maven-repo", repo.URL+"/maven2")...)
	if code != 2 || !regexp.MustCompile(`checksum mismatch for .*got [0-9a-f]{40}, want 0{40}`).MatchString(out) {
		t.Errorf("bad checksum: exit %d:\n%s", code, out)
	}
	if entries, _ := os.ReadDir(cache2); len(entries) != 0 {
		t.Errorf("cache after a failed download: %v", entries)
	}

	// An old Java is refused before anything runs.
	oldJava := filepath.Join(bin, "java8")
	if err := os.WriteFile(oldJava, []byte("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code = runScript(t, nil, sc.path, "--java", oldJava, "--jar", jar)
	if code != 2 || !strings.Contains(out, "Java 8 found") {
		t.Errorf("java 8: exit %d:\n%s", code, out)
	}
}
