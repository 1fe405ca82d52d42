package testkit

import (
	"os/exec"
	"strings"
	"testing"
)

// CheckPipelineHelp runs a pipeline binary with --help and --help_all as a
// user would and checks the layout runners.Command gives them: the job's
// own flags (jobFlags, in the listing before any runner flag), then the
// runner flags a user needs first, and Beam's other global flags (the
// Dataflow disk size stands for them) only under --help_all, after their
// own heading.
func CheckPipelineHelp(t *testing.T, bin string, jobFlags ...string) {
	t.Helper()
	out, err := exec.Command(bin, "--help").CombinedOutput()
	help := string(out)
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, help)
	}
	jobAt := strings.Index(help, "Flags of this job:")
	runnerAt := strings.Index(help, "Runner flags")
	if jobAt < 0 || runnerAt < jobAt {
		t.Fatalf("--help lacks the job's flags, then the runner flags:\n%s", help)
	}
	for _, f := range jobFlags {
		if i := strings.Index(help, "  -"+f+" "); i < jobAt || i > runnerAt {
			if i2 := strings.Index(help, "  -"+f+"\n"); i2 < jobAt || i2 > runnerAt {
				t.Errorf("--help does not list -%s among the job's flags:\n%s", f, help)
			}
		}
	}
	for _, f := range []string{"runner", "profile", "endpoint", "environment_type", "project", "region", "staging_location", "dry_run", "parallelism"} {
		if i := strings.Index(help, "  -"+f); i < runnerAt {
			t.Errorf("--help does not list -%s among the runner flags:\n%s", f, help)
		}
	}
	if strings.Contains(help, "disk_size_gb") || !strings.Contains(help, "--help_all lists them") {
		t.Errorf("--help lists Beam's other flags instead of pointing to --help_all:\n%s", help)
	}

	out, err = exec.Command(bin, "--help_all").CombinedOutput()
	all := string(out)
	if err != nil {
		t.Fatalf("--help_all: %v\n%s", err, all)
	}
	other := strings.Index(all, "Beam's other global flags")
	if other < 0 || strings.Index(all, "  -disk_size_gb") < other || strings.Index(all, "Runner flags") > other {
		t.Errorf("--help_all does not list Beam's other flags at the end under their heading:\n%s", all)
	}
}
