package runners

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

// TestInitProfile runs first (file and source order) so that few flags have
// been set by other tests.
func TestInitProfile(t *testing.T) {
	t.Run("unknown profile", func(t *testing.T) {
		setFlags(t, "profile", "nope")
		err := Init()
		if err == nil || err.Error() != `runners: unknown profile "nope" (known: dataflow, flink, local, spark)` {
			t.Fatalf("Init() = %v", err)
		}
	})
	t.Run("flink profile under explicit flags", func(t *testing.T) {
		// Flags set by earlier tests count as explicit (flag.Visit); each
		// profile setting must either be applied or leave an explicit flag alone.
		setFlags(t, "endpoint", "flink-jobserver:8099")
		explicit := map[string]string{}
		flag.Visit(func(f *flag.Flag) { explicit[f.Name] = f.Value.String() })
		p, _ := LookupProfile("flink")
		for _, s := range p.Settings {
			old := flag.Lookup(s.Flag).Value.String()
			t.Cleanup(func() { _ = flag.Set(s.Flag, old) })
		}
		setFlags(t, "profile", "flink")
		if err := Init(); err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Settings {
			got := flag.Lookup(s.Flag).Value.String()
			if v, ok := explicit[s.Flag]; ok {
				if got != v {
					t.Errorf("explicit --%s=%s overridden by profile to %q", s.Flag, v, got)
				}
			} else if got != s.Value {
				t.Errorf("--%s = %q, want profile value %q", s.Flag, got, s.Value)
			}
		}
		if got := flag.Lookup("endpoint").Value.String(); got != "flink-jobserver:8099" {
			t.Errorf("explicit --endpoint lost: %q", got)
		}
	})
}

