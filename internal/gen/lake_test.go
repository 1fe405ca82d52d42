package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

var partName = regexp.MustCompile(`^part-s-?\d+-\d{5}\.jsonl\.gz$`)

// expected returns "partition dir \t line" for every record of c, sorted.
func expected(t testing.TB, c Config) []string {
	lake, _ := catalog.Default().Lake(catalog.LakeGameEvents)
	var out []string
	for r := range mustNew(t, c).Records() {
		out = append(out, lake.PartitionDir(r.PartitionTime())+"\t"+string(r.Line))
	}
	slices.Sort(out)
	return out
}

// readLake reads every part file under root back as "partition dir \t
// line", sorted, and checks each file's name, gzip header and line count.
func readLake(t testing.TB, root string, files []string, perFile int) []string {
	t.Helper()
	ctx := context.Background()
	fs, err := filesystem.New(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	lake, _ := catalog.Default().Lake(catalog.LakeGameEvents)
	var out []string
	for _, f := range files {
		if !partName.MatchString(path.Base(filepath.ToSlash(f))) {
			t.Errorf("file %s: unexpected name", f)
		}
		rel := strings.TrimPrefix(filepath.ToSlash(f), filepath.ToSlash(root)+"/")
		dir := path.Dir(rel)
		if _, err := lake.ParsePartition(rel); err != nil {
			t.Errorf("file %s: %v", f, err)
		}
		rc, err := fs.OpenRead(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !zr.ModTime.IsZero() || zr.Name != "" {
			t.Errorf("%s: gzip header has mtime %v, name %q", f, zr.ModTime, zr.Name)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Text()
			out = append(out, dir+"\t"+line)
			// Independent check of the partition: a decodable line sits
			// in the hour of its own event time.
			if ev, err := schemas.DecodeLine([]byte(line), ev0End); err == nil {
				if got := lake.PartitionDir(ev.EventTime); got != dir {
					t.Errorf("%s: line with event time %s is in %s, want %s", f, ev.EventTime, dir, got)
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rc.Close()
		if n == 0 || n > perFile {
			t.Errorf("%s: %d lines, want 1..%d", f, n, perFile)
		}
	}
	slices.Sort(out)
	return out
}

// ev0End is a processing time after every generated event of the tests.
var ev0End = DefaultStart.AddDate(1, 0, 0)

func TestGenWriteLakeLocal(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			c := testConfig(format, 50_000)
			c.Hours = 4
			c.InvalidRate = 0.05
			dir := t.TempDir()
			var calls int
			res, err := WriteLake(context.Background(), mustNew(t, c), dir, LakeOptions{EventsPerFile: 2_000},
				func(Progress) { calls++ })
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Summary.Check(); err != nil {
				t.Fatal(err)
			}
			if res.Summary.Lines != c.Events || res.Lake.Lines != c.Events {
				t.Fatalf("summary %d lines, lake %d lines, want %d", res.Summary.Lines, res.Lake.Lines, c.Events)
			}
			if calls < 2 {
				t.Errorf("progress called %d times", calls)
			}
			// 4 arrival hours; late events reach back into earlier hours only.
			if len(res.Lake.Partitions) != 4 {
				t.Errorf("partitions %v, want 4", res.Lake.Partitions)
			}
			if len(res.Lake.Files) < int(c.Events)/2000 {
				t.Errorf("only %d files for %d lines at 2000 per file", len(res.Lake.Files), c.Events)
			}
			got := readLake(t, dir, res.Lake.Files, 2_000)
			if want := expected(t, c); !slices.Equal(got, want) {
				t.Fatalf("lake holds %d lines, want %d (or they differ)", len(got), len(want))
			}
			// Nothing else is left behind (no temporary files).
			var all []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					all = append(all, p)
				}
				return err
			})
			slices.Sort(all)
			if !slices.Equal(all, res.Lake.Files) {
				t.Errorf("files on disk %d, reported %d: %v", len(all), len(res.Lake.Files), all)
			}

			// A second run writes byte-identical files.
			dir2 := t.TempDir()
			if _, err := WriteLake(context.Background(), mustNew(t, c), dir2, LakeOptions{EventsPerFile: 2_000}, nil); err != nil {
				t.Fatal(err)
			}
			if a, b := treeDigest(t, dir), treeDigest(t, dir2); a != b {
				t.Fatal("two runs wrote different files")
			}
		})
	}
}

