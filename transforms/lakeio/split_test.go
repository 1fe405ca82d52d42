package lakeio

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"

	"github.com/railyard-dev/railyard/transforms"
)

// refLines splits decompressed content the simple way: Source offset →
// payload of every non-empty line, and the number of empty lines.
func refLines(path string, content []byte) (map[string]string, int) {
	out := map[string]string{}
	blank := 0
	var off int
	for off < len(content) {
		end := bytes.IndexByte(content[off:], '\n')
		next := len(content)
		if end >= 0 {
			end += off
			next = end + 1
		} else {
			end = len(content)
		}
		line := strings.TrimSuffix(string(content[off:end]), "\r")
		start := off
		if off == 0 && strings.HasPrefix(line, "\uFEFF") {
			line = line[3:]
			start = 3
		}
		if line == "" {
			blank++
		} else {
			out[path+":"+strconv.Itoa(start)] = line
		}
		off = next
	}
	return out, blank
}

// readPieces runs readFn over a file the way a runner would: the initial
// splits, and optionally a dynamic split (TrySplit(frac)) after the first
// line of every restriction, whose residual is read too. It returns every
// emitted Raw and fails on a duplicate Source or a tracker left not done.
func readPieces(t *testing.T, fn *readFn, f lakeFile, frac float64) (map[string]string, int) {
	t.Helper()
	ctx := context.Background()
	queue := fn.SplitRestriction(f, fn.CreateInitialRestriction(f))
	got := map[string]string{}
	pieces := 0
	for len(queue) > 0 {
		rest := queue[0]
		queue = queue[1:]
		pieces++
		rt := fn.CreateTracker(rest)
		n := 0
		err := fn.ProcessElement(ctx, rt, f, func(r transforms.Raw) {
			if _, dup := got[r.Source]; dup {
				t.Fatalf("%s emitted twice (restriction %v)", r.Source, rest)
			}
			got[r.Source] = string(r.Payload)
			n++
			if n == 1 && frac >= 0 {
				if _, res, err := rt.TrySplit(frac); err != nil {
					t.Fatalf("TrySplit: %v", err)
				} else if res != nil {
					queue = append(queue, res.(offsetrange.Restriction))
				}
			}
		})
		if err != nil {
			t.Fatalf("restriction %v: %v", rest, err)
		}
		if err := rt.IsDone(); !err {
			t.Fatalf("restriction %v: tracker not done: %v", rest, rt.GetRestriction())
		}
	}
	return got, pieces
}

func writeFile(t *testing.T, dir, name string, content []byte) lakeFile {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	gz, err := isGzip(p, CompressionAuto)
	if err != nil {
		t.Fatal(err)
	}
	return lakeFile{Path: p, Size: int64(len(content)), Gzip: gz}
}

// TestSplitBoundariesExhaustive reads small files cut at every possible
// split size, with and without dynamic splits, and checks every line comes
// out exactly once with the right offset.
func TestSplitBoundariesExhaustive(t *testing.T) {
	cases := map[string]string{
		"lf":         "a\nbb\nccc\n",
		"no-final":   "a\nbb\nccc",
		"crlf":       "a\r\nbb\r\n\r\nccc\r\n",
		"crlf-final": "a\r\nbb\r\nccc\r",
		"blanks":     "\n\n\na\n\n\nb\n\n",
		"bom":        "\uFEFF{\"x\":1}\n{\"y\":2}\n",
		"one-line":   "abcdefghij",
		"only-nl":    "\n",
		"spaces":     " \n  \t\nx\n",
		"csv":        "user1,team1,5,1761991200000,2026-11-01 10:00:00.000\r\nuser2,team2,7,1761991200001,2026-11-01 10:00:00.001",
	}
	dir := t.TempDir()
	for name, content := range cases {
		f := writeFile(t, dir, name+".jsonl", []byte(content))
		want, _ := refLines(f.Path, []byte(content))
		for size := int64(1); size <= f.Size+1; size++ {
			for _, frac := range []float64{-1, 0, 0.5, 0.99} {
				fn := &readFn{SplitSize: size, MaxLineBytes: 1 << 20}
				got, _ := readPieces(t, fn, f, frac)
				if !maps.Equal(got, want) {
					t.Fatalf("%s, split size %d, dynamic split %v:\n got %q\nwant %q", name, size, frac, got, want)
				}
			}
		}
	}
}

