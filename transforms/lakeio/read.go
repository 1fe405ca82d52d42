package lakeio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/transforms"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*matchSpec)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*lakeFile)(nil)).Elem())
	register.Function1x1(globToSpec)
	register.DoFn3x1[context.Context, matchSpec, func(lakeFile), error](&matchFn{})
	register.Emitter1[lakeFile]()
	register.DoFn4x1[context.Context, *sdf.LockRTracker, lakeFile, func(transforms.Raw), error](&readFn{})
	register.Emitter1[transforms.Raw]()
}

var (
	linesCounter = beam.NewCounter(transforms.MetricsNamespace, MetricLines)
	blankCounter = beam.NewCounter(transforms.MetricsNamespace, MetricBlankLines)
)

const (
	// readBufSize is the read buffer of a restriction; longer lines are
	// assembled from several reads.
	readBufSize = 256 << 10
	// flushEvery is how many lines pass between metric updates.
	flushEvery = 4096
)

// utf8BOM is skipped at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readFn is the splittable DoFn that reads the lines of one file.
//
// An uncompressed file's restriction is its byte range [0, size). A line
// belongs to the restriction in which its first byte lies: a restriction
// starting at s > 0 skips the rest of the line that byte s-1 belongs to,
// then claims each line's start offset until a claim fails; the line whose
// start it claimed is read whole, even past the restriction's end. So
// every line is read exactly once however the file is split, initially
// (SplitRestriction) or dynamically (the offset tracker's TrySplit).
//
// A gzip file cannot be read from the middle: its restriction is [0, 1),
// the single position 0 is claimed and the whole stream is read, so it
// can only be split before it starts (the runner then moves it whole).
type readFn struct {
	SplitSize    int64 `json:"split_size"`
	MaxLineBytes int64 `json:"max_line_bytes"`

	gcs *storage.Client
}

// CreateInitialRestriction is the file's byte range, or [0, 1) for gzip.
func (fn *readFn) CreateInitialRestriction(f lakeFile) offsetrange.Restriction {
	if f.Gzip {
		return offsetrange.Restriction{Start: 0, End: 1}
	}
	return offsetrange.Restriction{Start: 0, End: f.Size}
}

// SplitRestriction cuts an uncompressed file into pieces of SplitSize
// bytes; a last piece of a quarter of that or less joins the one before.
func (fn *readFn) SplitRestriction(f lakeFile, rest offsetrange.Restriction) []offsetrange.Restriction {
	if f.Gzip || fn.SplitSize < 1 || rest.End-rest.Start <= fn.SplitSize {
		return []offsetrange.Restriction{rest}
	}
	splits := rest.SizedSplits(fn.SplitSize)
	if n := len(splits); n > 1 && splits[n-1].End-splits[n-1].Start <= fn.SplitSize/4 {
		splits[n-2].End = splits[n-1].End
		splits = splits[:n-1]
	}
	return splits
}

// RestrictionSize weighs a restriction by its bytes (a gzip file by its
// compressed size).
func (fn *readFn) RestrictionSize(f lakeFile, rest offsetrange.Restriction) float64 {
	if f.Gzip {
		return float64(max(f.Size, 1))
	}
	return rest.Size()
}

// CreateTracker tracks claimed line offsets.
func (fn *readFn) CreateTracker(rest offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(rest))
}

func (fn *readFn) Teardown() error {
	if fn.gcs != nil {
		err := fn.gcs.Close()
		fn.gcs = nil
		return err
	}
	return nil
}

func (fn *readFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, f lakeFile, emit func(transforms.Raw)) error {
	if f.Gzip {
		return fn.readGzip(ctx, rt, f, emit)
	}
	return fn.readPlain(ctx, rt, f, emit)
}

func (fn *readFn) maxLine() int64 {
	if fn.MaxLineBytes < 1 {
		return DefaultMaxLineBytes
	}
	return fn.MaxLineBytes
}

