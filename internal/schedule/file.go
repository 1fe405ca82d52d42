package schedule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/robfig/cron/v3"

	"github.com/railyard-dev/railyard/runners"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// Job kinds.
const (
	KindBeam = "beam"
	KindSQL  = "sql"
)

// Defaults of the optional keys.
const (
	DefaultCatchup     = 1
	DefaultRetries     = 2
	DefaultBackoff     = 30 * time.Second
	DefaultMaxBackoff  = 10 * time.Minute
	DefaultTimeout     = time.Hour
	DefaultMaxParallel = 1
	DefaultPartition   = "yesterday"
)

// Limits that keep a typo from becoming a runaway schedule.
const (
	MaxCatchup     = 1000
	MaxRetries     = 20
	MaxParallel    = 64
	MaxDaysBefore  = 366
	maxNameLength  = 40
	maxFireHorizon = 5 * 366 * 24 * time.Hour // robfig/cron's own search limit
)

// SchedulerFlags are set by the scheduler on every pipeline run; a job's
// args must not set them.
var SchedulerFlags = []string{"date", "to", "bq_project", "bq_endpoint", "dataset_prefix", "run_id", "job", "attempt", "scheduled_for", "profile"}

// File is a parsed, checked schedule file.
type File struct {
	// Path is the file as given; Dir is its directory, against which
	// relative sql: paths resolve.
	Path, Dir string
	Jobs      []*Job
}

// Job returns the job called name, or nil.
func (f *File) Job(name string) *Job {
	for _, j := range f.Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// Names are the jobs' names in file order.
func (f *File) Names() []string {
	out := make([]string, len(f.Jobs))
	for i, j := range f.Jobs {
		out[i] = j.Name
	}
	return out
}

// Retries is a job's retry policy: up to Max more attempts after the first,
// the n-th retry after a jittered Backoff·2^(n-1), at most MaxBackoff.
type Retries struct {
	Max        int
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Job is one checked entry of the file.
type Job struct {
	Name string
	Kind string
	Line int // where the job starts in the file

	// beam
	Pipeline string
	Profile  string
	Args     []string

	// sql
	SQL             string // as written
	SQLPath         string // resolved against the file's directory
	Destination     string // logical dataset.table
	PartitionColumn string
	// PartitionIsTimestamp is true when the destination's partition column
	// is a TIMESTAMP (compared as DATE(column)).
	PartitionIsTimestamp bool

	Cron        string
	Timezone    string
	Location    *time.Location
	Partition   string // as written
	DaysBefore  int    // partition = firing date - DaysBefore
	StartDate   civil.Date
	Catchup     int
	Retries     Retries
	Timeout     time.Duration
	MaxParallel int
	DependsOn   []string

	schedule cron.Schedule
}

// Attempts is the most attempts one firing gets: the first and the retries.
func (j *Job) Attempts() int { return 1 + j.Retries.Max }

// raw mirrors the YAML; everything is checked afterwards.
type rawFile struct {
	Jobs []rawJob `yaml:"jobs"`
}

type rawJob struct {
	Name            string      `yaml:"name"`
	Kind            string      `yaml:"kind"`
	Pipeline        string      `yaml:"pipeline"`
	Profile         string      `yaml:"profile"`
	Args            []string    `yaml:"args"`
	SQL             string      `yaml:"sql"`
	Destination     string      `yaml:"destination"`
	PartitionColumn string      `yaml:"partition_column"`
	DependsOn       []string    `yaml:"depends_on"`
	Cron            string      `yaml:"cron"`
	Timezone        string      `yaml:"timezone"`
	Partition       string      `yaml:"partition"`
	StartDate       string      `yaml:"start_date"`
	Catchup         *int        `yaml:"catchup"`
	Retries         *rawRetries `yaml:"retries"`
	Timeout         string      `yaml:"timeout"`
	MaxParallel     *int        `yaml:"max_parallel"`
}

type rawRetries struct {
	Max        *int   `yaml:"max"`
	Backoff    string `yaml:"backoff"`
	MaxBackoff string `yaml:"max_backoff"`
}

// Options adjust the checks of Parse.
type Options struct {
	// SourceDir, when set, is the railyard module root: a beam job's
	// pipeline must then exist as SourceDir/pipelines/<pipeline>.
	SourceDir string
}

// Load reads and checks a schedule file.
func Load(path string, opts Options) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schedule file: %w", err)
	}
	return Parse(path, data, opts)
}