// TestSplitLargeFile cuts a 1 MB file with long and short lines, CRLF
// endings, blank lines and no final newline into many pieces.
func TestSplitLargeFile(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		switch {
		case i%97 == 0:
			b.WriteString("\r\n") // blank CRLF line
		case i%13 == 0:
			fmt.Fprintf(&b, "%d,%s\r\n", i, strings.Repeat("x", i%5000))
		default:
			fmt.Fprintf(&b, `{"event_id":"e%d","pad":"%s"}`+"\n", i, strings.Repeat("p", i%300))
		}
	}
	b.WriteString(`{"last":"no newline"}`)
	f := writeFile(t, t.TempDir(), "big.jsonl", b.Bytes())
	want, blank := refLines(f.Path, b.Bytes())
	if blank == 0 {
		t.Fatal("test data has no blank lines")
	}
	for _, size := range []int64{4096, 65536, 100_003} {
		got, pieces := readPieces(t, &readFn{SplitSize: size, MaxLineBytes: 1 << 20}, f, 0.5)
		if !maps.Equal(got, want) {
			t.Errorf("split size %d: %d lines, want %d", size, len(got), len(want))
		}
		if pieces < int(f.Size/size) {
			t.Errorf("split size %d: only %d pieces", size, pieces)
		}
	}
}

func TestSplitRestriction(t *testing.T) {
	fn := &readFn{SplitSize: 100}
	got := fn.SplitRestriction(lakeFile{Size: 1020}, offsetrange.Restriction{Start: 0, End: 1020})
	var want []offsetrange.Restriction
	for i := int64(0); i < 900; i += 100 {
		want = append(want, offsetrange.Restriction{Start: i, End: i + 100})
	}
	want = append(want, offsetrange.Restriction{Start: 900, End: 1020})
	if !slices.Equal(got, want) {
		t.Errorf("plain: got %v, want %v", got, want)
	}
	gz := lakeFile{Size: 1 << 30, Gzip: true}
	if got := fn.SplitRestriction(gz, fn.CreateInitialRestriction(gz)); len(got) != 1 || got[0] != (offsetrange.Restriction{Start: 0, End: 1}) {
		t.Errorf("gzip: got %v, want one [0, 1)", got)
	}
	// A gzip restriction cannot be split once its only position is claimed.
	rt := sdf.NewLockRTracker(offsetrange.NewTracker(offsetrange.Restriction{Start: 0, End: 1}))
	if !rt.TryClaim(int64(0)) {
		t.Fatal("claim 0 failed")
	}
	if _, res, _ := rt.TrySplit(0); res != nil {
		t.Errorf("gzip restriction split after claim: residual %v", res)
	}
}

func TestLineTooLong(t *testing.T) {
	content := "short\n" + strings.Repeat("y", 5000) + "\nshort\n"
	f := writeFile(t, t.TempDir(), "long.jsonl", []byte(content))
	fn := &readFn{SplitSize: 1 << 20, MaxLineBytes: 4999}
	rt := fn.CreateTracker(fn.CreateInitialRestriction(f))
	err := fn.ProcessElement(context.Background(), rt, f, func(transforms.Raw) {})
	if err == nil || !strings.Contains(err.Error(), f.Path) || !strings.Contains(err.Error(), "line at offset 6 is longer than 4999 bytes") {
		t.Errorf("err = %v, want line too long naming %s and offset 6", err, f.Path)
	}
	fn.MaxLineBytes = 5000
	got, _ := readPieces(t, fn, f, -1)
	if want, _ := refLines(f.Path, []byte(content)); !maps.Equal(got, want) {
		t.Errorf("max 5000: got %d lines, want %d", len(got), len(want))
	}
}

func TestIsGzip(t *testing.T) {
	for name, want := range map[string]bool{
		"a.jsonl.gz": true, "a.json.gz": true, "a.gz": true, "a.csv.gz": true, "A.JSONL.GZ": true,
		"a.jsonl": false, "a.json": false, "a.csv": false, "a.txt": false, "a.ndjson": false,
	} {
		got, err := isGzip("gs://b/x/"+name, CompressionAuto)
		if err != nil || got != want {
			t.Errorf("%s: got %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"a.parquet", "a", "a.jsonl.zst"} {
		if _, err := isGzip("/x/"+name, CompressionAuto); err == nil || !strings.Contains(err.Error(), "/x/"+name) {
			t.Errorf("%s: err = %v, want unsupported naming the file", name, err)
		}
		if gz, err := isGzip("/x/"+name, CompressionNone); err != nil || gz {
			t.Errorf("%s with CompressionNone: %v, %v", name, gz, err)
		}
	}
}
