package lakeio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
)

var day1 = civil.Date{Year: 2026, Month: 11, Day: 1}

// run builds a pipeline with build, runs it and returns what each
// collection returned by build held (Source → payload; a repeated Source
// fails the test), and the result.
func run(t *testing.T, build func(s beam.Scope) []beam.PCollection) ([]map[string]string, beam.PipelineResult, error) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	cols := build(s)
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = fmt.Sprintf("%s#%d", t.Name(), i)
		testkit.Collect(s, keys[i], c)
	}
	res, err := ptest.RunWithMetrics(p)
	outs := make([]map[string]string, len(cols))
	for i, k := range keys {
		outs[i] = map[string]string{}
		for _, r := range testkit.Take[transforms.Raw](t, k) {
			if _, dup := outs[i][r.Source]; dup {
				t.Errorf("%s read twice", r.Source)
			}
			if len(r.Attributes) != 0 {
				t.Errorf("%s has attributes %v", r.Source, r.Attributes)
			}
			outs[i][r.Source] = string(r.Payload)
		}
	}
	return outs, res, err
}

func mustRun(t *testing.T, build func(s beam.Scope) []beam.PCollection) ([]map[string]string, beam.PipelineResult) {
	t.Helper()
	outs, res, err := run(t, build)
	if err != nil {
		t.Fatalf("pipeline failed: %v", err)
	}
	return outs, res
}

func one(c beam.PCollection) []beam.PCollection { return []beam.PCollection{c} }

// counter returns the committed (else attempted) value of a railyard counter.
func counter(t *testing.T, res beam.PipelineResult, name string) int64 {
	t.Helper()
	if res == nil {
		t.Fatalf("no metrics")
	}
	q := res.Metrics().Query(func(r metrics.SingleResult) bool {
		return r.Namespace() == transforms.MetricsNamespace && r.Name() == name
	})
	var v int64
	for _, c := range q.Counters() {
		v += c.Result()
	}
	return v
}

// contents returns the decompressed bytes of a local or gs:// file.
func contents(t *testing.T, path string) []byte {
	t.Helper()
	ctx := context.Background()
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	rc, err := fsys.OpenRead(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// expected reads files directly: Source → payload, and blank lines.
func expected(t *testing.T, paths []string) (map[string]string, int) {
	t.Helper()
	want := map[string]string{}
	blank := 0
	for _, p := range paths {
		m, b := refLines(p, contents(t, p))
		maps.Copy(want, m)
		blank += b
	}
	return want, blank
}

func checkSame(t *testing.T, got, want map[string]string) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	missing, extra, diff := 0, 0, 0
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			if missing++; missing <= 3 {
				t.Errorf("missing %s %.80q", k, v)
			}
		case g != v:
			if diff++; diff <= 3 {
				t.Errorf("%s: got %.80q, want %.80q", k, g, v)
			}
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			if extra++; extra <= 3 {
				t.Errorf("unexpected %s %.80q", k, v)
			}
		}
	}
	t.Errorf("got %d lines, want %d: %d missing, %d unexpected, %d different", len(got), len(want), missing, extra, diff)
}

// spotCheckOffsets checks a few Sources independently: the payload is at
// that offset of the decompressed file, at the start of a line.
func spotCheckOffsets(t *testing.T, got map[string]string, n int) {
	t.Helper()
	for src, payload := range got {
		if n--; n < 0 {
			return
		}
		i := strings.LastIndexByte(src, ':')
		path := src[:i]
		off, err := strconv.Atoi(src[i+1:])
		if err != nil {
			t.Fatalf("Source %q: %v", src, err)
		}
		b := contents(t, path)
		if off > 0 && b[off-1] != '\n' {
			t.Errorf("%s: offset is not at the start of a line", src)
		}
		if !bytes.HasPrefix(b[off:], []byte(payload)) {
			t.Errorf("%s: file does not hold the payload at that offset", src)
		}
	}
}

func filesOf(files []string, date civil.Date) []string {
	var out []string
	for _, f := range files {
		if strings.Contains(filepath.ToSlash(f), "/dt="+date.String()+"/") {
			out = append(out, f)
		}
	}
	return out
}

