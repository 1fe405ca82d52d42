package schedule

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

func TestExampleFile(t *testing.T) {
	f, err := Load("../../schedules/railyard.yaml", Options{SourceDir: "../.."})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Names(), ","); got != "batch-daily,top-teams-daily" {
		t.Fatalf("jobs %s", got)
	}
	b := f.Job("batch-daily")
	want := Job{Name: "batch-daily", Kind: KindBeam, Pipeline: "batch", Profile: "local", Cron: "15 2 * * *", Timezone: "UTC",
		Partition: "yesterday", DaysBefore: 1, StartDate: civil.Date{Year: 2026, Month: 11, Day: 1}, Catchup: 7,
		Retries: Retries{Max: 3, Backoff: 30 * time.Second, MaxBackoff: 10 * time.Minute}, Timeout: 2 * time.Hour, MaxParallel: 2}
	if b.Kind != want.Kind || b.Pipeline != want.Pipeline || b.Profile != want.Profile || b.Cron != want.Cron ||
		b.DaysBefore != 1 || b.StartDate != want.StartDate || b.Catchup != 7 || b.Retries != want.Retries ||
		b.Timeout != want.Timeout || b.MaxParallel != 2 || len(b.Args) != 1 || b.Args[0] != "--lake=gs://railyard-lake/lake" || b.Line != 10 {
		t.Fatalf("batch-daily parsed as %+v", *b)
	}
	s := f.Job("top-teams-daily")
	if s.Kind != KindSQL || s.SQLPath != filepath.Join("../../schedules", "sql/top_teams_daily.sql") ||
		s.Destination != catalog.TableTopTeamsDaily || s.PartitionColumn != "day" || s.PartitionIsTimestamp ||
		len(s.DependsOn) != 1 || s.DependsOn[0] != "batch-daily" || s.Retries.Max != 2 || s.Timeout != 10*time.Minute || s.MaxParallel != 1 {
		t.Fatalf("top-teams-daily parsed as %+v", *s)
	}
	sql, err := s.RenderSQL("proj", catalog.Default().WithPrefix("dev_"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DELETE FROM `proj.dev_serving.top_teams_daily` WHERE day = @partition", "FROM `proj.dev_batch.team_scores_hourly`"} {
		if !strings.Contains(sql, want) {
			t.Errorf("rendered SQL lacks %q:\n%s", want, sql)
		}
	}
}

