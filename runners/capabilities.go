package runners

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core"
)

// Mode is the execution mode a pipeline is written for.
type Mode int

const (
	// Batch pipelines read bounded input and finish.
	Batch Mode = iota
	// Streaming pipelines read unbounded input and run until cancelled.
	Streaming
)

// String returns "batch" or "streaming".
func (m Mode) String() string {
	switch m {
	case Batch:
		return "batch"
	case Streaming:
		return "streaming"
	default:
		return fmt.Sprintf("Mode(%d)", int(m))
	}
}

// ParseMode parses "batch" or "streaming" (case-insensitive).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "batch":
		return Batch, nil
	case "streaming":
		return Streaming, nil
	}
	return 0, fmt.Errorf("runners: unknown mode %q (want batch or streaming)", s)
}

// DefaultRunner is the runner used when --runner is empty.
const DefaultRunner = "prism"

// Capability is one row of the runner table.
type Capability struct {
	// Runner is the canonical --runner value.
	Runner string
	// Aliases are other names Beam registers for the same runner; they are
	// accepted (case-insensitively) and mapped to Runner.
	Aliases []string
	// Modes lists the supported modes.
	Modes []Mode
	// Required lists flags (without "--") that must be non-empty.
	Required []string
	// Default marks the runner used when --runner is not set.
	Default bool
	// Deprecated marks runners that are accepted but not recommended.
	Deprecated bool
	// Use says what railyard uses the runner for.
	Use string
	// Notes holds the practical details: environment, job server, caveats.
	Notes string
}

// Supports reports whether the runner supports mode m.
func (c Capability) Supports(m Mode) bool { return slices.Contains(c.Modes, m) }

// jobServerHint says how to get a job server for a portable runner.
func jobServerHint(runner string) string {
	switch runner {
	case "flink", "spark":
		return fmt.Sprintf("start one with scripts/%s-job-server.sh (job port 8099) and pass "+
			"--endpoint=localhost:8099 --environment_type=LOOPBACK, or use --profile=%s", runner, runner)
	default:
		return "start one with scripts/flink-job-server.sh or scripts/spark-job-server.sh (job port 8099) and pass " +
			"--endpoint=localhost:8099 --environment_type=LOOPBACK"
	}
}

var capabilities = []Capability{
	{
		Runner:  "prism",
		Aliases: []string{"PrismRunner"},
		Modes:   []Mode{Batch, Streaming},
		Default: true,
		Use:     "local runs and tests",
		Notes: "the Go SDK's portable local runner; starts an in-process job server and LOOPBACK workers " +
			"unless --endpoint names a running prism job server; keeps all state in memory",
	},
	{
		Runner:     "direct",
		Aliases:    []string{"DirectRunner"},
		Modes:      []Mode{Batch},
		Deprecated: true,
		Use:        "nothing new; kept for old batch jobs",
		Notes:      "Beam's deprecated legacy Go runner: batch only, accepted with a warning; use prism",
	},
	{
		Runner:   "flink",
		Aliases:  []string{"FlinkRunner"},
		Modes:    []Mode{Batch, Streaming},
		Required: []string{"endpoint"},
		Use:      "streaming at scale (and batch)",
		Notes: "portable: submits to a Beam Flink job server (scripts/flink-job-server.sh: Beam 2.62 resolved with Maven, " +
			"embedded Flink 1.19, checkpoints every 2 s); --environment_type LOOPBACK (local), DOCKER (default) or PROCESS; " +
			"runs as a streaming job when the graph has an unbounded PCollection; Pub/Sub acks wait for a completed checkpoint",
	},
	{
		Runner:   "spark",
		Aliases:  []string{"SparkRunner"},
		Modes:    []Mode{Batch},
		Required: []string{"endpoint"},
		Use:      "batch at scale",
		Notes: "portable: submits to a Beam Spark job server (scripts/spark-job-server.sh: Beam 2.62 resolved with Maven, " +
			"Spark 3.5 local[2]); batch only: Beam's Spark runner has no self-checkpointing SDFs for Go, so streaming is refused before submission",
	},
	{
		Runner:   "dataflow",
		Aliases:  []string{"DataflowRunner"},
		Modes:    []Mode{Batch, Streaming},
		Required: []string{"project", "region", "staging_location"},
		Use:      "managed batch and streaming",
		Notes: "--staging_location must be gs://; workers run the Go SDK container (--environment_type DOCKER or unset); " +
			"streaming jobs use Streaming Engine; --dry_run prints the job without submitting it",
	},
	{
		Runner:   "universal",
		Aliases:  []string{"PortableRunner", "portable"},
		Modes:    []Mode{Batch, Streaming},
		Required: []string{"endpoint"},
		Use:      "any portable job server",
		Notes:    "the JobService client flink and spark use underneath; modes depend on the job server behind --endpoint",
	},
}

// Capabilities returns the runner table, default runner first.
func Capabilities() []Capability {
	out := make([]Capability, len(capabilities))
	for i, c := range capabilities {
		c.Aliases = slices.Clone(c.Aliases)
		c.Modes = slices.Clone(c.Modes)
		c.Required = slices.Clone(c.Required)
		out[i] = c
	}
	return out
}

// Lookup returns the capability for a runner name or alias (case-insensitive).
// The empty name is the default runner.
func Lookup(runner string) (Capability, bool) {
	if runner == "" {
		runner = DefaultRunner
	}
	for _, c := range Capabilities() {
		if strings.EqualFold(c.Runner, runner) {
			return c, true
		}
		for _, a := range c.Aliases {
			if strings.EqualFold(a, runner) {
				return c, true
			}
		}
	}
	return Capability{}, false
}

