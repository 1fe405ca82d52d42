package runners

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestEmbeddedProfiles(t *testing.T) {
	var names []string
	for _, p := range Profiles() {
		names = append(names, p.Name)
		if p.Description == "" {
			t.Errorf("profile %q has no description comment", p.Name)
		}
		if len(p.Settings) == 0 {
			t.Errorf("profile %q sets nothing", p.Name)
		}
		for _, s := range p.Settings {
			if flag.Lookup(s.Flag) == nil {
				t.Errorf("profile %q sets --%s, which is not a flag of a program importing runners", p.Name, s.Flag)
			}
		}
	}
	for _, want := range []string{"dataflow", "flink", "local", "spark"} {
		if !slices.Contains(names, want) {
			t.Errorf("profiles %q lack %q", names, want)
		}
	}

	// Each profile, with only what it cannot know added, passes the capability check.
	for _, tc := range []struct {
		profile string
		mode    Mode
		extra   map[string]string
		wantErr string
	}{
		{profile: "local", mode: Streaming},
		// Flink streaming warns unless the run is bounded (TestCheck).
		{profile: "flink", mode: Streaming, extra: map[string]string{"stop_after_idle": "30s"}},
		{profile: "spark", mode: Batch},
		{profile: "spark", mode: Streaming, wantErr: "spark runner supports batch only"},
		{profile: "dataflow", mode: Streaming, wantErr: "missing required flag(s) --project, --staging_location ("},
		{profile: "dataflow", mode: Batch, extra: map[string]string{"project": "p", "staging_location": "gs://b/staging"}},
	} {
		p, err := LookupProfile(tc.profile)
		if err != nil {
			t.Fatal(err)
		}
		flags := map[string]string{}
		for _, s := range p.Settings {
			flags[s.Flag] = s.Value
		}
		for k, v := range tc.extra {
			flags[k] = v
		}
		warnings, err := Check(flags["runner"], tc.mode, flags)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("profile %s %v: %v", tc.profile, tc.mode, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("profile %s %v: error %v, want %q", tc.profile, tc.mode, err, tc.wantErr)
		case err == nil && len(warnings) > 0:
			t.Errorf("profile %s %v: warnings %q", tc.profile, tc.mode, warnings)
		}
	}

	md := ProfilesMarkdown()
	for _, s := range []string{"| profile | flags | description |",
		"| `flink` | `--runner=flink` `--endpoint=localhost:8099` `--environment_type=LOOPBACK` |"} {
		if !strings.Contains(md, s) {
			t.Errorf("ProfilesMarkdown lacks %q:\n%s", s, md)
		}
	}
}

// newFlagSet returns a flag set with the flags the profiles use, parsed from args.
func newFlagSet(t *testing.T, args ...string) *flag.FlagSet {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, name := range []string{"runner", "endpoint", "environment_type", "region", "project",
		"staging_location", "autoscaling_algorithm"} {
		fs.String(name, "", "")
	}
	fs.Int64("max_num_workers", 0, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestApplyProfile(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		profile     string
		want        map[string]string // flag values after applying
		wantApplied []string
		wantErr     string
	}{
		{name: "no profile", args: []string{"--runner=spark"}, profile: "",
			want: map[string]string{"runner": "spark", "endpoint": ""}},
		{name: "profile fills unset flags", profile: "flink",
			want:        map[string]string{"runner": "flink", "endpoint": "localhost:8099", "environment_type": "LOOPBACK"},
			wantApplied: []string{"--runner=flink", "--endpoint=localhost:8099", "--environment_type=LOOPBACK"}},
		{name: "explicit flag beats profile", profile: "flink",
			args:        []string{"--endpoint=flink-jobserver:8099", "--environment_type=DOCKER"},
			want:        map[string]string{"runner": "flink", "endpoint": "flink-jobserver:8099", "environment_type": "DOCKER"},
			wantApplied: []string{"--runner=flink"}},
		{name: "explicit flag equal to the zero value still wins", profile: "dataflow",
			args:        []string{"--region=", "--max_num_workers=0"},
			want:        map[string]string{"runner": "dataflow", "region": "", "max_num_workers": "0", "autoscaling_algorithm": "THROUGHPUT_BASED"},
			wantApplied: []string{"--runner=dataflow", "--autoscaling_algorithm=THROUGHPUT_BASED"}},
		{name: "explicit runner beats profile runner", profile: "spark", args: []string{"--runner=universal"},
			want: map[string]string{"runner": "universal", "endpoint": "localhost:8099"}},
		{name: "unknown profile", profile: "flink-prod", args: []string{"--runner=prism"},
			want:    map[string]string{"runner": "prism"},
			wantErr: `runners: unknown profile "flink-prod" (known: dataflow, flink, local, spark)`},
		{name: "path is not a profile name", profile: "../profiles/flink",
			wantErr: `unknown profile "../profiles/flink" (known: dataflow, flink, local, spark)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlagSet(t, tc.args...)
			applied, err := ApplyProfile(fs, tc.profile)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got := fs.Lookup(k).Value.String(); got != v {
					t.Errorf("--%s = %q, want %q", k, got, v)
				}
			}
			var got []string
			for _, s := range applied {
				got = append(got, s.String())
			}
			if tc.wantApplied != nil && !slices.Equal(got, tc.wantApplied) {
				t.Errorf("applied %q, want %q", got, tc.wantApplied)
			}
		})
	}

	t.Run("profile flag missing from the program changes nothing", func(t *testing.T) {
		fs := flag.NewFlagSet("small", flag.ContinueOnError)
		runner := fs.String("runner", "", "")
		_, err := ApplyProfile(fs, "flink")
		if err == nil || !strings.Contains(err.Error(), `profile "flink" sets --endpoint, which this program does not define`) {
			t.Fatalf("error = %v", err)
		}
		if *runner != "" {
			t.Errorf("runner = %q after a failed profile, want unchanged", *runner)
		}
	})
}

func TestParseProfile(t *testing.T) {
	p, err := parseProfile("x", "# First line.\n#\n# Second line.\n\n--runner = flink\n# not description\nendpoint=a=b\nexperiments=\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.Description != "First line. Second line." {
		t.Errorf("description %q", p.Description)
	}
	want := []Setting{{"runner", "flink"}, {"endpoint", "a=b"}, {"experiments", ""}}
	if !slices.Equal(p.Settings, want) {
		t.Errorf("settings %v, want %v", p.Settings, want)
	}
	for text, wantErr := range map[string]string{
		"runner":               `profile "x" line 1: want flag=value, got "runner"`,
		"=flink":               `profile "x" line 1: want flag=value`,
		"a=1\n\na=2":           `profile "x" line 3: --a set twice`,
		"# d\nprofile=flink\n": `profile "x" line 2: profiles cannot set --profile`,
	} {
		if _, err := parseProfile("x", text); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseProfile(%q) error = %v, want %q", text, err, wantErr)
		}
	}
}