func TestDefaults(t *testing.T) {
	f, err := Parse("s.yaml", []byte("jobs:\n  - name: b\n    kind: beam\n    pipeline: batch\n    cron: '@daily'\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	j := f.Jobs[0]
	if j.Timezone != "UTC" || j.Location != time.UTC || j.Partition != "yesterday" || j.DaysBefore != 1 || j.StartDate.IsValid() ||
		j.Catchup != DefaultCatchup || j.Retries != (Retries{DefaultRetries, DefaultBackoff, DefaultMaxBackoff}) ||
		j.Timeout != DefaultTimeout || j.MaxParallel != DefaultMaxParallel || j.Attempts() != 3 {
		t.Fatalf("defaults: %+v", *j)
	}
}

// TestInvalidFilesNameLineAndReason: every refused file names the line and
// the reason.
func TestInvalidFilesNameLineAndReason(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.sql"), []byte("DELETE FROM `{{destination}}` WHERE day = @partition;"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "noparam.sql"), []byte("SELECT 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	const head = "jobs:\n  - name: a\n    kind: beam\n    pipeline: batch\n"
	for _, c := range []struct {
		name, yaml string
		want       []string // "line: fragment"
	}{
		{"syntax", "jobs:\n  - name: a\n   kind: [\n", []string{"3: YAML"}},
		{"unknown key", head + "    cron: '1 2 * * *'\n    catchups: 3\n", []string{"6: YAML", "catchups", "known keys"}},
		{"wrong type", head + "    cron: '1 2 * * *'\n    catchup: many\n", []string{"6: YAML"}},
		{"no jobs", "jobs: []\n", []string{"1: no jobs"}},
		{"cron fields", head + "    cron: '15 2 * *'\n", []string{`5: job "a": cron: "15 2 * *": expected exactly 5 fields`}},
		{"cron range", head + "    cron: '61 2 * * *'\n", []string{`5: job "a": cron: "61 2 * * *"`}},
		{"cron every", head + "    cron: '@every 1h'\n", []string{`5: job "a": cron: "@every 1h": @every is not a calendar schedule`}},
		{"cron never", head + "    cron: '0 0 30 2 *'\n", []string{`5: job "a": cron: "0 0 30 2 *" never fires`}},
		{"missing cron", head, []string{`2: job "a": cron is required`}},
		{"kind", "jobs:\n  - name: a\n    kind: spark\n    cron: '@daily'\n", []string{`3: job "a": kind: "spark" is not a job kind`}},
		{"name", "jobs:\n  - name: Batch_Daily\n    kind: beam\n    pipeline: batch\n    cron: '@daily'\n", []string{`2: job "Batch_Daily": name: "Batch_Daily" is not a valid name`}},
		{"duplicate", head + "    cron: '@daily'\n" + strings.TrimPrefix(head, "jobs:\n") + "    cron: '@daily'\n",
			[]string{`6: job "a": name: already used by the job on line 2`}},
		{"partition", head + "    cron: '@daily'\n    partition: last week\n", []string{`6: job "a": partition: "last week" is not today, yesterday or -Nd`}},
		{"timezone", head + "    cron: '@daily'\n    timezone: Mars/Olympus\n", []string{`6: job "a": timezone: "Mars/Olympus"`}},
		{"start date", head + "    cron: '@daily'\n    start_date: 2026-13-01\n", []string{`6: job "a": start_date: "2026-13-01" is not a YYYY-MM-DD date`}},
		{"catchup", head + "    cron: '@daily'\n    catchup: 0\n", []string{`6: job "a": catchup: 0 is out of range`}},
		{"retries", head + "    cron: '@daily'\n    retries: {max: 2, backoff: soon}\n", []string{`6: job "a": retries.backoff: "soon" is not a positive duration`}},
		{"max backoff", head + "    cron: '@daily'\n    retries:\n      backoff: 1m\n      max_backoff: 10s\n", []string{`8: job "a": retries.max_backoff: 10s is shorter than backoff 1m0s`}},
		{"timeout", head + "    cron: '@daily'\n    timeout: -1h\n", []string{`6: job "a": timeout: "-1h" is not a positive duration`}},
		{"max parallel", head + "    cron: '@daily'\n    max_parallel: 0\n", []string{`6: job "a": max_parallel: 0 is out of range`}},
		{"profile", head + "    cron: '@daily'\n    profile: cloud\n", []string{`6: job "a": profile: unknown profile "cloud"`}},
		{"scheduler flag", head + "    cron: '@daily'\n    args: [--lake=x, --date=2026-11-01]\n", []string{`6: job "a": args[1]: --date is set by the scheduler`}},
		{"not a flag", head + "    cron: '@daily'\n    args:\n      - lake\n", []string{`7: job "a": args[0]: "lake" is not a flag`}},
		{"pipeline missing", head + "    cron: '@daily'\n    pipeline: nosuch\n", []string{"YAML"}}, // duplicate key
		{"beam with sql keys", head + "    cron: '@daily'\n    destination: serving.top_teams_daily\n", []string{`6: job "a": destination: only a kind: sql job has destination`}},
		{"sql file", "jobs:\n  - name: s\n    kind: sql\n    sql: nosuch.sql\n    destination: serving.top_teams_daily\n    cron: '@daily'\n",
			[]string{`4: job "s": sql: cannot read nosuch.sql`}},
		{"sql without param", "jobs:\n  - name: s\n    kind: sql\n    sql: noparam.sql\n    destination: serving.top_teams_daily\n    cron: '@daily'\n",
			[]string{`4: job "s": sql: noparam.sql never uses @partition`}},
		{"sql destination", "jobs:\n  - name: s\n    kind: sql\n    sql: ok.sql\n    destination: top_teams\n    cron: '@daily'\n",
			[]string{`5: job "s": destination: "top_teams" is not dataset.table`}},
		{"sql partition column", "jobs:\n  - name: s\n    kind: sql\n    sql: ok.sql\n    destination: serving.mine\n    cron: '@daily'\n",
			[]string{`2: job "s": partition_column is required`}},
		{"sql unknown column", "jobs:\n  - name: s\n    kind: sql\n    sql: ok.sql\n    destination: serving.top_teams_daily\n    partition_column: date\n    cron: '@daily'\n",
			[]string{`6: job "s": partition_column: serving.top_teams_daily has no column "date"`}},
		{"unknown dependency", head + "    cron: '@daily'\n    depends_on: [nosuch]\n", []string{`6: job "a": depends_on: no job called "nosuch"`}},
		{"self dependency", head + "    cron: '@daily'\n    depends_on: [a]\n", []string{`6: job "a": depends_on: a job cannot depend on itself`}},
		{"cycle", head + "    cron: '@daily'\n    depends_on: [b]\n  - name: b\n    kind: beam\n    pipeline: batch\n    cron: '@daily'\n    depends_on: [a]\n",
			[]string{`6: job "a": depends_on: cycle a → b → a`}},
		{"several problems", head + "    cron: '@daily'\n    catchup: 0\n    max_parallel: 99\n", []string{"2 problems", `6: job "a": catchup`, `7: job "a": max_parallel`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "s.yaml")
			_, err := Parse(path, []byte(c.yaml), Options{SourceDir: "../.."})
			if err == nil {
				t.Fatalf("accepted:\n%s", c.yaml)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *schedule.Error", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), path+":") {
				t.Errorf("error does not name the file as FILE:LINE: %v", err)
			}
		})
	}
}

func TestPipelineMustExistInSource(t *testing.T) {
	_, err := Parse("s.yaml", []byte("jobs:\n  - name: a\n    kind: beam\n    pipeline: nosuch\n    cron: '@daily'\n"), Options{SourceDir: "../.."})
	if err == nil || !strings.Contains(err.Error(), `s.yaml:4: job "a": pipeline: "nosuch": there is no directory pipelines/nosuch`) {
		t.Fatalf("err = %v", err)
	}
}