// RunnerNames returns the canonical runner names in table order.
func RunnerNames() []string {
	names := make([]string, len(capabilities))
	for i, c := range capabilities {
		names[i] = c.Runner
	}
	return names
}

// CapabilitiesMarkdown renders the runner table as a Markdown table.
func CapabilitiesMarkdown() string {
	var b strings.Builder
	b.WriteString("| runner | use | modes | required flags | notes |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, c := range capabilities {
		name := "`" + c.Runner + "`"
		switch {
		case c.Default:
			name += " (default)"
		case c.Deprecated:
			name += " (deprecated)"
		}
		modes := make([]string, len(c.Modes))
		for i, m := range c.Modes {
			modes[i] = m.String()
		}
		req := "—"
		if len(c.Required) > 0 {
			fl := make([]string, len(c.Required))
			for i, f := range c.Required {
				fl[i] = "`--" + f + "`"
			}
			req = strings.Join(fl, " ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", name, c.Use, strings.Join(modes, ", "), req,
			strings.ReplaceAll(c.Notes, "|", "\\|"))
	}
	return b.String()
}

// ConfigError is returned when a runner, mode and flag combination is refused.
type ConfigError struct {
	Runner  string   // canonical runner name, or the unknown name given
	Mode    Mode     // requested mode
	Missing []string // required flags (without "--") that are unset
	Problem string   // what is wrong and how to fix it
}

func (e *ConfigError) Error() string { return "runners: " + e.Problem }

// Check validates a runner, mode and flag values against the capability
// table. flags maps flag names (without "--") to values; absent names count
// as unset. It returns warnings for combinations that are accepted but
// discouraged, and a *ConfigError for refused ones. Check does no I/O.
func Check(runner string, mode Mode, flags map[string]string) (warnings []string, err error) {
	c, ok := Lookup(runner)
	if !ok {
		return nil, &ConfigError{Runner: runner, Mode: mode,
			Problem: fmt.Sprintf("unknown runner %q (known: %s)", runner, strings.Join(RunnerNames(), ", "))}
	}
	fail := func(format string, args ...any) error {
		return &ConfigError{Runner: c.Runner, Mode: mode, Problem: fmt.Sprintf(format, args...)}
	}
	if mode != Batch && mode != Streaming {
		return nil, fail("invalid mode %v", mode)
	}
	get := func(name string) string { return strings.TrimSpace(flags[name]) }

	if !c.Supports(mode) {
		switch c.Runner {
		case "spark":
			return nil, fail("spark runner supports batch only; use flink or dataflow for streaming")
		case "direct":
			return nil, fail("direct runner (Beam's deprecated legacy Go runner) supports batch only; use prism (the default) for local streaming, flink or dataflow at scale")
		default:
			return nil, fail("%s runner does not support %s pipelines", c.Runner, mode)
		}
	}

	var missing []string
	for _, f := range c.Required {
		if get(f) == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		fl := make([]string, len(missing))
		for i, f := range missing {
			fl[i] = "--" + f
		}
		problem := fmt.Sprintf("%s runner: missing required flag(s) %s", c.Runner, strings.Join(fl, ", "))
		switch c.Runner {
		case "dataflow":
			problem += " (e.g. --project=my-project --region=us-central1 --staging_location=gs://my-bucket/staging; --profile=dataflow sets the region)"
		case "universal":
			problem += " of a Beam portable job server; " + jobServerHint(c.Runner)
		default:
			problem += " of a Beam " + strings.ToUpper(c.Runner[:1]) + c.Runner[1:] + " job server; " + jobServerHint(c.Runner)
		}
		return nil, &ConfigError{Runner: c.Runner, Mode: mode, Missing: missing, Problem: problem}
	}

	env := strings.ToLower(get("environment_type"))
	switch env {
	case "", "loopback", "docker", "process", "external":
	default:
		return nil, fail("unknown --environment_type=%q (want LOOPBACK, DOCKER, PROCESS or EXTERNAL)", get("environment_type"))
	}

	switch c.Runner {
	case "direct":
		warnings = append(warnings, "--runner=direct is Beam's deprecated legacy Go runner; prism (the default) is recommended")
	case "dataflow":
		if loc := get("staging_location"); !strings.HasPrefix(loc, "gs://") {
			return nil, fail("dataflow runner: --staging_location must be a gs:// URL, got %q", loc)
		}
		if tmp := get("temp_location"); tmp != "" && !strings.HasPrefix(tmp, "gs://") {
			return nil, fail("dataflow runner: --temp_location must be a gs:// URL, got %q", tmp)
		}
		if env != "" && env != "docker" {
			return nil, fail("dataflow runner runs Go workers in the SDK container: --environment_type must be DOCKER or unset, got %q", get("environment_type"))
		}
	case "flink", "spark", "universal":
		switch env {
		case "":
			warnings = append(warnings, fmt.Sprintf("--environment_type not set: the job server will start a Docker container (%s) per SDK worker; "+
				"with a local job server use --environment_type=LOOPBACK", core.DefaultDockerImage))
		case "loopback":
			if host := endpointHost(get("endpoint")); !isLocalHost(host) {
				warnings = append(warnings, fmt.Sprintf("--environment_type=LOOPBACK runs SDK workers in this process on localhost; "+
					"the job server at %s must run on this machine to reach them", get("endpoint")))
			}
		}
	}
	return warnings, nil
}

func endpointHost(endpoint string) string {
	if i := strings.Index(endpoint, "://"); i >= 0 {
		endpoint = endpoint[i+3:]
	}
	if host, _, err := net.SplitHostPort(endpoint); err == nil {
		return host
	}
	return endpoint
}

func isLocalHost(host string) bool {
	if host == "localhost" || host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
