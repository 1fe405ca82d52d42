package install

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/schedule"
)

func example(t *testing.T) *schedule.File {
	t.Helper()
	f, err := schedule.Load("../../../schedules/railyard.yaml", schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func settings(t *testing.T) Settings {
	t.Helper()
	abs, err := filepath.Abs("../../../schedules/railyard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := filepath.Abs("../../..")
	bin, err := os.Executable() // exists and is executable: systemd-analyze verify checks ExecStart
	if err != nil {
		t.Fatal(err)
	}
	return Settings{File: abs, Binary: bin, Source: src, Lock: "gs://railyard-locks/schedule",
		BQ: cliflags.BigQuery{Project: "railyard-prod", DatasetPrefix: "prod_"}, Env: []string{"GOOGLE_APPLICATION_CREDENTIALS=/etc/railyard/key.json"}}
}

// needTool skips nothing: the test command installs the tool (scripts/test.sh).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install %s (scripts/test.sh does)", name, pkg)
	}
	return p
}

func TestCrontab(t *testing.T) {
	f := example(t)
	s := settings(t)
	text, err := Crontab(f, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text)
	var jobs []string
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "# BEGIN railyard-schedule") || lines[len(lines)-1] != "# END railyard-schedule" {
		t.Fatalf("no BEGIN/END markers for the install script:\n%s", text)
	}
	tz := ""
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "CRON_TZ="):
			tz = strings.TrimPrefix(l, "CRON_TZ=")
			if _, err := time.LoadLocation(tz); err != nil {
				t.Errorf("bad CRON_TZ %q", tz)
			}
		default:
			fields := strings.Fields(l)
			cronExpr := strings.Join(fields[:5], " ")
			cmd, comment, _ := strings.Cut(strings.Join(fields[5:], " "), " # ")
			j := f.Job(comment)
			if j == nil || j.Cron != cronExpr || j.Timezone != tz {
				t.Errorf("line %q: cron %q tz %q does not belong to a job of the file", l, cronExpr, tz)
				continue
			}
			jobs = append(jobs, comment)
			// The command is valid shell and runs the scheduler once with
			// the file, lock and BigQuery settings.
			if out, err := exec.Command("bash", "-n", "-c", cmd).CombinedOutput(); err != nil {
				t.Errorf("not valid shell: %s: %v %s", cmd, err, out)
			}
			for _, want := range []string{"cd " + s.Source + " && GOOGLE_APPLICATION_CREDENTIALS=/etc/railyard/key.json " + s.Binary + " schedule run --once",
				"--file=" + s.File, "--lock=gs://railyard-locks/schedule", "--source=" + s.Source, "--bq_project=railyard-prod",
				"--dataset_prefix=prod_", ">> /var/log/railyard-schedule.log 2>&1"} {
				if !strings.Contains(cmd, want) {
					t.Errorf("command lacks %q: %s", want, cmd)
				}
			}
		}
	}
	if strings.Join(jobs, ",") != "batch-daily,top-teams-daily" {
		t.Fatalf("lines for %v", jobs)
	}
	s.Lock = ""
	if _, err := Crontab(f, s); err == nil || !strings.Contains(err.Error(), "--lock is required") {
		t.Fatalf("no lock: %v", err)
	}
}

// TestOnCalendarMatchesCron: systemd's own calendar parser, asked for the
// next firings, agrees with the cron library the scheduler uses.
func TestOnCalendarMatchesCron(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "systemd")
	now := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct{ cron, tz string }{
		{"15 2 * * *", "UTC"},
		{"*/20 9-17 * * 1-5", "UTC"},
		{"0 0 1,15 * *", "UTC"},
		{"30 4 * * sun", "UTC"},
		{"0 12 1 * 1", "UTC"}, // day of month OR Monday
		{"5 */6 * 2-4 *", "UTC"},
		{"@weekly", "UTC"},
		{"@hourly", "UTC"},
		{"45 23 * * *", "Europe/Berlin"},
		{"0 3 28-31 * *", "America/New_York"},
	} {
		t.Run(c.cron+" "+c.tz, func(t *testing.T) {
			f, err := schedule.Parse("s.yaml", []byte("jobs:\n  - name: j\n    kind: beam\n    pipeline: batch\n    cron: '"+c.cron+"'\n    timezone: "+c.tz+"\n"), schedule.Options{})
			if err != nil {
				t.Fatal(err)
			}
			j := f.Jobs[0]
			events := OnCalendar(j.Fields(), c.tz)
			// The union of the events' next firings, as systemd computes them.
			const n = 12
			got := map[time.Time]bool{}
			for _, ev := range events {
				cmd := exec.Command(analyze, "calendar", "--iterations="+strconv.Itoa(n), "--base-time="+now.Format("2006-01-02 15:04:05")+" UTC", ev)
				cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("systemd-analyze calendar %q: %v\n%s", ev, err, out)
				}
				for _, m := range regexp.MustCompile(`(?m)^\s*(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$`).FindAllStringSubmatch(string(out), -1) {
					tm, err := time.Parse("2006-01-02 15:04:05", m[1])
					if err != nil {
						t.Fatal(err)
					}
					got[tm.UTC()] = true
				}
			}
			var want []time.Time
			for tm := j.Next(now); len(want) < n; tm = j.Next(tm) {
				want = append(want, tm)
			}
			for _, w := range want {
				if !got[w] {
					t.Errorf("cron fires at %v; systemd's %q does not (it gives %d firings)", w, events, len(got))
				}
			}
			// And systemd fires at nothing the cron does not, before the
			// last compared firing.
			for g := range got {
				if !g.After(want[n-1]) && !j.Next(g.Add(-time.Second)).Equal(g) {
					t.Errorf("systemd's %q fires at %v, the cron does not", events, g)
				}
			}
		})
	}
}

