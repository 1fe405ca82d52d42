package reference

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// Counts are the reconciliation figures of a run (see the package doc).
type Counts struct {
	// Files and Bytes are the files read and their stored (for gzip files:
	// compressed) size.
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
	// BlankLines are the empty lines skipped; they are not counted in Read.
	BlankLines int64 `json:"blank_lines"`
	// Read is the number of (non-blank) lines read: Valid + Invalid.
	Read    int64 `json:"read"`
	Valid   int64 `json:"valid"`
	Invalid int64 `json:"invalid"`
	// InvalidByReason splits Invalid by validation reason.
	InvalidByReason map[schemas.Reason]int64 `json:"invalid_by_reason"`
	// Unique is the number of distinct event ids among the valid lines,
	// Duplicates the other valid lines: Valid = Unique + Duplicates.
	Unique     int64 `json:"unique"`
	Duplicates int64 `json:"duplicates"`
	// ConflictingIDs are the event ids whose copies were not all
	// identical (each counted once; the copies are among Duplicates).
	ConflictingIDs int64 `json:"conflicting_ids"`
	// OutsidePartition are the unique events whose event date is outside
	// the requested range, Events the others, the input of the views:
	// Unique = Events + OutsidePartition.
	OutsidePartition int64 `json:"outside_partition"`
	Events           int64 `json:"events"`
}

// DeadLetters is the number of inputs the batch pipeline dead-letters:
// invalid lines and events outside the requested range.
func (c Counts) DeadLetters() int64 { return c.Invalid + c.OutsidePartition }

// Check verifies that the counts reconcile.
func (c Counts) Check() error {
	var errs []string
	if c.Read != c.Valid+c.Invalid {
		errs = append(errs, fmt.Sprintf("read %d ≠ valid %d + invalid %d", c.Read, c.Valid, c.Invalid))
	}
	var byReason int64
	for _, n := range c.InvalidByReason {
		byReason += n
	}
	if byReason != c.Invalid {
		errs = append(errs, fmt.Sprintf("invalid %d ≠ %d counted by reason", c.Invalid, byReason))
	}
	if c.Valid != c.Unique+c.Duplicates {
		errs = append(errs, fmt.Sprintf("valid %d ≠ unique %d + duplicates %d", c.Valid, c.Unique, c.Duplicates))
	}
	if c.Unique != c.Events+c.OutsidePartition {
		errs = append(errs, fmt.Sprintf("unique %d ≠ events %d + outside_partition %d", c.Unique, c.Events, c.OutsidePartition))
	}
	if c.ConflictingIDs > c.Duplicates {
		errs = append(errs, fmt.Sprintf("conflicting ids %d > duplicates %d", c.ConflictingIDs, c.Duplicates))
	}
	if len(errs) > 0 {
		return fmt.Errorf("reference: counts do not reconcile: %s", strings.Join(errs, "; "))
	}
	return nil
}

// String formats the counts on one line each, reasons sorted.
func (c Counts) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "files              %d (%d bytes)\n", c.Files, c.Bytes)
	fmt.Fprintf(&b, "read               %d (blank lines skipped: %d)\n", c.Read, c.BlankLines)
	fmt.Fprintf(&b, "valid              %d\n", c.Valid)
	fmt.Fprintf(&b, "invalid            %d\n", c.Invalid)
	reasons := make([]string, 0, len(c.InvalidByReason))
	for r := range c.InvalidByReason {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "  %-24s %d\n", r, c.InvalidByReason[schemas.Reason(r)])
	}
	fmt.Fprintf(&b, "unique             %d\n", c.Unique)
	fmt.Fprintf(&b, "duplicates         %d (ids with differing copies: %d)\n", c.Duplicates, c.ConflictingIDs)
	fmt.Fprintf(&b, "outside_partition  %d\n", c.OutsidePartition)
	fmt.Fprintf(&b, "events             %d\n", c.Events)
	return b.String()
}

// Result is what Compute found: the counts and the rows of the three batch
// views, sorted (see the package doc).
type Result struct {
	From   civil.Date `json:"from"`
	To     civil.Date `json:"to"`
	Counts Counts     `json:"counts"`

	UserScoresDaily  []schemas.UserScoreDaily `json:"user_scores_daily"`
	TeamScoresHourly []schemas.TeamScore      `json:"team_scores_hourly"`
	GameStatsDaily   []schemas.GameStatsDaily `json:"game_stats_daily"`
}

// Options tune Compute. The zero value is ready to use.
type Options struct {
	// Workers is how many files are read and decoded at once; 0 means
	// runtime.GOMAXPROCS(0). 1 does all the work on the calling goroutine.
	// The result does not depend on it.
	Workers int
	// Lake is the lake dataset to read; the zero value means the
	// catalog's game_events lake.
	Lake catalog.Lake
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Lake.Name == "" {
		o.Lake, _ = catalog.Default().Lake(catalog.LakeGameEvents)
	}
	return o
}

// Compute reads the lake partitions of the event dates from through to
// (both included) under root and computes the batch views, with now as the
// time of processing for validation. See the package doc for the details.
func Compute(ctx context.Context, root string, from, to civil.Date, now time.Time) (Result, error) {
	return Options{}.Compute(ctx, root, from, to, now)
}

// Compute is the package-level Compute with these options.
func (o Options) Compute(ctx context.Context, root string, from, to civil.Date, now time.Time) (Result, error) {
	o = o.withDefaults()
	acc, err := NewAccumulator(from, to, now)
	if err != nil {
		return Result{}, err
	}
	root, err = cleanRoot(root)
	if err != nil {
		return Result{}, err
	}
	l, err := newLake(ctx, root, o.Lake)
	if err != nil {
		return Result{}, err
	}
	defer l.close()
	files, err := l.files(ctx, from, to)
	if err != nil {
		return Result{}, err
	}
	if err := l.read(ctx, files, now, o.Workers, acc); err != nil {
		return Result{}, err
	}
	return acc.Result(), nil
}

// Files lists the files Compute reads for the date range, sorted.
func (o Options) Files(ctx context.Context, root string, from, to civil.Date) ([]string, error) {
	o = o.withDefaults()
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	root, err := cleanRoot(root)
	if err != nil {
		return nil, err
	}
	l, err := newLake(ctx, root, o.Lake)
	if err != nil {
		return nil, err
	}
	defer l.close()
	return l.files(ctx, from, to)
}

func checkRange(from, to civil.Date) error {
	if !from.IsValid() || !to.IsValid() {
		return fmt.Errorf("reference: invalid date range %v..%v", from, to)
	}
	if to.Before(from) {
		return fmt.Errorf("reference: date range %v..%v ends before it starts", from, to)
	}
	return nil
}
