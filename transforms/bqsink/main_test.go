package bqsink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// One BigQuery emulator serves the package's tests (each test uses its own
// dataset); it starts on first use and stops after the last test.
var (
	emuOnce  sync.Once
	emuStack *localstack.Stack
	emuErr   error
)

func TestMain(m *testing.M) {
	code := ptest.MainRetWithDefault(m, "prism")
	if emuStack != nil {
		if err := emuStack.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the BigQuery emulator:", err)
		}
	}
	os.Exit(code)
}

// emulator returns the shared emulator, starting it if needed.
func emulator(t *testing.T) *localstack.Stack {
	t.Helper()
	emuOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		emuStack, emuErr = localstack.Start(ctx, localstack.Options{BigQuery: true})
	})
	if emuErr != nil {
		t.Fatalf("starting the BigQuery emulator: %v", emuErr)
	}
	return emuStack
}

// bqEnv is a dataset of its own on the shared emulator.
type bqEnv struct {
	st      *localstack.Stack
	client  *bigquery.Client
	dataset string
}

var (
	nonWord    = regexp.MustCompile(`[^A-Za-z0-9_]+`)
	datasetSeq atomic.Int64 // datasets stay for the emulator's lifetime (-count=N)
)

func newBQEnv(t *testing.T) *bqEnv {
	t.Helper()
	st := emulator(t)
	ctx := context.Background()
	client, err := st.GCPConfig().BigQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ds := fmt.Sprintf("t%d_%s", datasetSeq.Add(1), strings.ToLower(nonWord.ReplaceAllString(t.Name(), "_")))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Dataset(ds).Create(cctx, nil); err != nil {
		t.Fatalf("creating dataset %s: %v", ds, err)
	}
	return &bqEnv{st: st, client: client, dataset: ds}
}

// createTable creates dataset.name like the catalog's table ref (schema
// from its row type, its partitioning and clustering).
func (e *bqEnv) createTable(t *testing.T, name, ref string) string {
	t.Helper()
	ct, ok := catalog.Default().Table(ref)
	if !ok {
		t.Fatalf("no catalog table %s", ref)
	}
	schema, err := catalog.SchemaOf(ct.RowType)
	if err != nil {
		t.Fatal(err)
	}
	md := &bigquery.TableMetadata{Schema: schema}
	if p := ct.Partitioning; p != nil {
		md.TimePartitioning = &bigquery.TimePartitioning{Type: p.Granularity, Field: p.Field}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.client.Dataset(e.dataset).Table(name).Create(ctx, md); err != nil {
		t.Fatalf("creating %s.%s: %v", e.dataset, name, err)
	}
	return e.dataset + "." + name
}

// config is a Config for table on the emulator (or on endpoint, if given)
// with small, fast settings.
func (e *bqEnv) config(table string) Config {
	return Config{
		Project:   e.st.Project,
		Endpoint:  e.st.BigQueryEndpoint,
		Table:     table,
		Shards:    3,
		BatchRows: 4,
		Pipeline:  "test",
		RunID:     "run-1",
		Retry:     Retry{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, AttemptTimeout: 20 * time.Second, JobTimeout: 30 * time.Second},
	}
}

// readAll reads every row of the query into a slice of T.
func readAll[T any](t *testing.T, c *bigquery.Client, sql string) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := c.Query(sql).Read(ctx)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []T
	for {
		var r T
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		out = append(out, r)
	}
}

// tableNames lists the dataset's tables.
func (e *bqEnv) tableNames(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	it := e.client.Dataset(e.dataset).Tables(ctx)
	for {
		tb, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tb.TableID)
	}
	slices.Sort(out)
	return out
}

// counter sums a "railyard" counter over all steps.
func counter(pr beam.PipelineResult, name string) int64 {
	if pr == nil {
		return -1
	}
	res := pr.Metrics().Query(func(r metrics.SingleResult) bool {
		return r.Namespace() == MetricNamespace && r.Name() == name
	})
	var n int64
	for _, c := range res.Counters() {
		n += c.Result()
	}
	return n
}

// deadKey renders a dead letter without its time, for comparisons.
func deadKey(d schemas.DeadLetter) string {
	return strings.Join([]string{d.Pipeline, d.RunID, d.Stage, d.Reason, d.Source, string(d.Payload)}, "|")
}

// reasonDetail renders a dead letter's reason, detail and source.
func reasonDetail(d schemas.DeadLetter) string { return d.Reason + "|" + d.Detail + "|" + d.Source }

// countKey renders a PartitionCount for comparisons.
func countKey(c PartitionCount) string { return fmt.Sprintf("%s %s %d", c.Table, c.Partition, c.Rows) }

func init() {
	register.Function1x1(deadKey)
	register.Function1x1(reasonDetail)
	register.Function1x1(countKey)
}

// sortedCopy sorts a copy of rows by their %v rendering.
func sortedCopy[T any](rows []T) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%+v", r)
	}
	slices.Sort(out)
	return out
}

func equalRows[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	g, w := sortedCopy(got), sortedCopy(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: got %d rows, want %d\n got: %s\nwant: %s", what, len(g), len(w), strings.Join(g, "\n      "), strings.Join(w, "\n      "))
	}
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
