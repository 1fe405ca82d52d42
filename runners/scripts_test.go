package runners

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core"
)

// These tests check the job-server scripts' syntax, help, argument handling
// and the exact commands they would run, and exercise the Maven path with a
// fake mvn and a fake java. runners/jobserver's tests start the real job
// servers through the same scripts.

type jobServerScript struct {
	path       string
	runner     string
	image      string // default Docker image
	pom        string // railyard's Maven project for the job server
	mainClass  string
	master     string // default master argument
	dockerConf string // what a Docker run adds for the configuration, if anything
}

var jobServerScripts = []jobServerScript{
	{path: "../scripts/flink-job-server.sh", runner: "flink",
		image: "apache/beam_flink1.19_job_server:" + core.SdkVersion, pom: "runners/jobserver/flink/pom.xml",
		mainClass: "org.apache.beam.runners.flink.FlinkJobServerDriver", master: `--flink-master=\[local\]`,
		dockerConf: " --flink-conf-dir=/opt/railyard/flink-conf"},
	{path: "../scripts/spark-job-server.sh", runner: "spark",
		image: "apache/beam_spark3_job_server:" + core.SdkVersion, pom: "runners/jobserver/spark/pom.xml",
		mainClass: "org.apache.beam.runners.spark.SparkJobServerDriver", master: `--spark-master-url=local\[2\]`},
}

// mavenBeamVersion is the Beam release the scripts resolve with Maven by
// default (see runners/jobserver/flink/pom.xml).
const mavenBeamVersion = "2.62.0"

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
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
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
				t.Error("shellcheck is not installed (scripts/test.sh installs it)")
			}
			data, err := os.ReadFile(sc.path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "\nset -euo pipefail\n") {
				t.Error("script lacks set -euo pipefail")
			}
			if !strings.Contains(string(data), `SDK_BEAM_VERSION="`+core.SdkVersion+`"`) {
				t.Errorf("script's SDK_BEAM_VERSION is not the Go SDK's version %s", core.SdkVersion)
			}
			pom, err := os.ReadFile(filepath.Join(repo, sc.pom))
			if err != nil || !strings.Contains(string(pom), "<beam.version>"+mavenBeamVersion+"</beam.version>") ||
				!strings.Contains(string(data), `MAVEN_BEAM_VERSION="`+mavenBeamVersion+`"`) {
				t.Errorf("the script and %s disagree on the Maven Beam version %s (%v)", sc.pom, mavenBeamVersion, err)
			}

			useLine := "--runner=" + sc.runner + " --endpoint=localhost:8099 --environment_type=LOOPBACK"
			out, code := runScript(t, nil, sc.path, "--help")
			if code != 0 || !strings.HasPrefix(out, "Usage: ") || !strings.Contains(out, useLine) ||
				!strings.Contains(out, "--profile="+sc.runner) || !strings.Contains(out, "--fetch-only") {
				t.Errorf("--help exited %d:\n%s", code, out)
			}

			out, code = runScript(t, nil, sc.path, "--dry-run", "--mode=docker")
			wantDocker := "would run: docker run --rm --name railyard-" + sc.runner + "-job-server --network=host "
			if sc.dockerConf != "" {
				wantDocker += "-v " + filepath.Join(repo, "runners/jobserver/flink/conf") + ":/opt/railyard/flink-conf:ro "
			}
			wantDocker += sc.image + " " + sc.master + sc.dockerConf + " --job-host=localhost --job-port=8099 --artifact-port=8098 --expansion-port=8097\n"
			if code != 0 || !strings.Contains(out, useLine) || !strings.HasSuffix(out, wantDocker) {
				t.Errorf("docker dry run exited %d:\n%s\nwant it to end with:\n%s", code, out, wantDocker)
			}

			out, code = runScript(t, nil, sc.path, "--dry-run", "--mode", "docker", "--job-port=9099",
				"--artifact-port", "0", "--expansion-port=0", "--", "--extra-flag", "x y")
			if code != 0 || !strings.Contains(out, "--endpoint=localhost:9099 ") ||
				!strings.HasSuffix(out, ` --job-port=9099 --artifact-port=0 --expansion-port=0 --extra-flag x\ y`+"\n") {
				t.Errorf("dry run with ports exited %d:\n%s", code, out)
			}

			cache := t.TempDir()
			out, code = runScript(t, nil, sc.path, "--dry-run", "--mode=java", "--java=/opt/jdk/bin/java", "--cache-dir", cache)
			if code != 0 || !strings.Contains(out, "would resolve with: mvn -B -Dstyle.color=never -f "+filepath.Join(repo, sc.pom)+
				" dependency:build-classpath -Dbeam.version="+mavenBeamVersion) ||
				!strings.Contains(out, "Beam "+mavenBeamVersion+" ") ||
				!regexp.MustCompile(`would run: /opt/jdk/bin/java .*-cp .*`+regexp.QuoteMeta(cache)+`.* `+regexp.QuoteMeta(sc.mainClass)+" "+regexp.QuoteMeta(sc.master)+`.* --job-port=8099 --artifact-port=8098 --expansion-port=8097\n$`).MatchString(out) {
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
	out, code = runScript(t, nil, jobServerScripts[0].path, "--flink-version=2.2", "--mode=java", "--dry-run")
	if code != 2 || !strings.Contains(out, "Flink 2.2 runner is not served by Maven here; use --flink-version 1.19") {
		t.Errorf("--flink-version=2.2 with Maven: exit %d:\n%s", code, out)
	}
	out, code = runScript(t, nil, jobServerScripts[0].path, "--flink-version=2.2", "--flink-master=flink-jm:8081", "--mode=docker", "--dry-run")
	if code != 0 || !strings.Contains(out, " apache/beam_flink2.2_job_server:"+core.SdkVersion+" --flink-master=flink-jm:8081 ") ||
		!strings.Contains(out, "use --environment_type=DOCKER or PROCESS") {
		t.Errorf("--flink-version=2.2 --flink-master=flink-jm:8081: exit %d:\n%s", code, out)
	}
}

