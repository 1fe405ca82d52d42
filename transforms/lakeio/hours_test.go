package lakeio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/transforms"
)

// The hour partitions a test pipeline saw, by test key.
var (
	partitionsMu sync.Mutex
	partitionsOf = map[string][]HourPartition{}
)

// readPartitionFn records each partition and emits its lines with
// HourPartition.Read, as a DoFn that processes a whole hour would.
type readPartitionFn struct {
	Key string `json:"key"`
}

func (fn *readPartitionFn) ProcessElement(ctx context.Context, p HourPartition, emit func(transforms.Raw)) error {
	partitionsMu.Lock()
	partitionsOf[fn.Key] = append(partitionsOf[fn.Key], p)
	partitionsMu.Unlock()
	return p.Read(ctx, emit)
}

func init() {
	register.DoFn3x1[context.Context, HourPartition, func(transforms.Raw), error](&readPartitionFn{})
}

// readHours runs ReadHourPartitions + HourPartition.Read and returns the
// lines (as run does), the partitions sorted by directory, and the result.
func readHours(t *testing.T, root string, dates []civil.Date, opts ...Option) (map[string]string, []HourPartition, beam.PipelineResult, error) {
	t.Helper()
	key := t.Name()
	outs, res, err := run(t, func(s beam.Scope) []beam.PCollection {
		return one(beam.ParDo(s, &readPartitionFn{Key: key}, ReadHourPartitions(s, root, dates, opts...)))
	})
	partitionsMu.Lock()
	parts := partitionsOf[key]
	delete(partitionsOf, key)
	partitionsMu.Unlock()
	slices.SortFunc(parts, func(a, b HourPartition) int { return strings.Compare(a.Dir, b.Dir) })
	return outs[0], parts, res, err
}

// TestReadHourPartitions: one element per hour directory with its files in
// path order, and exactly the lines, blank-line counts and file counts of
// Read, for generated files and for every line-format corner case.
func TestReadHourPartitions(t *testing.T) {
	root := t.TempDir()
	lake := writeLake(t, root, 5000)
	files := filesOf(lake.Lake.Files, day1)
	dir := filepath.Join(root, "game_events", "dt="+day1.String())
	extra := map[string][]byte{
		"hr=05/x.jsonl":         []byte("\uFEFF{\"event_id\":\"bom\"}\r\n\r\n{\"event_id\":\"crlf\"}\r\n  \nlast"),
		"hr=05/y.csv.gz":        append(gz(t, []byte("u1,t,1,1793491200000,x\n")), gz(t, []byte("\nu2,t,2,1793491200001,x"))...),
		"hr=05/.z.jsonl.gz.tmp": []byte("garbage"),
		"hr=05/_SUCCESS":        nil,
	}
	for name, content := range extra {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if b := filepath.Base(p); b[0] != '.' && b[0] != '_' {
			files = append(files, p)
		}
	}
	want, blank := expected(t, files)

	got, parts, res, err := readHours(t, root, []civil.Date{day1, day1, {Year: 2026, Month: 12, Day: 25}})
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, want)
	for name, n := range map[string]int64{MetricLines: int64(len(want)), MetricBlankLines: int64(blank), MetricFiles: int64(len(files))} {
		if c := counter(t, res, name); c != n {
			t.Errorf("%s = %d, want %d", name, c, n)
		}
	}

	// The partitions: the 24 hours of the date, each with its files sorted.
	byDir := map[string][]string{}
	for _, f := range files {
		byDir[filepath.Dir(f)] = append(byDir[filepath.Dir(f)], f)
	}
	if len(parts) != 24 || len(byDir) != 24 {
		t.Fatalf("got %d partitions, the lake has %d hour directories for %s (want 24)", len(parts), len(byDir), day1)
	}
	for i, p := range parts {
		wantHour := fmt.Sprintf("%02d", i)
		var paths []string
		for _, f := range p.Files {
			paths = append(paths, f.Path)
			if f.Gzip != strings.HasSuffix(f.Path, ".gz") || f.Size <= 0 {
				t.Errorf("file %+v", f)
			}
		}
		wantPaths := byDir[p.Dir]
		slices.Sort(wantPaths)
		if p.Dir != filepath.Join(dir, "hr="+wantHour) || p.Date != day1.String() || p.Hour != wantHour ||
			!reflect.DeepEqual(paths, wantPaths) || p.MaxLineBytes != DefaultMaxLineBytes {
			t.Errorf("partition %d = %+v, want dir %s, files %v", i, p, filepath.Join(dir, "hr="+wantHour), wantPaths)
		}
	}

	// A line longer than WithMaxLineBytes fails, naming the file.
	_, _, _, err = readHours(t, root, []civil.Date{day1}, WithMaxLineBytes(100))
	if err == nil || !strings.Contains(err.Error(), "is longer than 100 bytes") {
		t.Errorf("long line: err = %v", err)
	}
	// A missing root fails, as in Read.
	_, _, _, err = readHours(t, filepath.Join(root, "nope"), []civil.Date{day1})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing root: err = %v", err)
	}
}

// TestReadHourPartitionsGCS reads hour partitions from fake GCS: an
// uncompressed file and gzip files, through the same range reads as Read.
func TestReadHourPartitionsGCS(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"hours-b"}})
	stack.SetEnvForTest(t)
	root := "gs://hours-b/lake"
	lake := writeLake(t, root, 2000)
	files := filesOf(lake.Lake.Files, day1)
	plain := root + "/game_events/dt=" + day1.String() + "/hr=07/plain.jsonl"
	put(t, plain, []byte("{\"event_id\":\"p1\"}\n\n{\"event_id\":\"p2\"}"))
	files = append(files, plain)
	want, blank := expected(t, files)
	got, parts, res, err := readHours(t, root, []civil.Date{day1})
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, want)
	if c := counter(t, res, MetricBlankLines); c != int64(blank) || blank == 0 {
		t.Errorf("lake_blank_lines = %d, want %d (> 0)", c, blank)
	}
	if len(parts) != 24 || parts[7].Hour != "07" || !slices.ContainsFunc(parts[7].Files, func(f File) bool { return f.Path == plain && !f.Gzip }) {
		t.Errorf("partitions: %d, hour 7 = %+v", len(parts), parts[7])
	}
}
