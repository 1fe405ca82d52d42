package reconcile

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/railyard-dev/railyard/transforms"
)

// Counters sums a pipeline's committed railyard counters by name (a counter
// used by several steps appears once per step). A result without metrics
// (nil, or the result of a failed or cancelled run, whose Metrics
// dereferences nil in the universal runner) gives no counters.
func Counters(res beam.PipelineResult) (out map[string]int64) {
	out = map[string]int64{}
	if res == nil {
		return out
	}
	defer func() {
		if recover() != nil {
			out = map[string]int64{}
		}
	}()
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Key.Namespace != transforms.MetricsNamespace {
			continue
		}
		v := c.Committed
		if v == 0 {
			v = c.Attempted
		}
		out[c.Key.Name] += v
	}
	return out
}

// Reconciliation is the end-of-run account the job prints and checks.
type Reconciliation struct {
	Read, Valid, Invalid, Unique, Duplicates int64
	InvalidByReason                          map[string]int64
	DeadLettersWritten                       int64
	// RowsWritten is keyed by "dataset.table partition".
	RowsWritten map[string]int64
	Problems    []string
}

// Of checks the counters c of a run (Counters) with the rows and dead
// letters it wrote: rowsWritten is keyed by "dataset.table partition".
func Of(c map[string]int64, rowsWritten map[string]int64, deadWritten int64) Reconciliation {
	r := Reconciliation{
		Read:               c[transforms.MetricRead],
		Valid:              c[transforms.MetricValid],
		Invalid:            c[transforms.MetricInvalid],
		Unique:             c[transforms.MetricUnique],
		Duplicates:         c[transforms.MetricDuplicates],
		InvalidByReason:    map[string]int64{},
		DeadLettersWritten: deadWritten,
		RowsWritten:        rowsWritten,
	}
	for name, v := range c {
		if reason, ok := strings.CutPrefix(name, transforms.MetricInvalidPrefix); ok && v > 0 {
			r.InvalidByReason[reason] = v
		}
	}
	if r.Read != r.Valid+r.Invalid {
		r.Problems = append(r.Problems, fmt.Sprintf("read %d != valid %d + invalid %d", r.Read, r.Valid, r.Invalid))
	}
	if r.Valid != r.Unique+r.Duplicates {
		r.Problems = append(r.Problems, fmt.Sprintf("valid %d != unique %d + duplicates %d", r.Valid, r.Unique, r.Duplicates))
	}
	var byReason int64
	for _, v := range r.InvalidByReason {
		byReason += v
	}
	if byReason != r.Invalid {
		r.Problems = append(r.Problems, fmt.Sprintf("invalid %d != sum over reasons %d", r.Invalid, byReason))
	}
	if r.DeadLettersWritten < r.Invalid {
		r.Problems = append(r.Problems, fmt.Sprintf("%d invalid inputs but only %d dead letters written", r.Invalid, r.DeadLettersWritten))
	}
	return r
}

// OK reports whether every check passed.
func (r Reconciliation) OK() bool { return len(r.Problems) == 0 }

// Print writes the account, one figure per line.
func (r Reconciliation) Print(w io.Writer) {
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISMATCH"
	}
	fmt.Fprintf(w, "read    %d = valid %d + invalid %d  %s\n", r.Read, r.Valid, r.Invalid, mark(r.Read == r.Valid+r.Invalid))
	fmt.Fprintf(w, "valid   %d = unique %d + duplicates %d  %s\n", r.Valid, r.Unique, r.Duplicates, mark(r.Valid == r.Unique+r.Duplicates))
	reasons := make([]string, 0, len(r.InvalidByReason))
	for k := range r.InvalidByReason {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		fmt.Fprintf(w, "  invalid %-24s %d\n", k, r.InvalidByReason[k])
	}
	fmt.Fprintf(w, "dead letters written to ops.dead_letters: %d\n", r.DeadLettersWritten)
	keys := make([]string, 0, len(r.RowsWritten))
	for k := range r.RowsWritten {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "rows written %-44s %d\n", k, r.RowsWritten[k])
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "RECONCILIATION FAILED: %s\n", p)
	}
}
