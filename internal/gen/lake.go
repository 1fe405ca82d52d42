package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"   // gs://, honours STORAGE_EMULATOR_HOST
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths
	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/schemas/catalog"
)

// Lake writer defaults.
const (
	DefaultEventsPerFile = 100_000
	DefaultMaxOpenFiles  = 8
	// gcsChunkSize is the upload buffer of each open gs:// file (the
	// client's default is 16 MiB per writer).
	gcsChunkSize = 2 << 20
)

// LakeOptions configures a LakeWriter. Zero fields take the defaults.
type LakeOptions struct {
	// EventsPerFile is how many lines a part file holds before the
	// partition rolls over to a new one. Default 100000.
	EventsPerFile int
	// MaxOpenFiles bounds the part files open at once. When a line needs
	// another one, the least recently written is closed; a later line for
	// its partition starts the next part. Default 8.
	MaxOpenFiles int
	// FilePrefix names the part files "<FilePrefix>-NNNNN.jsonl.gz", NNNNN
	// counting from 00000 per partition. Default "part"; WriteLake uses
	// "part-s<seed>".
	FilePrefix string
	// Lake is the lake dataset whose layout is written. Default the
	// catalog's game_events lake.
	Lake catalog.Lake
	// GzipLevel is the gzip level (1 fastest .. 9 smallest). Default
	// gzip.DefaultCompression. Compression is github.com/klauspost/compress's
	// gzip, about 1.7 times as fast as compress/gzip here at the same size.
	GzipLevel int
}

