package runners

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
)

// FirstRunnerFlags are the runner flags a pipeline's --help lists right
// after the job's own flags, in this order: where the job runs and the
// flags each runner of the capability table needs. Beam defines about 70
// more global flags (Dataflow disk sizes, worker harness internals, …);
// --help lists them only under --help_all.
var FirstRunnerFlags = []string{
	"runner", "profile", "endpoint", "environment_type", "environment_config",
	"project", "region", "staging_location", "temp_location",
	"dry_run", "parallelism", "async", "job_name", "max_num_workers", "experiments",
}

// HelpAllFlag is the flag that prints every flag, Beam's included.
const HelpAllFlag = "help_all"

// Command prepares a pipeline's command line before Init parses it:
// register adds the job's own flags to the program's flag set, -h/--help
// prints usage (the command's synopsis and description), then the job's
// flags, then FirstRunnerFlags, and says how many other Beam flags
// --help_all would add; --help_all prints all of them under their own
// heading. It also routes the standard logger through FilterSDKNoise, so
// that the one known harmless SDK-harness error line of prism runs does not
// reach standard error.
func Command(usage string, register func(*flag.FlagSet)) {
	SetUsage(flag.CommandLine, usage, register)
	log.SetOutput(FilterSDKNoise(os.Stderr))
}

// SetUsage does Command's flag work on fs: every flag that register adds is
// the job's, FirstRunnerFlags are the runner's, the rest (defined before,
// by Beam's packages) Beam's others. It defines --help_all on fs.
func SetUsage(fs *flag.FlagSet, usage string, register func(*flag.FlagSet)) {
	before := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
	register(fs)
	var job []string
	fs.VisitAll(func(f *flag.Flag) {
		if !before[f.Name] {
			job = append(job, f.Name)
		}
	})
	u := &usagePrinter{fs: fs, text: usage, job: job}
	fs.Usage = func() { u.print(fs.Output(), false) }
	// A flag whose Set prints and exits: flag.Parse handles it where it
	// stands, like -help, without a change to Init's parsing.
	fs.BoolFunc(HelpAllFlag, "print every flag, Beam's global ones included, and exit", func(string) error {
		u.print(fs.Output(), true)
		os.Exit(0)
		return nil
	})
}

type usagePrinter struct {
	fs   *flag.FlagSet
	text string
	job  []string
}

// print writes the usage; all adds Beam's other flags.
func (u *usagePrinter) print(w io.Writer, all bool) {
	fmt.Fprint(w, strings.TrimRight(u.text, "\n")+"\n")
	lookup := func(names []string) []*flag.Flag {
		var out []*flag.Flag
		for _, n := range names {
			if f := u.fs.Lookup(n); f != nil {
				out = append(out, f)
			}
		}
		return out
	}
	shown := map[string]bool{HelpAllFlag: true}
	for _, n := range u.job {
		shown[n] = true
	}
	for _, n := range FirstRunnerFlags {
		shown[n] = true
	}
	var others []string
	u.fs.VisitAll(func(f *flag.Flag) {
		if !shown[f.Name] {
			others = append(others, f.Name)
		}
	})
	sort.Strings(others)

	fmt.Fprintln(w, "\nFlags of this job:")
	printFlags(w, lookup(u.job))
	fmt.Fprintf(w, "\nRunner flags (where the job runs: --runner=%s, default prism; --profile=NAME sets several at once):\n",
		strings.Join(RunnerNames(), "|"))
	printFlags(w, lookup(FirstRunnerFlags))
	if !all {
		fmt.Fprintf(w, "\n%d more of Beam's global flags (Dataflow worker and disk settings, harness internals, …): --%s lists them.\n",
			len(others), HelpAllFlag)
		return
	}
	fmt.Fprintf(w, "\nBeam's other global flags (%d):\n", len(others))
	printFlags(w, lookup(others))
}

// printFlags writes flags the way flag.PrintDefaults does.
func printFlags(w io.Writer, flags []*flag.Flag) {
	for _, f := range flags {
		var b strings.Builder
		fmt.Fprintf(&b, "  -%s", f.Name)
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			b.WriteString(" " + name)
		}
		if b.Len() <= 4 {
			b.WriteString("\t")
		} else {
			b.WriteString("\n    \t")
		}
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if !zeroDefault(f) {
			if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" {
				fmt.Fprintf(&b, " (default %q)", f.DefValue)
			} else {
				fmt.Fprintf(&b, " (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func zeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "0s", "[]", "<nil>":
		return true
	}
	return false
}