func (fn *readFn) readPlain(ctx context.Context, rt *sdf.LockRTracker, f lakeFile, emit func(transforms.Raw)) error {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	if rest.Start >= rest.End {
		return nil
	}
	if rest.End > f.Size {
		return fmt.Errorf("lakeio: %s: restriction [%d, %d) lies beyond its size %d", f.Path, rest.Start, rest.End, f.Size)
	}
	log.Debugf(ctx, "lakeio: reading %s [%d, %d)", f.Path, rest.Start, rest.End)
	pos := rest.Start
	openAt := max(pos-1, 0)
	r, err := fn.open(ctx, f, openAt)
	if err != nil {
		return err
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, readBufSize)
	if pos > 0 {
		// Skip the line that byte pos-1 belongs to: it is the previous
		// restriction's (if byte pos-1 is '\n', this skips just that).
		n, err := skipLine(br)
		if err == io.EOF {
			if openAt+n < f.Size {
				return fmt.Errorf("lakeio: %s: file ends at %d, before its listed size %d (changed while reading?)", f.Path, openAt+n, f.Size)
			}
			// No line starts in this restriction.
			rt.TryClaim(rt.GetRestriction().(offsetrange.Restriction).End)
			return nil
		}
		if err != nil {
			return fmt.Errorf("lakeio: read %s at offset %d: %w", f.Path, openAt, err)
		}
		pos = openAt + n
	}
	lr := lineReader{br: br, max: fn.maxLine()}
	em := lineEmitter{ctx: ctx, path: f.Path, emit: emit}
	defer em.flush()
	// Claim each line's start; the first failed claim (at or past the
	// restriction's end, which a split may have moved) ends the work.
	for rt.TryClaim(pos) {
		line, err := lr.next()
		switch {
		case err == io.EOF:
			return fmt.Errorf("lakeio: %s: file ends at %d, before its listed size %d (changed while reading?)", f.Path, pos, f.Size)
		case errors.Is(err, errLineTooLong):
			return fmt.Errorf("lakeio: %s: line at offset %d is longer than %d bytes (see WithMaxLineBytes)", f.Path, pos, lr.max)
		case err != nil:
			return fmt.Errorf("lakeio: read %s at offset %d: %w", f.Path, pos, err)
		}
		em.line(pos, line)
		pos += int64(len(line))
	}
	return nil
}

func (fn *readFn) readGzip(ctx context.Context, rt *sdf.LockRTracker, f lakeFile, emit func(transforms.Raw)) error {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	if !rt.TryClaim(rest.Start) {
		return nil // split off before it started: the residual reads the file
	}
	log.Debugf(ctx, "lakeio: reading %s (gzip)", f.Path)
	r, err := fn.open(ctx, f, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	src := &sourceReader{r: r}
	var pos int64 // decompressed offset of the next line
	fail := func(err error) error {
		if src.err != nil {
			return fmt.Errorf("lakeio: read %s: %w", f.Path, src.err)
		}
		if pos == 0 && errors.Is(err, io.EOF) {
			return fmt.Errorf("lakeio: %s: corrupt gzip stream: the file is empty", f.Path)
		}
		return fmt.Errorf("lakeio: %s: corrupt gzip stream (in the line at decompressed offset %d): %w", f.Path, pos, err)
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(src, readBufSize))
	if err != nil {
		return fail(err)
	}
	defer zr.Close()
	lr := lineReader{br: bufio.NewReaderSize(zr, readBufSize), max: fn.maxLine()}
	em := lineEmitter{ctx: ctx, path: f.Path, emit: emit}
	defer em.flush()
	for {
		line, err := lr.next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, errLineTooLong):
			return fmt.Errorf("lakeio: %s: line at decompressed offset %d is longer than %d bytes (see WithMaxLineBytes)", f.Path, pos, lr.max)
		case err != nil:
			return fail(err)
		}
		em.line(pos, line)
		pos += int64(len(line))
	}
}

