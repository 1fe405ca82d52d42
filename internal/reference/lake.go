package reference

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"   // gs://, honours STORAGE_EMULATOR_HOST
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths
	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// MaxLineBytes is the longest line read (without its line ending); a longer
// line fails the run, naming the file.
const MaxLineBytes = 64 << 20

// batchSize is how many lines a worker decodes before handing them over.
const batchSize = 4096

// cleanRoot checks a lake root: a local directory or gs://bucket[/prefix].
func cleanRoot(root string) (string, error) {
	root = strings.TrimSpace(root)
	if root == "" {
		return "", errors.New("reference: lake root is empty")
	}
	if strings.ContainsAny(root, "*?[") {
		return "", fmt.Errorf("reference: lake root %q contains glob characters", root)
	}
	if strings.HasPrefix(root, "gs://") {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(root, "gs://"), "/")
		if bucket == "" {
			return "", fmt.Errorf("reference: lake root %q has no bucket (want gs://bucket[/prefix])", root)
		}
		return strings.TrimRight(root, "/"), nil
	}
	if strings.Contains(root, "://") {
		return "", fmt.Errorf("reference: lake root %q: only local directories and gs:// are supported", root)
	}
	return filepath.Clean(root), nil
}

// lake reads the files of one lake dataset through Beam's filesystem.
type lake struct {
	fs   filesystem.Interface
	root string
	gcs  bool
	ds   catalog.Lake
}

func newLake(ctx context.Context, root string, ds catalog.Lake) (*lake, error) {
	fs, err := filesystem.New(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("reference: lake root %q: %w", root, err)
	}
	return &lake{fs: fs, root: root, gcs: strings.HasPrefix(root, "gs://"), ds: ds}, nil
}

func (l *lake) close() { _ = l.fs.Close() }

// files lists "<root>/<lake>/dt=D/hr=*/*" for every date D of the range,
// without hidden files (names starting with "." or "_"), sorted.
func (l *lake) files(ctx context.Context, from, to civil.Date) ([]string, error) {
	var files []string
	for d := from; !d.After(to); d = d.AddDays(1) {
		rel := l.ds.DateDir(d.In(time.UTC)) + "/hr=*/*"
		glob := l.root + "/" + rel
		if !l.gcs {
			glob = filepath.Join(l.root, filepath.FromSlash(rel))
		}
		matches, err := l.fs.List(ctx, glob)
		if err != nil {
			return nil, fmt.Errorf("reference: list %s: %w", glob, err)
		}
		for _, m := range matches {
			base := path.Base(filepath.ToSlash(m))
			if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
				continue
			}
			files = append(files, m)
		}
	}
	sort.Strings(files)
	return files, nil
}

// batch is a run of decoded lines of one file, handed from a reader to the
// accumulator.
type batch struct {
	events  []schemas.GameEvent
	invalid []schemas.Reason
	blank   int64
	files   int64
	bytes   int64
}

func (b *batch) reset() {
	clear(b.events) // drop the strings
	b.events = b.events[:0]
	b.invalid = b.invalid[:0]
	b.blank, b.files, b.bytes = 0, 0, 0
}

// read feeds every line of files to acc, with workers files at a time.
func (l *lake) read(ctx context.Context, files []string, now time.Time, workers int, acc *Accumulator) error {
	if workers <= 1 || len(files) <= 1 {
		b := &batch{}
		for _, f := range files {
			err := l.decodeFile(ctx, f, now, b, func(b *batch) *batch {
				acc.addBatch(b)
				b.reset()
				return b
			})
			if err != nil {
				return err
			}
		}
		return nil
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan string)
	out := make(chan *batch, 2*workers)
	free := make(chan *batch, 4*workers)
	get := func() *batch {
		select {
		case b := <-free:
			return b
		default:
			return &batch{}
		}
	}
	var wg sync.WaitGroup
	for range min(workers, len(files)) {
		wg.Go(func() {
			for f := range jobs {
				err := l.decodeFile(ctx, f, now, get(), func(b *batch) *batch {
					select {
					case out <- b:
					case <-ctx.Done():
					}
					return get()
				})
				if err != nil {
					cancel(err)
				}
			}
		})
	}
	go func() {
		defer close(jobs)
		for _, f := range files {
			select {
			case jobs <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(out)
	}()
	for b := range out {
		acc.addBatch(b)
		b.reset()
		select {
		case free <- b:
		default:
		}
	}
	return context.Cause(ctx)
}

// decodeFile decodes the lines of one file into b, calling emit with every
// full batch (and the last one); emit returns the batch to fill next.
func (l *lake) decodeFile(ctx context.Context, file string, now time.Time, b *batch, emit func(*batch) *batch) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	rc, err := l.fs.OpenRead(ctx, file)
	if err != nil {
		return fmt.Errorf("reference: open %s: %w", file, err)
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	var r io.Reader = cr
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(bufio.NewReaderSize(cr, 128<<10))
		if err != nil {
			return fmt.Errorf("reference: %s: %w", file, err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var long []byte // a line longer than br's buffer
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(chunk) > MaxLineBytes {
				return fmt.Errorf("reference: %s: line longer than %d bytes", file, MaxLineBytes)
			}
			long = append(long, chunk...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reference: read %s: %w", file, err)
		}
		line := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			line = long
		}
		if len(line) > 0 { // not the empty rest after the last newline
			line = bytes.TrimSuffix(line, []byte("\n"))
			if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
				b.blank++
			} else {
				if len(line) > MaxLineBytes {
					return fmt.Errorf("reference: %s: line longer than %d bytes", file, MaxLineBytes)
				}
				if e, derr := schemas.DecodeLine(line, now); derr != nil {
					reason := schemas.ReasonOf(derr)
					if reason == "" {
						return fmt.Errorf("reference: %s: decoder returned a non-validation error: %w", file, derr)
					}
					b.invalid = append(b.invalid, reason)
				} else {
					b.events = append(b.events, e)
				}
				if n++; n%batchSize == 0 {
					b = emit(b)
					if err := ctx.Err(); err != nil {
						return context.Cause(ctx)
					}
				}
			}
		}
		long = long[:0]
		if err != nil { // io.EOF
			break
		}
	}
	b.files++
	b.bytes = cr.n
	emit(b)
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