func (o LakeOptions) withDefaults() LakeOptions {
	if o.EventsPerFile <= 0 {
		o.EventsPerFile = DefaultEventsPerFile
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.FilePrefix == "" {
		o.FilePrefix = "part"
	}
	if o.Lake.Name == "" {
		o.Lake, _ = catalog.Default().Lake(catalog.LakeGameEvents)
	}
	if o.GzipLevel == 0 {
		o.GzipLevel = gzip.DefaultCompression
	}
	return o
}

// LakeWriter writes lines into hourly lake partitions under a root that is
// a local directory or gs://bucket/prefix, through Beam's filesystem
// package. Each part file is gzip-compressed JSON lines (no modification
// time in the gzip header, so equal input gives equal bytes). A part file
// becomes visible only complete: local files are written under a hidden
// temporary name (".<name>.tmp") and renamed on close; a gs:// object
// appears when its upload finishes. A LakeWriter is not safe for
// concurrent use.
type LakeWriter struct {
	ctx  context.Context
	fs   filesystem.Interface
	root string
	gcs  bool
	opts LakeOptions

	open    map[string]*partFile // by partition directory
	tick    int64
	nextNum map[string]int
	zpool   []*gzip.Writer
	bpool   []*bufio.Writer

	files      []string
	partitions map[string]bool
	lines      int64
	bytes      int64
	err        error
	closed     bool
}

type partFile struct {
	dir, final, tmp string
	cancel          context.CancelFunc
	wc              io.WriteCloser
	count           *countingWriter
	bw              *bufio.Writer
	zw              *gzip.Writer
	lines           int
	lastUse         int64
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewLakeWriter returns a writer into the lake under root (a local
// directory, created as needed, or gs://bucket/prefix; the bucket must
// exist). Existing part files of the same names are replaced.
func NewLakeWriter(ctx context.Context, root string, opts LakeOptions) (*LakeWriter, error) {
	root = strings.TrimSpace(root)
	if root == "" {
		return nil, errors.New("gen: lake root is empty")
	}
	isGCS := strings.HasPrefix(root, "gs://")
	if isGCS {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(root, "gs://"), "/")
		if bucket == "" {
			return nil, fmt.Errorf("gen: lake root %q has no bucket (want gs://bucket[/prefix])", root)
		}
		root = strings.TrimRight(root, "/")
	} else if strings.Contains(root, "://") {
		return nil, fmt.Errorf("gen: lake root %q: only local directories and gs:// are supported", root)
	}
	fs, err := filesystem.New(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("gen: lake root %q: %w", root, err)
	}
	return &LakeWriter{
		ctx:        ctx,
		fs:         fs,
		root:       root,
		gcs:        isGCS,
		opts:       opts.withDefaults(),
		open:       make(map[string]*partFile),
		nextNum:    make(map[string]int),
		partitions: make(map[string]bool),
	}, nil
}

// path joins the root and a slash-separated relative path.
func (w *LakeWriter) path(rel string) string {
	if w.gcs {
		return w.root + "/" + rel
	}
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

// Write writes a record into the partition of its PartitionTime.
func (w *LakeWriter) Write(r Record) error {
	return w.WriteLine(r.PartitionTime(), r.Line)
}

// WriteLine writes one line (without line ending) into the partition of
// the hour of t.
func (w *LakeWriter) WriteLine(t time.Time, line []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("gen: write to closed LakeWriter")
	}
	dir := w.opts.Lake.PartitionDir(t)
	pf := w.open[dir]
	if pf == nil {
		if len(w.open) >= w.opts.MaxOpenFiles {
			if err := w.closePart(w.leastRecent()); err != nil {
				return w.fail(err)
			}
		}
		var err error
		if pf, err = w.openPart(dir); err != nil {
			return w.fail(err)
		}
	}
	w.tick++
	pf.lastUse = w.tick
	if _, err := pf.zw.Write(line); err != nil {
		return w.fail(fmt.Errorf("gen: write %s: %w", pf.final, err))
	}
	if _, err := pf.zw.Write(newline); err != nil {
		return w.fail(fmt.Errorf("gen: write %s: %w", pf.final, err))
	}
	pf.lines++
	w.lines++
	if pf.lines >= w.opts.EventsPerFile {
		if err := w.closePart(pf); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

var newline = []byte{'\n'}

func (w *LakeWriter) leastRecent() *partFile {
	var lru *partFile
	for _, pf := range w.open {
		if lru == nil || pf.lastUse < lru.lastUse {
			lru = pf
		}
	}
	return lru
}

func (w *LakeWriter) openPart(dir string) (*partFile, error) {
	n := w.nextNum[dir]
	w.nextNum[dir] = n + 1
	name := fmt.Sprintf("%s-%05d.%s", w.opts.FilePrefix, n, lakeExt(w.opts.Lake))
	pf := &partFile{dir: dir, final: w.path(dir + "/" + name)}
	pf.tmp = pf.final
	if !w.gcs {
		pf.tmp = w.path(dir + "/." + name + ".tmp")
	}
	ctx, cancel := context.WithCancel(w.ctx)
	wc, err := w.fs.OpenWrite(ctx, pf.tmp)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gen: create %s: %w", pf.tmp, err)
	}
	if sw, ok := wc.(*storage.Writer); ok {
		sw.ChunkSize = gcsChunkSize
	}
	pf.cancel, pf.wc = cancel, wc
	pf.count = &countingWriter{w: wc}
	if k := len(w.bpool); k > 0 {
		pf.bw = w.bpool[k-1]
		w.bpool = w.bpool[:k-1]
		pf.bw.Reset(pf.count)
	} else {
		pf.bw = bufio.NewWriterSize(pf.count, 256<<10)
	}
	if k := len(w.zpool); k > 0 {
		pf.zw = w.zpool[k-1]
		w.zpool = w.zpool[:k-1]
		pf.zw.Reset(pf.bw)
	} else if pf.zw, err = gzip.NewWriterLevel(pf.bw, w.opts.GzipLevel); err != nil {
		cancel()
		return nil, fmt.Errorf("gen: gzip: %w", err)
	}
	// No modification time (0 in the header). klauspost's gzip, unlike
	// compress/gzip, writes the zero time.Time as a bogus 2042 date.
	pf.zw.ModTime = time.Unix(0, 0)
	w.open[dir] = pf
	w.partitions[dir] = true
	return pf, nil
}

func lakeExt(l catalog.Lake) string {
	if l.Format != "" {
		return l.Format
	}
	return "jsonl.gz"
}

// closePart finishes a part file and makes it visible under its final name.
func (w *LakeWriter) closePart(pf *partFile) error {
	delete(w.open, pf.dir)
	defer pf.cancel()
	err := pf.zw.Close()
	if err == nil {
		err = pf.bw.Flush()
	}
	if cerr := pf.wc.Close(); err == nil {
		err = cerr
	}
	w.zpool = append(w.zpool, pf.zw)
	w.bpool = append(w.bpool, pf.bw)
	if err != nil {
		w.discard(pf)
		return fmt.Errorf("gen: write %s: %w", pf.final, err)
	}
	if pf.tmp != pf.final {
		if err := filesystem.Rename(w.ctx, w.fs, pf.tmp, pf.final); err != nil {
			w.discard(pf)
			return fmt.Errorf("gen: rename %s to %s: %w", pf.tmp, pf.final, err)
		}
	}
	w.files = append(w.files, pf.final)
	w.bytes += pf.count.n
	return nil
}

// discard removes what is left of a part file that was not completed.
func (w *LakeWriter) discard(pf *partFile) {
	pf.cancel()
	if pf.tmp == pf.final {
		return // gs://: a cancelled upload leaves no object
	}
	if rm, ok := w.fs.(filesystem.Remover); ok {
		_ = rm.Remove(context.WithoutCancel(w.ctx), pf.tmp)
	}
}

func (w *LakeWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	w.Abort()
	return w.err
}

// Abort discards the part files still open (their lines are lost; files
// already completed stay) and releases the writer. Use it instead of Close
// after an error or cancellation.
func (w *LakeWriter) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	for _, pf := range w.open {
		pf.cancel()
		_ = pf.wc.Close()
		w.discard(pf)
	}
	clear(w.open)
	_ = w.fs.Close()
}

// Close completes every open part file, in partition order, and releases
// the writer. Every line written is in a visible file once Close returns
// nil.
func (w *LakeWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	dirs := make([]string, 0, len(w.open))
	for d := range w.open {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := w.closePart(w.open[d]); err != nil {
			return w.fail(err)
		}
	}
	w.closed = true
	if err := w.fs.Close(); err != nil {
		w.err = fmt.Errorf("gen: close file system: %w", err)
		return w.err
	}
	return nil
}

// LakeStats describes what a LakeWriter wrote.
type LakeStats struct {
	// Files are the completed part files, full paths, sorted.
	Files []string `json:"files"`
	// Partitions are the partition directories written to (relative to
	// the root, e.g. "game_events/dt=2026-11-01/hr=00"), sorted.
	Partitions []string `json:"partitions"`
	// Lines is the number of lines written, Bytes the compressed bytes of
	// the completed files.
	Lines int64 `json:"lines"`
	Bytes int64 `json:"bytes"`
}

// Stats returns what was written so far.
func (w *LakeWriter) Stats() LakeStats {
	s := LakeStats{Files: append([]string(nil), w.files...), Lines: w.lines, Bytes: w.bytes}
	sort.Strings(s.Files)
	for d := range w.partitions {
		s.Partitions = append(s.Partitions, d)
	}
	sort.Strings(s.Partitions)
	return s
}

// Progress is passed to WriteOptions.Progress.
type Progress struct {
	// Written and Total are records written so far and records in the run.
	Written, Total int64
	// Elapsed is the time since WriteLake started.
	Elapsed time.Duration
}

// ProgressEvery is how many records WriteLake writes between calls of the
// progress callback.
const ProgressEvery = 1 << 13

// LakeResult is what WriteLake did.
type LakeResult struct {
	Summary Summary   `json:"summary"`
	Lake    LakeStats `json:"lake"`
}

// WriteLake writes every remaining record of g into the lake under root
// (see NewLakeWriter), naming files "part-s<seed>-NNNNN.jsonl.gz" unless
// opts.FilePrefix is set. progress, if not nil, is called every
// ProgressEvery records and once at the end. On error or cancellation of
// ctx the open part files are discarded and the error returned.
func WriteLake(ctx context.Context, g *Generator, root string, opts LakeOptions, progress func(Progress)) (LakeResult, error) {
	if opts.FilePrefix == "" {
		opts.FilePrefix = fmt.Sprintf("part-s%d", g.Config().Seed)
	}
	w, err := NewLakeWriter(ctx, root, opts)
	if err != nil {
		return LakeResult{}, err
	}
	start := time.Now()
	total := g.Config().Events
	for r := range g.Records() {
		if err := w.Write(r); err != nil {
			return LakeResult{Summary: g.Summary(), Lake: w.Stats()}, err
		}
		if n := g.Generated(); n%ProgressEvery == 0 {
			if err := ctx.Err(); err != nil {
				w.Abort()
				return LakeResult{Summary: g.Summary(), Lake: w.Stats()}, fmt.Errorf("gen: %w", context.Cause(ctx))
			}
			if progress != nil {
				progress(Progress{Written: n, Total: total, Elapsed: time.Since(start)})
			}
		}
	}
	err = w.Close()
	res := LakeResult{Summary: g.Summary(), Lake: w.Stats()}
	if err != nil {
		return res, err
	}
	if progress != nil {
		progress(Progress{Written: g.Generated(), Total: total, Elapsed: time.Since(start)})
	}
	return res, nil
}