// open opens a file at a byte offset of its stored bytes. gs:// objects are
// read with a range request, as stored (no decompressive transcoding);
// other file systems through Beam's filesystem package, seeking when the
// reader can.
func (fn *readFn) open(ctx context.Context, f lakeFile, off int64) (io.ReadCloser, error) {
	if isGCS(f.Path) {
		if fn.gcs == nil {
			c, err := newGCSClient(ctx)
			if err != nil {
				return nil, err
			}
			fn.gcs = c
		}
		bucket, object := splitGCS(f.Path)
		r, err := fn.gcs.Bucket(bucket).Object(object).ReadCompressed(true).NewRangeReader(ctx, off, -1)
		if err != nil {
			return nil, fmt.Errorf("lakeio: open %s at offset %d: %w", f.Path, off, err)
		}
		if !f.Gzip && r.Attrs.ContentEncoding == "gzip" {
			r.Close()
			return nil, fmt.Errorf("lakeio: %s is stored with Content-Encoding gzip: name it *.gz or read it WithCompression(CompressionGzip)", f.Path)
		}
		return r, nil
	}
	fsys, err := filesystem.New(ctx, f.Path)
	if err != nil {
		return nil, fmt.Errorf("lakeio: open %s: %w", f.Path, err)
	}
	r, err := fsys.OpenRead(ctx, f.Path)
	if err != nil {
		fsys.Close()
		return nil, fmt.Errorf("lakeio: open %s: %w", f.Path, err)
	}
	rc := &closeBoth{ReadCloser: r, fs: fsys}
	if off > 0 {
		if sk, ok := r.(io.Seeker); ok {
			_, err = sk.Seek(off, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, r, off)
		}
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("lakeio: open %s at offset %d: %w", f.Path, off, err)
		}
	}
	return rc, nil
}

type closeBoth struct {
	io.ReadCloser
	fs filesystem.Interface
}

func (c *closeBoth) Close() error {
	err := c.ReadCloser.Close()
	if ferr := c.fs.Close(); err == nil {
		err = ferr
	}
	return err
}

// sourceReader remembers the first error of the stored bytes' reader, to
// tell an I/O failure from a corrupt gzip stream.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// lineEmitter turns lines (with their endings) into Raw elements and
// counts them.
type lineEmitter struct {
	ctx          context.Context
	path         string
	emit         func(transforms.Raw)
	lines, blank int64 // not yet added to the counters
}

// line emits the line read at offset off (its ending is stripped: "\n",
// "\r\n", or a lone "\r" at the end of the file). An empty line is only
// counted. A UTF-8 byte order mark at offset 0 is dropped.
func (e *lineEmitter) line(off int64, line []byte) {
	b := bytes.TrimSuffix(line, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if off == 0 && bytes.HasPrefix(b, utf8BOM) {
		b = b[len(utf8BOM):]
		off = int64(len(utf8BOM))
	}
	if len(b) == 0 {
		e.blank++
	} else {
		e.emit(transforms.Raw{Source: e.path + ":" + strconv.FormatInt(off, 10), Payload: bytes.Clone(b)})
		e.lines++
	}
	if e.lines+e.blank >= flushEvery {
		e.flush()
	}
}

func (e *lineEmitter) flush() {
	if e.lines > 0 {
		linesCounter.Inc(e.ctx, e.lines)
	}
	if e.blank > 0 {
		blankCounter.Inc(e.ctx, e.blank)
	}
	e.lines, e.blank = 0, 0
}

var errLineTooLong = errors.New("line too long")

// lineReader reads lines of any length up to max (without the ending).
type lineReader struct {
	br  *bufio.Reader
	buf []byte
	max int64
}

// next returns the next line with its ending ('\n', or none for a last
// line without one); the slice is valid until the next call. After the
// last line it returns io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	frag, err := lr.br.ReadSlice('\n')
	if err == nil {
		return lr.check(frag) // the common case: no copy
	}
	if cap(lr.buf) > 4*readBufSize {
		lr.buf = nil // do not keep a huge buffer for every later line
	}
	lr.buf = append(lr.buf[:0], frag...)
	for err == bufio.ErrBufferFull {
		if int64(len(lr.buf)) > lr.max+2 {
			return nil, errLineTooLong
		}
		frag, err = lr.br.ReadSlice('\n')
		lr.buf = append(lr.buf, frag...)
	}
	switch {
	case err == io.EOF && len(lr.buf) == 0:
		return nil, io.EOF
	case err == io.EOF, err == nil:
		return lr.check(lr.buf)
	default:
		return nil, err
	}
}

func (lr *lineReader) check(line []byte) ([]byte, error) {
	b := bytes.TrimSuffix(line, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if int64(len(b)) > lr.max {
		return nil, errLineTooLong
	}
	return line, nil
}

// skipLine discards up to and including the next '\n' and returns the
// bytes discarded; io.EOF if the input ended first.
func skipLine(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		frag, err := br.ReadSlice('\n')
		n += int64(len(frag))
		if err != bufio.ErrBufferFull {
			return n, err
		}
	}
}
