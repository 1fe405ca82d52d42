package lakewriter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/lakeio"
)

// fileExt is the extension of every file written: gzip JSON lines, the
// catalog's lake format.
const fileExt = "jsonl.gz"

var (
	filesWritten           = beam.NewCounter(transforms.MetricsNamespace, MetricFilesWritten)
	linesWritten           = beam.NewCounter(transforms.MetricsNamespace, MetricLinesWritten)
	bytesWritten           = beam.NewCounter(transforms.MetricsNamespace, MetricBytesWritten)
	filesExisting          = beam.NewCounter(transforms.MetricsNamespace, MetricFilesExisting)
	deadLetterFilesWritten = beam.NewCounter(transforms.MetricsNamespace, MetricDeadLetterFilesWritten)
	deadLettersWritten     = beam.NewCounter(transforms.MetricsNamespace, MetricDeadLettersWritten)
)

// cleanRoot is lakeio.CleanRoot with this package's error prefix: both
// packages accept the same roots.
func cleanRoot(root string) (string, error) {
	clean, err := lakeio.CleanRoot(root)
	if err != nil {
		return "", fmt.Errorf("lakewriter: %s", strings.TrimPrefix(err.Error(), "lakeio: "))
	}
	return clean, nil
}

// writeFn writes the lines of one pane of one (dataset, hour, shard) key
// into new files, then releases their ack IDs.
type writeFn struct {
	Root              string `json:"root"`
	MaxEvents         int    `json:"max_events"`
	MaxBytes          int64  `json:"max_bytes"`
	GzipLevel         int    `json:"gzip_level"`
	DeadLetterDataset string `json:"dead_letter_dataset"`

	store store
	zw    *gzip.Writer
	buf   bytes.Buffer
}

func (fn *writeFn) Setup(ctx context.Context) error {
	st, err := openStore(ctx, fn.Root)
	if err != nil {
		return err
	}
	fn.store = st
	return nil
}

func (fn *writeFn) Teardown() error {
	if fn.store == nil {
		return nil
	}
	err := fn.store.close()
	fn.store = nil
	return err
}

func (fn *writeFn) ProcessElement(ctx context.Context, pane typex.PaneInfo, key string, values func(*pending) bool,
	emitFile func(File), emitAck func(string), emitDead func(schemas.DeadLetter)) error {
	k, err := parseGroupKey(key)
	if err != nil {
		return err
	}
	var lines []pending
	var p pending
	for values(&p) {
		lines = append(lines, p)
		p = pending{}
	}
	// Sorted, a pane's files depend only on its contents, whatever order a
	// retry iterates them in: a retry writes the same names.
	slices.SortFunc(lines, func(a, b pending) int { return bytes.Compare(a.Line, b.Line) })
	deadLetters := k.Dataset == fn.DeadLetterDataset
	partition := catalog.Lake{Name: k.Dataset}.PartitionDir(k.Hour)
	for n, chunk := range fn.chunks(lines) {
		data, digest, err := fn.compress(chunk)
		if err != nil {
			return fmt.Errorf("lakewriter: compressing a file of %s: %w", partition, err)
		}
		rel := fmt.Sprintf("%s/part-%s-p%d-s%d-%d-%s.%s", partition, k.Hour.Format("20060102T15"), pane.Index, k.Shard, n, digest, fileExt)
		path, existed, err := fn.store.create(ctx, rel, data)
		if err != nil {
			return err
		}
		f := File{
			Path: path, Dataset: k.Dataset, Partition: strings.TrimPrefix(partition, k.Dataset+"/"),
			Shard: k.Shard, Pane: pane.Index, Lines: int64(len(chunk)), Bytes: int64(len(data)), Existed: existed,
			DeadLetters: deadLetters,
		}
		if existed {
			log.Infof(ctx, "lakewriter: %s already written with the same contents (a retry or a restarted job): %d lines kept, nothing replaced", path, f.Lines)
		} else {
			log.Infof(ctx, "lakewriter: wrote %s: %d lines, %d bytes (pane %d, shard %d)", path, f.Lines, f.Bytes, f.Pane, f.Shard)
		}
		emitFile(f)
		// Only now are these lines durable: release their messages.
		for _, l := range chunk {
			if deadLetters {
				var d schemas.DeadLetter
				if err := json.Unmarshal(l.Line, &d); err != nil {
					return fmt.Errorf("lakewriter: dead letter in %s does not decode: %w", path, err)
				}
				emitDead(d)
			}
			if l.AckID != "" {
				emitAck(l.AckID)
			}
		}
	}
	return nil
}

// chunks cuts sorted lines into files of at most MaxEvents lines and
// MaxBytes uncompressed bytes (a longer line alone).
func (fn *writeFn) chunks(lines []pending) [][]pending {
	var out [][]pending
	start, size := 0, int64(0)
	for i, l := range lines {
		n := int64(len(l.Line)) + 1
		if i > start && (i-start >= fn.MaxEvents || size+n > fn.MaxBytes) {
			out = append(out, lines[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(lines) {
		out = append(out, lines[start:])
	}
	return out
}

// compress gzips lines (no modification time in the header: equal lines,
// equal bytes) and returns the bytes and the first 16 hex digits of the
// SHA-256 of the uncompressed contents.
func (fn *writeFn) compress(lines []pending) ([]byte, string, error) {
	fn.buf.Reset()
	if fn.zw == nil {
		zw, err := gzip.NewWriterLevel(&fn.buf, fn.GzipLevel)
		if err != nil {
			return nil, "", err
		}
		fn.zw = zw
	} else {
		fn.zw.Reset(&fn.buf)
	}
	h := sha256.New()
	for _, l := range lines {
		h.Write(l.Line)
		h.Write(newline)
		if _, err := fn.zw.Write(l.Line); err != nil {
			return nil, "", err
		}
		if _, err := fn.zw.Write(newline); err != nil {
			return nil, "", err
		}
	}
	if err := fn.zw.Close(); err != nil {
		return nil, "", err
	}
	// The buffer is reused by the next file: the caller writes it first.
	return fn.buf.Bytes(), hex.EncodeToString(h.Sum(nil))[:16], nil
}

var newline = []byte{'\n'}

// countFiles adds the files of a pane to the counters. It runs after a
// GroupByKey on a single key, so its bundles never run concurrently: prism
// (v2.77) loses the increments of one of two bundles that report a counter
// it has not resolved yet at the same time (it keeps one pending payload
// per counter ID), which counting in the concurrent write bundles showed
// as short totals.
func countFiles(ctx context.Context, _ int, files func(*File) bool) {
	var f File
	for files(&f) {
		if f.Existed {
			filesExisting.Inc(ctx, 1)
		}
		if f.DeadLetters {
			deadLetterFilesWritten.Inc(ctx, 1)
			deadLettersWritten.Inc(ctx, f.Lines)
		} else {
			filesWritten.Inc(ctx, 1)
			linesWritten.Inc(ctx, f.Lines)
			bytesWritten.Inc(ctx, f.Bytes)
		}
		f = File{}
	}
}

func init() {
	register.Function3x0(countFiles)
	register.Iter1[File]()
	register.DoFn7x1[context.Context, typex.PaneInfo, string, func(*pending) bool, func(File), func(string), func(schemas.DeadLetter), error](&writeFn{})
	register.Iter1[pending]()
	register.Emitter1[File]()
	register.Emitter1[string]()
	register.Emitter1[schemas.DeadLetter]()
}