func treeDigest(t *testing.T, root string) [32]byte {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		h.Write([]byte(rel + "\x00"))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func TestGenWriteLakeFewOpenFiles(t *testing.T) {
	// One open file at a time and many late events: every switch of
	// partition closes a file, and no line may be lost.
	c := testConfig(FormatJSON, 8_000)
	c.Hours, c.LateRate = 3, 0.3
	dir := t.TempDir()
	res, err := WriteLake(context.Background(), mustNew(t, c), dir, LakeOptions{MaxOpenFiles: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Lake.Files) < 50 {
		t.Errorf("only %d files; expected one per partition switch", len(res.Lake.Files))
	}
	if got, want := readLake(t, dir, res.Lake.Files, DefaultEventsPerFile), expected(t, c); !slices.Equal(got, want) {
		t.Fatalf("lake holds %d lines, want %d (or they differ)", len(got), len(want))
	}
}

func TestGenWriteLakeCancel(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop here")
	c := testConfig(FormatJSON, 200_000)
	dir := t.TempDir()
	_, err := WriteLake(ctx, mustNew(t, c), dir, LakeOptions{EventsPerFile: 10_000}, func(p Progress) {
		if p.Written >= 50_000 {
			cancel(stop)
		}
	})
	if !errors.Is(err, stop) {
		t.Fatalf("WriteLake: %v, want %v", err, stop)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".tmp") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return err
	})
}

func TestGenWriteLakeBadRoot(t *testing.T) {
	for _, root := range []string{"", "gs://", "s3://bucket/x", "gs:///x"} {
		if _, err := NewLakeWriter(context.Background(), root, LakeOptions{}); err == nil {
			t.Errorf("NewLakeWriter(%q) succeeded", root)
		}
	}
}

func TestGenWriteLakeGCS(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"lake"}})
	stack.SetEnvForTest(t)
	c := testConfig(FormatJSON, 20_000)
	c.Hours = 2
	root := "gs://lake/env/test"
	res, err := WriteLake(context.Background(), mustNew(t, c), root, LakeOptions{EventsPerFile: 5_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Lake.Files {
		if !strings.HasPrefix(f, root+"/game_events/dt=") {
			t.Fatalf("file %s not under %s/game_events/dt=…", f, root)
		}
	}
	// The listing of the bucket is exactly the reported files.
	fs, err := filesystem.New(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := fs.List(context.Background(), root+"/game_events/**")
	fs.Close()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, res.Lake.Files) {
		t.Fatalf("bucket lists %v, writer reported %v", listed, res.Lake.Files)
	}
	if got, want := readLake(t, root, res.Lake.Files, 5_000), expected(t, c); !slices.Equal(got, want) {
		t.Fatalf("lake holds %d lines, want %d (or they differ)", len(got), len(want))
	}

	// A cancelled run leaves only complete objects: those it reported.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root2 := "gs://lake/env/cancelled"
	res, err = WriteLake(ctx, mustNew(t, c), root2, LakeOptions{EventsPerFile: 5_000}, func(p Progress) {
		if p.Written >= 12_000 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled WriteLake: %v", err)
	}
	fs, err = filesystem.New(context.Background(), root2)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	listed, err = fs.List(context.Background(), root2+"/**")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	if len(listed) == 0 || !slices.Equal(listed, res.Lake.Files) {
		t.Fatalf("after cancel the bucket lists %v, writer completed %v", listed, res.Lake.Files)
	}
}

// TestGenLakeWriterLines covers WriteLine with lines that are not
// generated records.
func TestGenLakeWriterLines(t *testing.T) {
	dir := t.TempDir()
	w, err := NewLakeWriter(context.Background(), dir, LakeOptions{EventsPerFile: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := w.WriteLine(DefaultStart, []byte{'a' + byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLine(DefaultStart, []byte("late")); err == nil {
		t.Fatal("write after Close succeeded")
	}
	st := w.Stats()
	if len(st.Files) != 3 || st.Lines != 5 || len(st.Partitions) != 1 {
		t.Fatalf("stats %+v", st)
	}
	var all bytes.Buffer
	for _, f := range st.Files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&all, zr)
		fh.Close()
	}
	if all.String() != "a\nb\nc\nd\ne\n" {
		t.Fatalf("files hold %q", all.String())
	}
	if want := filepath.Join(dir, "game_events", "dt=2026-11-01", "hr=00", "part-00000.jsonl.gz"); st.Files[0] != want {
		t.Fatalf("first file %s, want %s", st.Files[0], want)
	}
}

func BenchmarkWriteLake(b *testing.B) {
	c := testConfig(FormatJSON, int64(b.N))
	dir := b.TempDir()
	b.ResetTimer()
	res, err := WriteLake(context.Background(), mustNew(b, c), dir, LakeOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(res.Lake.Bytes / int64(b.N))
}