func TestSystemdUnitsVerify(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "systemd")
	units, err := Systemd(example(t), settings(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for name, text := range units {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		t.Logf("%s:\n%s", name, text)
	}
	if len(units) != 2 || units["railyard-schedule.service"] == "" || units["railyard-schedule.timer"] == "" {
		t.Fatalf("units %v", keys(units))
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	svc, tmr := units["railyard-schedule.service"], units["railyard-schedule.timer"]
	for _, want := range []string{"Type=oneshot", "ExecStart=" + settings(t).Binary + " schedule run --once --file=", "--lock=gs://railyard-locks/schedule",
		"Environment=GOOGLE_APPLICATION_CREDENTIALS=/etc/railyard/key.json", "WorkingDirectory=" + settings(t).Source} {
		if !strings.Contains(svc, want) {
			t.Errorf("service lacks %q", want)
		}
	}
	for _, want := range []string{"OnCalendar=*-*-* 02:15:00 UTC", "OnCalendar=*-*-* 02:30:00 UTC", "Unit=railyard-schedule.service", "WantedBy=timers.target"} {
		if !strings.Contains(tmr, want) {
			t.Errorf("timer lacks %q", want)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestKubernetesDecodesStrictly: every document decodes with the
// Kubernetes API types, unknown fields refused, and says what it should.
func TestKubernetesDecodesStrictly(t *testing.T) {
	f := example(t)
	s := settings(t)
	s.Binary, s.Source, s.Image, s.Namespace, s.Name = "/usr/local/bin/railyard", "/src/railyard", "registry.example/railyard:1.0", "data", "railyard-schedule"
	text, err := Kubernetes(f, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text)
	CheckKubernetes(t, text, f, s)
	if _, err := Kubernetes(f, Settings{File: s.File, Binary: s.Binary, Source: s.Source, Lock: s.Lock, BQ: s.BQ}); err == nil || !strings.Contains(err.Error(), "--image") {
		t.Fatalf("no image: %v", err)
	}
}

// CheckKubernetes decodes a generated stream strictly and checks it
// against the file and settings.
func CheckKubernetes(t *testing.T, text string, f *schedule.File, s Settings) {
	t.Helper()
	// Split the stream the way kubectl does.
	var docs []string
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(doc))
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want a ConfigMap and two CronJobs", len(docs))
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &cm); err != nil {
		t.Fatalf("ConfigMap: %v", err)
	}
	data, _ := os.ReadFile(f.Path)
	sql, _ := os.ReadFile(f.Job("top-teams-daily").SQLPath)
	if cm.Kind != "ConfigMap" || cm.Name != s.Name || cm.Namespace != s.Namespace || cm.Data["schedule.yaml"] != string(data) || cm.Data["sql_top_teams_daily.sql"] != string(sql) {
		t.Fatalf("ConfigMap does not hold the schedule file and its SQL exactly: %+v", cm.ObjectMeta)
	}
	for i, j := range f.Jobs {
		var cj batchv1.CronJob
		if err := yaml.UnmarshalStrict([]byte(docs[i+1]), &cj); err != nil {
			t.Fatalf("CronJob %d: %v", i, err)
		}
		spec := cj.Spec
		if cj.Kind != "CronJob" || cj.APIVersion != "batch/v1" || cj.Name != s.Name+"-"+j.Name || spec.Schedule != j.Cron ||
			spec.TimeZone == nil || *spec.TimeZone != j.Timezone || spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Fatalf("CronJob %d: %+v %+v", i, cj.ObjectMeta, spec)
		}
		pod := spec.JobTemplate.Spec.Template.Spec
		if *spec.JobTemplate.Spec.BackoffLimit != 0 || pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 {
			t.Fatalf("CronJob %d pod: %+v", i, pod)
		}
		c := pod.Containers[0]
		args := strings.Join(c.Args, " ")
		if c.Image != s.Image || c.Command[0] != s.Binary || c.WorkingDir != s.Source ||
			!strings.HasPrefix(args, "schedule run --once --file=/etc/railyard/schedule/schedule.yaml --lock="+s.Lock) ||
			len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/railyard/schedule" {
			t.Fatalf("CronJob %d container: %+v", i, c)
		}
		items := pod.Volumes[0].ConfigMap.Items
		if len(items) != 2 || items[1].Path != "sql/top_teams_daily.sql" {
			t.Fatalf("CronJob %d mounts %+v: the SQL must appear at the path the schedule file names", i, items)
		}
	}
}