func writeLake(t *testing.T, root string, events int64) gen.LakeResult {
	t.Helper()
	cfg := gen.DefaultConfig()
	cfg.Events = events
	cfg.Hours = 48
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gen.WriteLake(context.Background(), g, root, gen.LakeOptions{EventsPerFile: 400}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func put(t *testing.T, path string, content []byte) {
	t.Helper()
	ctx := context.Background()
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	w, err := fsys.OpenWrite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func gz(t *testing.T, content []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadLocalLake(t *testing.T) {
	root := t.TempDir()
	lake := writeLake(t, root, 5000)
	files1 := filesOf(lake.Lake.Files, day1)
	files2 := filesOf(lake.Lake.Files, day1.AddDays(1))
	if len(files1) < 2 || len(files2) < 2 {
		t.Fatalf("generated %d files for %v and %d for the next day", len(files1), day1, len(files2))
	}
	want1, _ := expected(t, files1)
	want2, _ := expected(t, files2)
	var bytes1 int64
	for _, f := range files1 {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		bytes1 += st.Size()
	}

	outs, res := mustRun(t, func(s beam.Scope) []beam.PCollection {
		return one(Read(s, root, []civil.Date{day1, day1})) // repeated dates read once
	})
	checkSame(t, outs[0], want1)
	for src := range outs[0] {
		if !strings.Contains(src, "/dt="+day1.String()+"/") {
			t.Errorf("line of another date: %s", src)
		}
	}
	spotCheckOffsets(t, outs[0], 20)
	for name, want := range map[string]int64{
		MetricFiles: int64(len(files1)), MetricBytes: bytes1, MetricLines: int64(len(want1)), MetricBlankLines: 0,
	} {
		if got := counter(t, res, name); got != want {
			t.Errorf("metric %s = %d, want %d", name, got, want)
		}
	}

	// A range, from a relative root.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, root)
	if err != nil {
		t.Fatal(err)
	}
	outs, _ = mustRun(t, func(s beam.Scope) []beam.PCollection {
		return one(ReadRange(s, rel, day1, day1.AddDays(1)))
	})
	want := maps.Clone(want1)
	maps.Copy(want, want2)
	checkSame(t, outs[0], want)
}

func TestReadGCSLake(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"lake-b"}})
	stack.SetEnvForTest(t)
	root := "gs://lake-b/lake"
	lake := writeLake(t, root, 3000)
	files := filesOf(lake.Lake.Files, day1)
	// An uncompressed file read in pieces through range requests, and
	// files that are skipped.
	var plain bytes.Buffer
	for i := 0; plain.Len() < 40_000; i++ {
		fmt.Fprintf(&plain, "{\"event_id\":\"x%d\",\"pad\":%q}\r\n", i, strings.Repeat("z", i%200))
		if i%50 == 0 {
			plain.WriteString("\r\n")
		}
	}
	plain.WriteString(`{"event_id":"last"}`)
	dir := root + "/game_events/dt=" + day1.String() + "/hr=23/"
	put(t, dir+"extra.jsonl", plain.Bytes())
	put(t, dir+"_SUCCESS", nil)
	put(t, dir+".part-x.jsonl.gz.tmp", []byte("not gzip"))
	files = append(files, dir+"extra.jsonl")
	want, blank := expected(t, files)

	outs, res := mustRun(t, func(s beam.Scope) []beam.PCollection {
		// 2026-12-25 has no partition: no lines, no error.
		return one(Read(s, root+"/", []civil.Date{day1, {Year: 2026, Month: 12, Day: 25}}, WithSplitSize(4096)))
	})
	checkSame(t, outs[0], want)
	spotCheckOffsets(t, outs[0], 10)
	if got := counter(t, res, MetricLines); got != int64(len(want)) {
		t.Errorf("lake_lines = %d, want %d", got, len(want))
	}
	if got := counter(t, res, MetricBlankLines); got != int64(blank) || blank == 0 {
		t.Errorf("lake_blank_lines = %d, want %d (> 0)", got, blank)
	}
	if got := counter(t, res, MetricFiles); got != int64(len(files)) {
		t.Errorf("lake_files = %d, want %d", got, len(files))
	}

	ctx := context.Background()
	if err := CheckRoot(ctx, root); err != nil {
		t.Errorf("CheckRoot(%s): %v", root, err)
	}
	for r, msg := range map[string]string{
		"gs://lake-b/nope":                 "lake root gs://lake-b/nope does not exist",
		"gs://no-such-bucket/lake":         `there is no bucket "no-such-bucket"`,
		"gs://lake-b/lake/game_events":     "has no game_events/ directory",
		"gs://lake-b/lake/game_events/dt=": "does not exist",
	} {
		if err := CheckRoot(ctx, r); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("CheckRoot(%s) = %v, want %q", r, err, msg)
		}
	}
	_, _, err := run(t, func(s beam.Scope) []beam.PCollection {
		return one(Read(s, "gs://lake-b/nope", []civil.Date{day1}))
	})
	if err == nil || !strings.Contains(err.Error(), "lake root gs://lake-b/nope does not exist") {
		t.Errorf("missing gs:// root: err = %v", err)
	}
}