func TestCheck(t *testing.T) {
	dataflowFlags := map[string]string{
		"project":          "railyard-prod",
		"region":           "europe-west1",
		"staging_location": "gs://railyard-prod/staging",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	local := map[string]string{"endpoint": "localhost:8099", "environment_type": "LOOPBACK"}

	tests := []struct {
		name        string
		runner      string
		mode        Mode
		flags       map[string]string
		wantErr     string   // substring of the error; empty means accepted
		wantMissing []string // ConfigError.Missing
		wantWarn    string   // substring of one warning
	}{
		{name: "default runner batch", runner: "", mode: Batch},
		{name: "default runner streaming", runner: "", mode: Streaming},
		{name: "prism alias", runner: "PrismRunner", mode: Streaming},
		{name: "prism with job server endpoint", runner: "prism", mode: Batch, flags: local},

		{name: "direct batch is accepted with a warning", runner: "direct", mode: Batch,
			wantWarn: "deprecated legacy Go runner; prism (the default) is recommended"},
		{name: "direct streaming is refused", runner: "direct", mode: Streaming,
			wantErr: "direct runner (Beam's deprecated legacy Go runner) supports batch only"},

		{name: "spark batch", runner: "spark", mode: Batch, flags: local},
		{name: "spark streaming is refused", runner: "spark", mode: Streaming, flags: local,
			wantErr: "spark runner supports batch only; use flink or dataflow for streaming"},
		{name: "spark streaming is refused even without endpoint", runner: "SparkRunner", mode: Streaming,
			wantErr: "spark runner supports batch only; use flink or dataflow for streaming"},
		{name: "spark without endpoint", runner: "spark", mode: Batch,
			wantErr:     "spark runner: missing required flag(s) --endpoint of a Beam Spark job server; start one with scripts/spark-job-server.sh (job port 8099) and pass --endpoint=localhost:8099 --environment_type=LOOPBACK, or use --profile=spark",
			wantMissing: []string{"endpoint"}},

		{name: "flink streaming without stop_after_idle warns", runner: "flink", mode: Streaming, flags: local,
			wantWarn: "without --stop_after_idle the job writes nothing (apache/beam#19637)"},
		{name: "flink streaming bounded run", runner: "flink", mode: Streaming,
			flags: with(local, "stop_after_idle", "30s")},
		{name: "flink batch", runner: "FlinkRunner", mode: Batch, flags: local},
		{name: "flink without endpoint", runner: "flink", mode: Streaming,
			wantErr: "flink runner: missing required flag(s) --endpoint of a Beam Flink job server; start one with scripts/flink-job-server.sh", wantMissing: []string{"endpoint"}},
		{name: "flink without environment type warns", runner: "flink", mode: Streaming,
			flags:    map[string]string{"endpoint": "localhost:8099"},
			wantWarn: "--environment_type not set: the job server will start a Docker container (apache/beam_go_sdk:2.77.0)"},
		{name: "flink loopback to a remote job server warns", runner: "flink", mode: Streaming,
			flags:    map[string]string{"endpoint": "flink-jobserver.internal:8099", "environment_type": "LOOPBACK"},
			wantWarn: "the job server at flink-jobserver.internal:8099 must run on this machine"},
		{name: "flink loopback to 127.0.0.1 is quiet", runner: "flink", mode: Batch,
			flags: map[string]string{"endpoint": "127.0.0.1:8099", "environment_type": "loopback"}},
		{name: "flink docker is quiet", runner: "flink", mode: Batch,
			flags: map[string]string{"endpoint": "flink:8099", "environment_type": "DOCKER"}},
		{name: "misspelled environment type", runner: "flink", mode: Batch,
			flags:   map[string]string{"endpoint": "localhost:8099", "environment_type": "LOOPBAK"},
			wantErr: `unknown --environment_type="LOOPBAK"`},

		{name: "universal streaming", runner: "universal", mode: Streaming, flags: local},
		{name: "portable alias", runner: "PortableRunner", mode: Batch, flags: local},
		{name: "universal without endpoint", runner: "universal", mode: Batch,
			wantErr: "universal runner: missing required flag(s) --endpoint of a Beam portable job server", wantMissing: []string{"endpoint"}},

		{name: "dataflow batch", runner: "dataflow", mode: Batch, flags: dataflowFlags},
		{name: "dataflow streaming", runner: "DataflowRunner", mode: Streaming, flags: dataflowFlags},
		{name: "dataflow with nothing", runner: "dataflow", mode: Batch,
			wantErr:     "dataflow runner: missing required flag(s) --project, --region, --staging_location",
			wantMissing: []string{"project", "region", "staging_location"}},
		{name: "dataflow without project and staging", runner: "dataflow", mode: Streaming,
			flags:       map[string]string{"region": "us-central1"},
			wantErr:     "dataflow runner: missing required flag(s) --project, --staging_location (",
			wantMissing: []string{"project", "staging_location"}},
		{name: "dataflow without region", runner: "dataflow", mode: Batch,
			flags:       with(dataflowFlags, "region", ""),
			wantErr:     "dataflow runner: missing required flag(s) --region (",
			wantMissing: []string{"region"}},
		{name: "dataflow local staging", runner: "dataflow", mode: Batch,
			flags:   with(dataflowFlags, "staging_location", "/tmp/staging"),
			wantErr: `--staging_location must be a gs:// URL, got "/tmp/staging"`},
		{name: "dataflow loopback", runner: "dataflow", mode: Batch,
			flags:   with(dataflowFlags, "environment_type", "LOOPBACK"),
			wantErr: "--environment_type must be DOCKER or unset"},

		{name: "unknown runner", runner: "samza", mode: Batch,
			wantErr: `unknown runner "samza" (known: prism, direct, flink, spark, dataflow, universal)`},
		{name: "invalid mode", runner: "prism", mode: Mode(7), wantErr: "invalid mode Mode(7)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := Check(tc.runner, tc.mode, tc.flags)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Check(%q, %v) = %v, want accepted", tc.runner, tc.mode, err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Check(%q, %v) error = %v, want it to contain %q", tc.runner, tc.mode, err, tc.wantErr)
				}
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("error %T is not a *ConfigError", err)
				}
				if !slices.Equal(ce.Missing, tc.wantMissing) {
					t.Errorf("Missing = %q, want %q", ce.Missing, tc.wantMissing)
				}
				if ce.Mode != tc.mode {
					t.Errorf("ConfigError.Mode = %v, want %v", ce.Mode, tc.mode)
				}
			}
			found := tc.wantWarn == ""
			for _, w := range warnings {
				if tc.wantWarn != "" && strings.Contains(w, tc.wantWarn) {
					found = true
				}
			}
			if !found {
				t.Errorf("warnings = %q, want one containing %q", warnings, tc.wantWarn)
			}
			if tc.wantWarn == "" && tc.wantErr == "" && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

func TestCapabilityTable(t *testing.T) {
	want := map[string]struct {
		modes    []Mode
		required []string
	}{
		"prism":     {[]Mode{Batch, Streaming}, nil},
		"direct":    {[]Mode{Batch}, nil},
		"flink":     {[]Mode{Batch, Streaming}, []string{"endpoint"}},
		"spark":     {[]Mode{Batch}, []string{"endpoint"}},
		"dataflow":  {[]Mode{Batch, Streaming}, []string{"project", "region", "staging_location"}},
		"universal": {[]Mode{Batch, Streaming}, []string{"endpoint"}},
	}
	caps := Capabilities()
	if len(caps) != len(want) {
		t.Fatalf("Capabilities() has %d runners, want %d", len(caps), len(want))
	}
	defaults := 0
	for _, c := range caps {
		w, ok := want[c.Runner]
		if !ok {
			t.Errorf("unexpected runner %q", c.Runner)
			continue
		}
		if !slices.Equal(c.Modes, w.modes) || !slices.Equal(c.Required, w.required) {
			t.Errorf("%s: modes %v required %v, want %v %v", c.Runner, c.Modes, c.Required, w.modes, w.required)
		}
		if c.Default {
			defaults++
			if c.Runner != DefaultRunner {
				t.Errorf("default runner is %q, want %q", c.Runner, DefaultRunner)
			}
		}
	}
	if defaults != 1 {
		t.Errorf("%d default runners, want 1", defaults)
	}
	// Capabilities returns copies.
	caps[0].Modes[0] = Streaming
	if Capabilities()[0].Modes[0] != Batch {
		t.Error("Capabilities() exposes the internal table")
	}

	md := CapabilitiesMarkdown()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if len(lines) != 2+len(want) {
		t.Fatalf("markdown has %d lines, want %d:\n%s", len(lines), 2+len(want), md)
	}
	for _, s := range []string{
		"| runner | use | modes | required flags | notes |",
		"| `prism` (default) | local runs and tests | batch, streaming | — |",
		"| `direct` (deprecated) |",
		"| `spark` | batch at scale | batch | `--endpoint` |",
		"| `dataflow` | managed batch and streaming | batch, streaming | `--project` `--region` `--staging_location` |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}

func TestLookupAndModes(t *testing.T) {
	for name, want := range map[string]string{
		"": "prism", "prism": "prism", "PRISM": "prism", "DirectRunner": "direct",
		"FlinkRunner": "flink", "sparkrunner": "spark", "DataflowRunner": "dataflow",
		"portable": "universal", "PortableRunner": "universal",
	} {
		c, ok := Lookup(name)
		if !ok || c.Runner != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", name, c.Runner, ok, want)
		}
	}
	if _, ok := Lookup("dot"); ok {
		t.Error(`Lookup("dot") found a runner; dot is not in railyard's table`)
	}
	for s, want := range map[string]Mode{"batch": Batch, "Streaming": Streaming} {
		if m, err := ParseMode(s); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("micro-batch"); err == nil {
		t.Error("ParseMode(micro-batch) succeeded")
	}
	if Batch.String() != "batch" || Streaming.String() != "streaming" {
		t.Errorf("Mode strings: %v %v", Batch, Streaming)
	}
}
