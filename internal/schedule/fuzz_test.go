package schedule

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse: any input either parses into jobs whose calendar works, or is
// refused with a *schedule.Error naming lines of the input; never a panic.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../../schedules/railyard.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add("jobs:\n  - name: a\n    kind: beam\n    pipeline: batch\n    cron: '@daily'\n    depends_on: [a]\n")
	f.Add("jobs:\n  - name: a\n    kind: sql\n    sql: x.sql\n    destination: serving.top_teams_daily\n    cron: '*/5 * * * 1-5'\n")
	f.Add("jobs: {}\n")
	f.Add("- [\n")
	f.Fuzz(func(t *testing.T, text string) {
		file, err := Parse("fuzz.yaml", []byte(text), Options{})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("error %T %v is not a *schedule.Error with problems", err, err)
			}
			lines := strings.Count(text, "\n") + 1
			for _, p := range se.Problems {
				if p.Line < 1 || p.Line > lines+1 || p.Message == "" {
					t.Fatalf("problem %+v outside the input's %d lines", p, lines)
				}
			}
			return
		}
		for _, j := range file.Jobs {
			now := j.Next(j.firstEligible())
			_ = j.Latest(now, j.Catchup)
			_ = j.PartitionOf(now)
			_ = j.Fields()
		}
	})
}