// TestReadFormats: CSV and JSON lines, gzip and not, CRLF, a multi-member
// gzip file, a file split into many pieces; hidden files skipped.
func TestReadFormats(t *testing.T) {
	root := t.TempDir()
	date := civil.Date{Year: 2026, Month: 11, Day: 4}
	dir := filepath.Join(root, "game_events", "dt="+date.String())
	var big bytes.Buffer
	for i := 0; big.Len() < 300_000; i++ {
		if i%41 == 0 {
			big.WriteString("\n")
		}
		fmt.Fprintf(&big, "user%d,team%d,%d,%d,2026-11-04 00:00:00.000\r\n", i, i%7, i%100, 1793750400000+int64(i))
	}
	big.WriteString("lastuser,team1,1,1793750400000,2026-11-04 00:00:00.000")
	csvLines := []byte("user1,team1,5,1793750400000,2026-11-04 00:00:00.000\r\nuser2,team2,6,1793750400001,2026-11-04 00:00:00.001\r\n")
	jsonLines := []byte("{\"event_id\":\"j1\"}\n\n{\"event_id\":\"j2\"}\n")
	files := map[string][]byte{
		"hr=00/big.csv":         big.Bytes(),
		"hr=00/small.csv.gz":    gz(t, csvLines),
		"hr=01/a.json":          jsonLines,
		"hr=01/b.json.gz":       gz(t, jsonLines),
		"hr=02/c.gz":            append(gz(t, []byte("m1\nm2\n")), gz(t, []byte("m3\nm4"))...), // two gzip members
		"hr=02/d.jsonl":         []byte("\uFEFF{\"event_id\":\"bom\"}\n"),
		"hr=02/e.ndjson":        nil,                // empty file: nothing
		"hr=03/f.txt":           []byte("  \n\t\n"), // whitespace-only lines are emitted
		"hr=03/.hidden.jsonl":   []byte("hidden\n"),
		"hr=03/_SUCCESS":        nil,
		"hr=03/.x.jsonl.gz.tmp": []byte("garbage"),
	}
	var paths []string
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if b := filepath.Base(p); b[0] != '.' && b[0] != '_' {
			paths = append(paths, p)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "hr=03", "subdir"), 0o755); err != nil { // skipped
		t.Fatal(err)
	}
	want, blank := expected(t, paths)
	outs, res := mustRun(t, func(s beam.Scope) []beam.PCollection {
		return one(Read(s, root, []civil.Date{date}, WithSplitSize(8192)))
	})
	checkSame(t, outs[0], want)
	if got := counter(t, res, MetricBlankLines); got != int64(blank) {
		t.Errorf("lake_blank_lines = %d, want %d", got, blank)
	}
	if got := counter(t, res, MetricFiles); got != int64(len(paths)) {
		t.Errorf("lake_files = %d, want %d", got, len(paths))
	}
	if got := outs[0][filepath.Join(dir, "hr=02", "d.jsonl")+":3"]; got != `{"event_id":"bom"}` {
		t.Errorf("line after BOM = %q", got)
	}
	if got := outs[0][filepath.Join(dir, "hr=02", "c.gz")+":6"]; got != "m3" {
		t.Errorf("second gzip member: line at 6 = %q", got)
	}
}