// Problem is one thing wrong with a schedule file, at a line.
type Problem struct {
	Line    int
	Message string
}

// Error is every problem Parse found in a file.
type Error struct {
	Path     string
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = fmt.Sprintf("%s:%d: %s", e.Path, p.Line, p.Message)
	}
	if len(lines) == 1 {
		return "invalid schedule file " + lines[0]
	}
	return fmt.Sprintf("invalid schedule file %s (%d problems):\n  %s", e.Path, len(lines), strings.Join(lines, "\n  "))
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	pipelineRE = regexp.MustCompile(`^[a-z0-9_]+$`)
	tableRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$`)
	daysRE     = regexp.MustCompile(`^-(\d+)d$`)
	columnRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Parse checks a schedule file's contents; path names it in errors and
// anchors relative sql: paths.
func Parse(path string, data []byte, opts Options) (*File, error) {
	f := &File{Path: path, Dir: filepath.Dir(path)}
	errs := &Error{Path: path}
	astFile, err := parser.ParseBytes(data, 0)
	if err != nil {
		errs.Problems = append(errs.Problems, yamlProblem(err))
		return nil, errs
	}
	var raw rawFile
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.DisallowUnknownField()); err != nil {
		errs.Problems = append(errs.Problems, yamlProblem(err))
		return nil, errs
	}
	at := func(path string) int { return lineOf(astFile, path) }
	if len(raw.Jobs) == 0 {
		errs.Problems = append(errs.Problems, Problem{max(at("$.jobs"), 1), "no jobs: the file needs a list under jobs:"})
		return nil, errs
	}
	seen := map[string]int{}
	for i, r := range raw.Jobs {
		j, problems := checkJob(r, i, at, f.Dir, opts)
		if j != nil && j.Name != "" {
			if first, dup := seen[j.Name]; dup {
				problems = append(problems, Problem{at(fmt.Sprintf("$.jobs[%d].name", i)), fmt.Sprintf("job %q: name: already used by the job on line %d", j.Name, first)})
			} else {
				seen[j.Name] = j.Line
			}
		}
		errs.Problems = append(errs.Problems, problems...)
		f.Jobs = append(f.Jobs, j)
	}
	if len(errs.Problems) == 0 {
		errs.Problems = append(errs.Problems, checkDependencies(f, at)...)
	}
	if len(errs.Problems) > 0 {
		sort.SliceStable(errs.Problems, func(a, b int) bool { return errs.Problems[a].Line < errs.Problems[b].Line })
		return nil, errs
	}
	return f, nil
}

// yamlProblem turns a YAML library error into a line and a message.
func yamlProblem(err error) Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tok := ye.GetToken(); tok != nil && tok.Position != nil {
			line = tok.Position.Line
		}
		msg := ye.GetMessage()
		var unknown *yaml.UnknownFieldError
		if errors.As(err, &unknown) {
			msg += " (known keys: " + strings.Join(knownKeys(), ", ") + ")"
		}
		return Problem{max(line, 1), "YAML: " + msg}
	}
	return Problem{1, "YAML: " + err.Error()}
}

func knownKeys() []string {
	return []string{"name", "kind", "pipeline", "profile", "args", "sql", "destination", "partition_column", "depends_on",
		"cron", "timezone", "partition", "start_date", "catchup", "retries", "timeout", "max_parallel"}
}

// lineOf finds the line of a YAML path such as $.jobs[0].cron, or of the
// closest enclosing node that exists.
func lineOf(f *ast.File, path string) int {
	for p := path; p != "$"; {
		if yp, err := yaml.PathString(p); err == nil {
			if n, err := yp.FilterFile(f); err == nil && n != nil {
				if tok := n.GetToken(); tok != nil && tok.Position != nil {
					return tok.Position.Line
				}
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 1
}

func checkJob(r rawJob, i int, at func(string) int, dir string, opts Options) (*Job, []Problem) {
	j := &Job{Name: r.Name, Kind: r.Kind, Line: at(fmt.Sprintf("$.jobs[%d]", i))}
	var problems []Problem
	label := fmt.Sprintf("job %d", i+1)
	if r.Name != "" {
		label = fmt.Sprintf("job %q", r.Name)
	}
	bad := func(key, format string, args ...any) {
		line := at(fmt.Sprintf("$.jobs[%d].%s", i, key))
		if key == "" {
			line = j.Line
		}
		msg := label + ": "
		if key != "" {
			msg += key + ": "
		}
		problems = append(problems, Problem{line, msg + fmt.Sprintf(format, args...)})
	}
	missing := func(key, why string) { bad("", "%s is required (%s)", key, why) }

	switch {
	case r.Name == "":
		missing("name", "a unique name of lowercase letters, digits and '-'")
	case len(r.Name) > maxNameLength || !nameRE.MatchString(r.Name):
		bad("name", "%q is not a valid name: use at most %d lowercase letters, digits and '-', starting and ending with a letter or digit (it names lock objects, systemd units and Kubernetes CronJobs)", r.Name, maxNameLength)
	}

	switch r.Kind {
	case "":
		missing("kind", "beam or sql")
	case KindBeam:
		if r.Pipeline == "" {
			missing("pipeline", "a directory of pipelines/, e.g. batch")
		} else if !pipelineRE.MatchString(r.Pipeline) {
			bad("pipeline", "%q is not a pipeline name: the directory name under pipelines/, e.g. batch", r.Pipeline)
		} else if opts.SourceDir != "" {
			if st, err := os.Stat(filepath.Join(opts.SourceDir, "pipelines", r.Pipeline)); err != nil || !st.IsDir() {
				bad("pipeline", "%q: there is no directory pipelines/%s in %s", r.Pipeline, r.Pipeline, opts.SourceDir)
			}
		}
		j.Pipeline = r.Pipeline
		if r.Profile != "" {
			if _, err := runners.LookupProfile(r.Profile); err != nil {
				bad("profile", "%v", strings.TrimPrefix(err.Error(), "runners: "))
			}
		}
		j.Profile = r.Profile
		for k, a := range r.Args {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			switch {
			case !strings.HasPrefix(a, "-"):
				bad(fmt.Sprintf("args[%d]", k), "%q is not a flag: write each as --name=value", a)
			case slices.Contains(SchedulerFlags, name):
				bad(fmt.Sprintf("args[%d]", k), "--%s is set by the scheduler (the partition, its BigQuery flags, the run's identity; the runner profile goes in profile:)", name)
			}
		}
		j.Args = r.Args
		for key, set := range map[string]bool{"sql": r.SQL != "", "destination": r.Destination != "", "partition_column": r.PartitionColumn != ""} {
			if set {
				bad(key, "only a kind: sql job has %s", key)
			}
		}
	case KindSQL:
		checkSQL(j, r, dir, bad, missing)
		for key, set := range map[string]bool{"pipeline": r.Pipeline != "", "profile": r.Profile != "", "args": len(r.Args) > 0} {
			if set {
				bad(key, "only a kind: beam job has %s", key)
			}
		}
	default:
		bad("kind", "%q is not a job kind: beam (a pipeline of pipelines/) or sql (a BigQuery script)", r.Kind)
	}

	j.Timezone = r.Timezone
	if j.Timezone == "" {
		j.Timezone = "UTC"
	}
	loc, err := time.LoadLocation(j.Timezone)
	if err != nil {
		bad("timezone", "%q is not an IANA time zone such as UTC or Europe/Berlin", r.Timezone)
		loc = time.UTC
	}
	j.Location = loc

	j.Cron = r.Cron
	if r.Cron == "" {
		missing("cron", `5 fields: minute hour day-of-month month day-of-week, e.g. "15 2 * * *"`)
	} else if s, err := parseCron(r.Cron); err != nil {
		bad("cron", "%q: %v", r.Cron, err)
	} else {
		j.schedule = s
		probe := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		if next := s.Next(probe); next.IsZero() || next.Sub(probe) > maxFireHorizon {
			bad("cron", "%q never fires", r.Cron)
			j.schedule = nil
		}
	}

	j.Partition = r.Partition
	if j.Partition == "" {
		j.Partition = DefaultPartition
	}
	switch j.Partition {
	case "today":
		j.DaysBefore = 0
	case "yesterday":
		j.DaysBefore = 1
	default:
		m := daysRE.FindStringSubmatch(j.Partition)
		n, err := 0, error(nil)
		if m != nil {
			n, err = strconv.Atoi(m[1])
		}
		if m == nil || err != nil || n > MaxDaysBefore {
			bad("partition", "%q is not today, yesterday or -Nd (N days before the firing's date, 0..%d)", r.Partition, MaxDaysBefore)
		}
		j.DaysBefore = n
	}

	if r.StartDate != "" {
		d, err := civil.ParseDate(r.StartDate)
		if err != nil {
			bad("start_date", "%q is not a YYYY-MM-DD date", r.StartDate)
		}
		j.StartDate = d
	}

	j.Catchup = DefaultCatchup
	if r.Catchup != nil {
		j.Catchup = *r.Catchup
		if j.Catchup < 1 || j.Catchup > MaxCatchup {
			bad("catchup", "%d is out of range: 1 (only the latest firing) to %d", j.Catchup, MaxCatchup)
		}
	}

	j.Retries = Retries{Max: DefaultRetries, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff}
	if rr := r.Retries; rr != nil {
		if rr.Max != nil {
			j.Retries.Max = *rr.Max
			if j.Retries.Max < 0 || j.Retries.Max > MaxRetries {
				bad("retries.max", "%d is out of range: 0 (no retry) to %d", j.Retries.Max, MaxRetries)
			}
		}
		if rr.Backoff != "" {
			j.Retries.Backoff = positiveDuration(rr.Backoff, "retries.backoff", bad)
		}
		if rr.MaxBackoff != "" {
			j.Retries.MaxBackoff = positiveDuration(rr.MaxBackoff, "retries.max_backoff", bad)
		}
		if j.Retries.Backoff > 0 && j.Retries.MaxBackoff > 0 && j.Retries.MaxBackoff < j.Retries.Backoff {
			bad("retries.max_backoff", "%s is shorter than backoff %s", j.Retries.MaxBackoff, j.Retries.Backoff)
		}
	}

	j.Timeout = DefaultTimeout
	if r.Timeout != "" {
		j.Timeout = positiveDuration(r.Timeout, "timeout", bad)
	}
	j.MaxParallel = DefaultMaxParallel
	if r.MaxParallel != nil {
		j.MaxParallel = *r.MaxParallel
		if j.MaxParallel < 1 || j.MaxParallel > MaxParallel {
			bad("max_parallel", "%d is out of range: 1 to %d", j.MaxParallel, MaxParallel)
		}
	}
	j.DependsOn = r.DependsOn
	return j, problems
}

func positiveDuration(s, key string, bad func(key, format string, args ...any)) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		bad(key, "%q is not a positive duration such as 30s, 10m or 2h", s)
		return 0
	}
	return d
}

// cronParser takes standard 5-field expressions and the fixed descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func parseCron(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return nil, errors.New("set the time zone with the timezone: key, not in the expression")
	case strings.HasPrefix(s, "@every"):
		return nil, errors.New("@every is not a calendar schedule: firings must not depend on when the scheduler started")
	case strings.HasPrefix(s, "@"):
	default:
		if n := len(strings.Fields(s)); n != 5 {
			return nil, fmt.Errorf("expected exactly 5 fields (minute hour day-of-month month day-of-week), found %d", n)
		}
	}
	sched, err := cronParser.Parse(s)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "failed to parse "))
	}
	return sched, nil
}

func checkSQL(j *Job, r rawJob, dir string, bad func(key, format string, args ...any), missing func(key, why string)) {
	j.SQL = r.SQL
	if r.SQL == "" {
		missing("sql", "a BigQuery script file, relative to the schedule file's directory")
	} else {
		j.SQLPath = r.SQL
		if !filepath.IsAbs(r.SQL) {
			j.SQLPath = filepath.Join(dir, r.SQL)
		}
		text, err := os.ReadFile(j.SQLPath)
		switch {
		case err != nil:
			bad("sql", "cannot read %s (a relative path is read from the schedule file's directory %s): %v", r.SQL, dir, errors.Unwrap(err))
		case !strings.Contains(string(text), "@partition"):
			bad("sql", "%s never uses @partition: the script must replace the partition given as the DATE parameter @partition", r.SQL)
		default:
			if _, err := template.New(r.SQL).Funcs(templateFuncsForCheck).Parse(string(text)); err != nil {
				bad("sql", "%s: %v", r.SQL, err)
			}
		}
	}
	j.Destination = r.Destination
	if r.Destination == "" {
		missing("destination", "the table whose @partition partition the script replaces, as dataset.table, e.g. serving.top_teams_daily")
		return
	}
	if !tableRE.MatchString(r.Destination) {
		bad("destination", "%q is not dataset.table (logical names, without project or dataset prefix)", r.Destination)
		return
	}
	j.PartitionColumn = r.PartitionColumn
	t, inCatalog := catalog.Default().Table(r.Destination)
	if inCatalog && t.IsView() {
		bad("destination", "%s is a view in the catalog; a sql job writes a table", r.Destination)
		return
	}
	if j.PartitionColumn == "" {
		if !inCatalog || t.Partitioning == nil {
			missing("partition_column", "the destination "+r.Destination+" is not a partitioned table of the catalog, so name its DATE partition column")
			return
		}
		j.PartitionColumn = t.Partitioning.Field
	} else if !columnRE.MatchString(j.PartitionColumn) {
		bad("partition_column", "%q is not a column name", j.PartitionColumn)
		return
	}
	if inCatalog {
		schema, err := catalog.SchemaOf(t.RowType)
		if err == nil {
			i := slices.IndexFunc(schema, func(f *bigquery.FieldSchema) bool { return f.Name == j.PartitionColumn })
			if i < 0 {
				bad("partition_column", "%s has no column %q", r.Destination, j.PartitionColumn)
				return
			}
			j.PartitionIsTimestamp = schema[i].Type == bigquery.TimestampFieldType
		}
	}
}

// checkDependencies checks depends_on names and refuses cycles.
func checkDependencies(f *File, at func(string) int) []Problem {
	var problems []Problem
	for i, j := range f.Jobs {
		for k, d := range j.DependsOn {
			line := at(fmt.Sprintf("$.jobs[%d].depends_on[%d]", i, k))
			switch {
			case d == j.Name:
				problems = append(problems, Problem{line, fmt.Sprintf("job %q: depends_on: a job cannot depend on itself", j.Name)})
			case f.Job(d) == nil:
				problems = append(problems, Problem{line, fmt.Sprintf("job %q: depends_on: no job called %q in this file (jobs: %s)", j.Name, d, strings.Join(f.Names(), ", "))})
			}
		}
	}
	if len(problems) > 0 {
		return problems
	}
	// Depth-first search for a cycle.
	state := map[string]int{} // 0 unvisited, 1 on the stack, 2 done
	var stack []string
	var visit func(name string) []string
	visit = func(name string) []string {
		state[name] = 1
		stack = append(stack, name)
		for _, d := range f.Job(name).DependsOn {
			switch state[d] {
			case 1:
				i := slices.Index(stack, d)
				return append(slices.Clone(stack[i:]), d)
			case 0:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = 2
		return nil
	}
	for _, j := range f.Jobs {
		if state[j.Name] == 0 {
			if c := visit(j.Name); c != nil {
				i := slices.IndexFunc(f.Jobs, func(j *Job) bool { return j.Name == c[0] })
				return []Problem{{at(fmt.Sprintf("$.jobs[%d].depends_on", i)), fmt.Sprintf("job %q: depends_on: cycle %s", c[0], strings.Join(c, " → "))}}
			}
		}
	}
	return nil
}
