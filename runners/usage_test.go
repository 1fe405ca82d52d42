package runners

import (
	"bytes"
	"flag"
	"log"
	"log/slog"
	"strings"
	"testing"
)

// TestUsage puts the job's flags first, then the runner flags a user needs,
// and Beam's other global flags (here every flag of the program defined
// before the job's) only under --help_all.
func TestUsage(t *testing.T) {
	fs := flag.NewFlagSet("job", flag.ContinueOnError)
	// Stand-ins for flags Beam's packages define at init.
	fs.String("runner", "prism", "Pipeline runner.")
	fs.String("endpoint", "", "Job service endpoint.")
	fs.Int("disk_size_gb", 0, "Size of root disk for VMs, in GB.")
	fs.Bool("dry_run", false, "Dry run.")
	SetUsage(fs, "Usage: job --input=FILE", func(fs *flag.FlagSet) {
		fs.String("input", "", "file to read")
		fs.Duration("window", 0, "window size")
	})
	var out bytes.Buffer
	fs.SetOutput(&out)
	if err := fs.Parse([]string{"--help"}); err != flag.ErrHelp {
		t.Fatalf("--help: %v", err)
	}
	help := out.String()
	order := []string{"Usage: job --input=FILE", "Flags of this job:", "-input string", "-window duration",
		"Runner flags", "-runner string", `(default "prism")`, "-endpoint string", "-dry_run",
		"1 more of Beam's global flags", "--help_all lists them"}
	at := 0
	for _, want := range order {
		i := strings.Index(help[at:], want)
		if i < 0 {
			t.Fatalf("--help lacks %q after offset %d:\n%s", want, at, help)
		}
		at += i + len(want)
	}
	if strings.Contains(help, "disk_size_gb") {
		t.Errorf("--help lists Beam's other flags:\n%s", help)
	}

	out.Reset()
	u := &usagePrinter{fs: fs, text: "Usage: job", job: []string{"input", "window"}}
	u.print(&out, true)
	all := out.String()
	if !strings.Contains(all, "Beam's other global flags (1):\n  -disk_size_gb int") {
		t.Errorf("--help_all lacks Beam's other flags under their heading:\n%s", all)
	}
	if strings.Index(all, "-input") > strings.Index(all, "-runner") {
		t.Errorf("--help_all does not list the job's flags first:\n%s", all)
	}
}

// TestFilterSDKNoise drops exactly the known harness line, as prism prints
// it through log/slog, and passes every other entry, the other finalization
// failures included.
func TestFilterSDKNoise(t *testing.T) {
	var out bytes.Buffer
	f := FilterSDKNoise(&out)
	l := log.New(f, "", log.LstdFlags)
	l.Print("ERROR [SDK] finalize bundle failed for instruction inst-017: couldn't find plan in finalizing map")
	l.Print("ERROR [SDK] finalize bundle failed for instruction inst-018 using plan 3 : Plan 3 failed 1 callbacks")
	l.Print("ERROR [SDK] process bundle failed for instruction inst-019 using plan 3 : boom")
	l.Print("INFO railyard: running streaming pipeline on prism")
	l.Print("ERROR [SDK] finalize bundle failed for instruction inst-020: couldn't find plan in finalizing map\nand more")
	got := out.String()
	if strings.Contains(got, "inst-017") {
		t.Errorf("the known line passed:\n%s", got)
	}
	for _, want := range []string{"inst-018", "inst-019", "running streaming pipeline", "inst-020"} {
		if !strings.Contains(got, want) {
			t.Errorf("entry %q was dropped:\n%s", want, got)
		}
	}
	if f.Dropped() != 1 {
		t.Errorf("dropped %d entries, want 1", f.Dropped())
	}
}

// TestFilterDefaultSlog drops the known harness line from log/slog's
// default logger once beam.Init has installed its text handler (prism
// prints the harness's entries through it), through loggers derived with
// With too, and passes every other record.
func TestFilterDefaultSlog(t *testing.T) {
	prev := slog.Default()
	defer slog.SetDefault(prev)
	var out bytes.Buffer
	slog.SetDefault(slog.New(slog.NewTextHandler(&out, nil))) // what beam.Init installs, on standard error
	before := SDKNoiseDropped()
	FilterDefaultSlog()
	FilterDefaultSlog() // a second call does not wrap twice
	known := "[SDK] finalize bundle failed for instruction inst001: couldn't find plan in finalizing map"
	slog.Error(known)
	slog.With("job", "speed").Error(strings.Replace(known, "inst001", "inst002", 1))
	slog.Error("[SDK] finalize bundle failed for instruction inst003 using plan 3 : Plan 3 failed 1 callbacks")
	slog.Info(strings.Replace(known, "inst001", "inst004", 1)) // not at ERROR: not the known entry
	slog.Info("railyard: running streaming pipeline on prism")
	got := out.String()
	for _, gone := range []string{"inst001", "inst002"} {
		if strings.Contains(got, gone) {
			t.Errorf("the known line (%s) passed:\n%s", gone, got)
		}
	}
	for _, want := range []string{"inst003", "inst004", "running streaming pipeline"} {
		if !strings.Contains(got, want) {
			t.Errorf("record %q was dropped:\n%s", want, got)
		}
	}
	if n := SDKNoiseDropped() - before; n != 2 {
		t.Errorf("dropped %d records, want 2", n)
	}
}