// TestReadLongLines reads lines longer than 16 MiB, plain and gzip.
func TestReadLongLines(t *testing.T) {
	if testing.Short() {
		t.Skip("long lines: -short")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "game_events", "dt="+day1.String(), "hr=05")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 16<<20+12345)
	for i := range long {
		long[i] = 'a' + byte(i*7%26)
	}
	content := append(append([]byte("first\n"), long...), "\r\nlast\n"...)
	if err := os.WriteFile(filepath.Join(dir, "long.jsonl"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "long.jsonl.gz"), gz(t, content), 0o644); err != nil {
		t.Fatal(err)
	}
	outs, _ := mustRun(t, func(s beam.Scope) []beam.PCollection {
		return one(Read(s, root, []civil.Date{day1}, WithSplitSize(1<<20)))
	})
	for _, name := range []string{"long.jsonl", "long.jsonl.gz"} {
		p := filepath.Join(dir, name)
		if got := outs[0][p+":6"]; got != string(long) {
			t.Errorf("%s: long line has %d bytes, want %d (equal: %v)", name, len(got), len(long), got == string(long))
		}
		if got := outs[0][p+":0"]; got != "first" {
			t.Errorf("%s: first line %q", name, got)
		}
		if got := outs[0][p+":"+strconv.Itoa(6+len(long)+2)]; got != "last" {
			t.Errorf("%s: last line %q", name, got)
		}
	}
	if len(outs[0]) != 6 {
		t.Errorf("got %d lines, want 6", len(outs[0]))
	}
}

func TestReadCorruptGzip(t *testing.T) {
	good := gz(t, []byte(strings.Repeat("{\"event_id\":\"e\"}\n", 2000)))
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-6] ^= 0xFF
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"truncated.jsonl.gz": good[:len(good)-10],
		"badcrc.jsonl.gz":    badCRC,
		"notgzip.jsonl.gz":   []byte("{\"event_id\":\"e\"}\n"),
		"empty.jsonl.gz":     nil,
	} {
		f := writeFile(t, dir, name, content)
		fn := &readFn{SplitSize: DefaultSplitSize, MaxLineBytes: DefaultMaxLineBytes}
		err := fn.ProcessElement(context.Background(), fn.CreateTracker(fn.CreateInitialRestriction(f)), f, func(transforms.Raw) {})
		if err == nil || !strings.Contains(err.Error(), f.Path) || !strings.Contains(err.Error(), "corrupt gzip stream") {
			t.Errorf("%s: err = %v, want a corrupt gzip error naming the file", name, err)
		}
	}

	// Through a pipeline: the job fails and says which file.
	root := t.TempDir()
	hr := filepath.Join(root, "game_events", "dt="+day1.String(), "hr=07")
	if err := os.MkdirAll(hr, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hr, "ok.jsonl.gz"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(hr, "part-bad.jsonl.gz")
	if err := os.WriteFile(bad, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, func(s beam.Scope) []beam.PCollection {
		return one(Read(s, root, []civil.Date{day1}))
	})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "corrupt gzip stream") {
		t.Errorf("pipeline err = %v, want corrupt gzip naming %s", err, bad)
	}
}

func TestReadMissingDateAndRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "game_events", "dt="+day1.String(), "hr=00"), 0o755); err != nil {
		t.Fatal(err)
	}
	outs, res := mustRun(t, func(s beam.Scope) []beam.PCollection {
		// day1 has an empty hour directory, the next day nothing at all.
		return one(Read(s, root, []civil.Date{day1, day1.AddDays(1)}))
	})
	if len(outs[0]) != 0 || counter(t, res, MetricLines) != 0 {
		t.Errorf("got %d lines, want none", len(outs[0]))
	}

	missing := filepath.Join(root, "nope")
	_, _, err := run(t, func(s beam.Scope) []beam.PCollection {
		return one(Read(s, missing, []civil.Date{day1}))
	})
	if err == nil || !strings.Contains(err.Error(), "lake root "+missing+" does not exist") {
		t.Errorf("missing root: err = %v", err)
	}

	ctx := context.Background()
	if err := CheckRoot(ctx, root); err != nil {
		t.Errorf("CheckRoot(%s) = %v", root, err)
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for r, msg := range map[string]string{
		missing:                               "does not exist",
		file:                                  "is not a directory",
		filepath.Join(root, "game_events"):    "has no game_events/ directory",
		"":                                    "lake root is empty",
		"s3://b/x":                            "only local directories and gs://",
		"gs:///x":                             "has no bucket",
		filepath.Join(root, "game_events*"):   "glob characters",
		filepath.Join(root, "game_events/.."): "", // cleaned to root: fine
	} {
		err := CheckRoot(ctx, r)
		if msg == "" && err != nil || msg != "" && (err == nil || !strings.Contains(err.Error(), msg)) {
			t.Errorf("CheckRoot(%q) = %v, want %q", r, err, msg)
		}
	}
}