// TestJobServerScriptMaven runs the Maven path with a fake mvn (which
// writes a classpath file and logs its arguments) and a fake java (which
// prints its arguments): the first start resolves once and caches the
// classpath, the second reuses it, a Maven failure caches nothing, and an
// old Java or a missing Maven is refused with what to install.
func TestJobServerScriptMaven(t *testing.T) {
	sc := jobServerScripts[1] // spark
	bin := t.TempDir()
	mvnLog := filepath.Join(bin, "mvn.log")
	write := func(name, body string) string {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("mvn", `#!/bin/sh
echo "$*" >> "`+mvnLog+`"
[ -n "$FAKE_MVN_FAIL" ] && { echo "[ERROR] Could not resolve dependencies" >&2; exit 1; }
for a in "$@"; do case $a in -Dmdep.outputFile=*) printf '/m2/a.jar:/m2/b.jar' > "${a#-Dmdep.outputFile=}";; esac; done
`)
	fakeJava := write("java", `#!/bin/sh
if [ "$1" = "-version" ]; then echo 'openjdk version "17.0.15" 2025-04-15' >&2; exit 0; fi
echo "FAKE-JAVA $*"
`)
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	cache := t.TempDir()
	args := []string{sc.path, "--mode=java", "--java", fakeJava, "--cache-dir", cache}
	mvnCalls := func() int {
		b, _ := os.ReadFile(mvnLog)
		return strings.Count(string(b), "dependency:build-classpath")
	}
	for i, wantCalls := range []int{1, 1} { // the second start uses the cache
		out, code := runScript(t, env, args...)
		if code != 0 || !regexp.MustCompile(`FAKE-JAVA .*-cp /m2/a\.jar:/m2/b\.jar `+regexp.QuoteMeta(sc.mainClass)+` --spark-master-url=local\[2\] --job-host=localhost --job-port=8099 --artifact-port=8098 --expansion-port=8097\n$`).MatchString(out) {
			t.Fatalf("start %d exited %d:\n%s", i, code, out)
		}
		if n := mvnCalls(); n != wantCalls {
			t.Errorf("start %d: Maven ran %d times, want %d", i, n, wantCalls)
		}
	}
	out, code := runScript(t, env, sc.path, "--fetch-only", "--cache-dir", cache)
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), cache) || mvnCalls() != 1 {
		t.Errorf("--fetch-only with a warm cache: exit %d, %d Maven runs:\n%s", code, mvnCalls(), out)
	}

	// A Maven failure leaves nothing in the cache.
	cache2 := t.TempDir()
	out, code = runScript(t, append(env, "FAKE_MVN_FAIL=1"), sc.path, "--fetch-only", "--cache-dir", cache2)
	if code != 2 || !strings.Contains(out, "Maven could not resolve") {
		t.Errorf("Maven failure: exit %d:\n%s", code, out)
	}
	if entries, _ := filepath.Glob(filepath.Join(cache2, "*.classpath*")); len(entries) != 0 {
		t.Errorf("cache after a failed resolution: %v", entries)
	}

	// No Maven at all: say what to install.
	noMvn := t.TempDir()
	for _, tool := range []string{"bash", "sha256sum", "cut", "cat", "basename", "dirname", "mkdir", "mv", "rm", "flock"} {
		if p, err := exec.LookPath(tool); err == nil {
			_ = os.Symlink(p, filepath.Join(noMvn, tool))
		}
	}
	cmd := exec.Command(filepath.Join(noMvn, "bash"), sc.path, "--fetch-only", "--cache-dir", t.TempDir())
	cmd.Env = []string{"PATH=" + noMvn, "HOME=" + t.TempDir()}
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "Maven (mvn) not found") || !strings.Contains(string(b), "apt-get install maven") {
		t.Errorf("without mvn: %v\n%s", err, b)
	}

	// An old Java is refused before anything runs.
	oldJava := write("java8", "#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
	out, code = runScript(t, env, sc.path, "--java", oldJava, "--mode=java", "--cache-dir", cache)
	if code != 2 || !strings.Contains(out, "Java 8 found") {
		t.Errorf("java 8: exit %d:\n%s", code, out)
	}
}