func TestReadGlob(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(dir, "a.log")
	b := filepath.Join(dir, "b.csv")
	for p, c := range map[string]string{a: "a1\na2\n", b: "b1\r\nb2"} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outs, _ := mustRun(t, func(s beam.Scope) []beam.PCollection {
		return []beam.PCollection{
			ReadGlob(s, filepath.Join(dir, "*.csv")),
			ReadGlob(s, filepath.Join(dir, "*.log"), WithCompression(CompressionNone)),
			ReadGlob(s, filepath.Join(dir, "*.none"), AllowEmpty()),
			ReadAll(s, beam.Create(s, filepath.Join(dir, "b*"), a), WithCompression(CompressionNone)),
		}
	})
	for i, want := range []map[string]string{
		{b + ":0": "b1", b + ":4": "b2"},
		{a + ":0": "a1", a + ":3": "a2"},
		{},
		{a + ":0": "a1", a + ":3": "a2", b + ":0": "b1", b + ":4": "b2"},
	} {
		if !maps.Equal(outs[i], want) {
			t.Errorf("read %d: got %v, want %v", i, outs[i], want)
		}
	}

	// Matching on its own: errors name the glob or the file.
	ctx := context.Background()
	for _, c := range []struct {
		fn   matchFn
		glob string
		msg  string
	}{
		{matchFn{}, filepath.Join(dir, "*.none"), "no file matches " + filepath.Join(dir, "*.none")},
		{matchFn{}, filepath.Join(dir, "*"), a + ": unsupported file type"},
	} {
		err := c.fn.ProcessElement(ctx, matchSpec{Glob: c.glob}, func(lakeFile) {})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("match %s: err = %v, want %q", c.glob, err, c.msg)
		}
	}
}

func TestConstructionErrors(t *testing.T) {
	_, s := beam.NewPipelineWithRoot()
	for name, err := range map[string]error{
		"no dates":     func() error { _, err := TryRead(s, "/tmp", nil); return err }(),
		"bad date":     func() error { _, err := TryRead(s, "/tmp", []civil.Date{{Year: 2026, Month: 2, Day: 30}}); return err }(),
		"empty root":   func() error { _, err := TryRead(s, " ", []civil.Date{day1}); return err }(),
		"split size":   func() error { _, err := TryRead(s, "/tmp", []civil.Date{day1}, WithSplitSize(0)); return err }(),
		"max line":     func() error { _, err := TryRead(s, "/tmp", []civil.Date{day1}, WithMaxLineBytes(-1)); return err }(),
		"empty glob":   func() error { _, err := TryReadGlob(s, ""); return err }(),
		"scheme":       func() error { _, err := TryReadGlob(s, "nosuch://x/*"); return err }(),
		"gs ?":         func() error { _, err := TryReadGlob(s, "gs://b/x/?.gz"); return err }(),
		"gs [":         func() error { _, err := TryReadGlob(s, "gs://b/x/[ab]*.gz"); return err }(),
		"range":        func() error { _, err := Dates(day1, day1.AddDays(-1)); return err }(),
		"invalid lake": func() error { _, err := TryRead(s, "/tmp", []civil.Date{day1}, WithLake(catalog.Lake{})); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := TryReadGlob(s, "gs://b/x/*[ab].gz"); err != nil {
		t.Errorf("gs://b/x/*[ab].gz: %v", err)
	}
	ds, err := Dates(civil.Date{Year: 2026, Month: 2, Day: 27}, civil.Date{Year: 2026, Month: 3, Day: 1})
	if err != nil || len(ds) != 3 || ds[2] != (civil.Date{Year: 2026, Month: 3, Day: 1}) {
		t.Errorf("Dates = %v, %v", ds, err)
	}
	lake, _ := catalog.Default().Lake(catalog.LakeGameEvents)
	if got, want := DateGlob("gs://b/p", lake, day1), "gs://b/p/game_events/dt=2026-11-01/hr=*/*"; got != want {
		t.Errorf("DateGlob = %q, want %q", got, want)
	}
	if got, want := DateGlob("/l", lake, day1), "/l/game_events/dt=2026-11-01/hr=*/*"; got != want {
		t.Errorf("DateGlob = %q, want %q", got, want)
	}
}
