package lakeio

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"   // gs://, honours STORAGE_EMULATOR_HOST
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths

	"github.com/railyard-dev/railyard/schemas/catalog"
)

// Metric names (namespace transforms.MetricsNamespace, "railyard").
// Physical lines read = MetricLines + MetricBlankLines.
const (
	// MetricFiles counts the files matched and read, each once however it
	// is split.
	MetricFiles = "lake_files"
	// MetricBytes sums the stored (for gzip files: compressed) sizes of
	// the files matched, each once however it is split.
	MetricBytes = "lake_bytes"
	// MetricLines counts the lines emitted as transforms.Raw.
	MetricLines = "lake_lines"
	// MetricBlankLines counts the empty lines skipped.
	MetricBlankLines = "lake_blank_lines"
)

// Defaults of the options.
const (
	// DefaultSplitSize is the desired size of the initial restrictions of an
	// uncompressed file (Beam's textio uses the same).
	DefaultSplitSize int64 = 64 << 20
	// DefaultMaxLineBytes is the longest line accepted (without its line
	// ending). A longer line fails the read, naming the file and offset.
	DefaultMaxLineBytes int64 = 64 << 20
)

// Compression says how files are decompressed.
type Compression int

const (
	// CompressionAuto decides by file name: "*.gz" is gzip; "*.jsonl",
	// "*.ndjson", "*.json", "*.csv" and "*.txt" are uncompressed; any
	// other name fails the read with an error naming the file.
	CompressionAuto Compression = iota
	// CompressionGzip reads every file as gzip, whatever its name.
	CompressionGzip
	// CompressionNone reads every file as uncompressed lines, whatever its
	// name.
	CompressionNone
)

func (c Compression) String() string {
	switch c {
	case CompressionAuto:
		return "auto"
	case CompressionGzip:
		return "gzip"
	case CompressionNone:
		return "none"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Option configures Read, ReadRange, ReadGlob and ReadAll.
type Option func(*options)

type options struct {
	lake         catalog.Lake
	splitSize    int64
	maxLineBytes int64
	compression  Compression
	allowEmpty   bool
}

func newOptions(opts []Option) (options, error) {
	o := options{splitSize: DefaultSplitSize, maxLineBytes: DefaultMaxLineBytes}
	o.lake, _ = catalog.Default().Lake(catalog.LakeGameEvents)
	for _, opt := range opts {
		opt(&o)
	}
	if o.lake.Name == "" || strings.ContainsAny(o.lake.Name, "/*?[\\") {
		return o, fmt.Errorf("lakeio: bad lake dataset name %q", o.lake.Name)
	}
	if o.splitSize < 1 {
		return o, fmt.Errorf("lakeio: split size %d: must be at least 1 byte", o.splitSize)
	}
	if o.maxLineBytes < 1 {
		return o, fmt.Errorf("lakeio: max line bytes %d: must be at least 1", o.maxLineBytes)
	}
	if o.compression < CompressionAuto || o.compression > CompressionNone {
		return o, fmt.Errorf("lakeio: unknown compression %v", o.compression)
	}
	return o, nil
}

// WithLake reads another lake dataset of the catalog instead of
// game_events (same layout: <root>/<name>/dt=YYYY-MM-DD/hr=HH/<files>).
func WithLake(l catalog.Lake) Option { return func(o *options) { o.lake = l } }

// WithSplitSize sets the desired size in bytes of the initial restrictions
// of uncompressed files (default DefaultSplitSize). A last piece of a
// quarter of that or less joins the one before it. Gzip files are never
// split. Small values are for tests.
func WithSplitSize(bytes int64) Option { return func(o *options) { o.splitSize = bytes } }

// WithMaxLineBytes sets the longest line accepted, without its line ending
// (default DefaultMaxLineBytes). A longer line fails the pipeline with an
// error naming the file and the line's offset.
func WithMaxLineBytes(n int64) Option { return func(o *options) { o.maxLineBytes = n } }

// WithCompression overrides the decision by file name (CompressionAuto).
func WithCompression(c Compression) Option { return func(o *options) { o.compression = c } }

// AllowEmpty lets a glob of ReadGlob or ReadAll match no file: it logs a
// warning and yields nothing. Without it such a glob fails the pipeline.
// (Read and ReadRange always allow a date without files.)
func AllowEmpty() Option { return func(o *options) { o.allowEmpty = true } }

// Read reads the lines of every file of the lake partitions of the given
// event dates (all hours: <root>/game_events/dt=YYYY-MM-DD/hr=*/*) as a
// PCollection<transforms.Raw>, one element per non-empty line, Source
// "path:offset". root is a local directory or gs://bucket[/prefix].
// Repeated dates are read once. A date without a partition directory yields
// nothing and a warning; a root without the lake dataset directory fails
// the pipeline. Read panics on arguments TryRead rejects.
func Read(s beam.Scope, root string, dates []civil.Date, opts ...Option) beam.PCollection {
	col, err := TryRead(s, root, dates, opts...)
	if err != nil {
		panic(err)
	}
	return col
}

// ReadRange is Read of the dates from through to, both included.
func ReadRange(s beam.Scope, root string, from, to civil.Date, opts ...Option) beam.PCollection {
	dates, err := Dates(from, to)
	if err != nil {
		panic(err)
	}
	return Read(s, root, dates, opts...)
}

// TryRead is Read returning construction errors (an empty or unsupported
// root, no dates, an invalid date, bad options) instead of panicking.
func TryRead(s beam.Scope, root string, dates []civil.Date, opts ...Option) (beam.PCollection, error) {
	o, err := newOptions(opts)
	if err != nil {
		return beam.PCollection{}, err
	}
	root, err = CleanRoot(root)
	if err != nil {
		return beam.PCollection{}, err
	}
	if len(dates) == 0 {
		return beam.PCollection{}, errors.New("lakeio: no dates to read")
	}
	dates = slices.Clone(dates)
	slices.SortFunc(dates, civil.Date.Compare)
	dates = slices.Compact(dates)
	var specs []any
	for _, d := range dates {
		if !d.IsValid() {
			return beam.PCollection{}, fmt.Errorf("lakeio: invalid date %v", d)
		}
		specs = append(specs, matchSpec{
			Glob: DateGlob(root, o.lake, d),
			Root: root,
			Lake: o.lake.Name,
			Date: d.String(),
		})
	}
	s = s.Scope("lakeio.Read")
	return expand(s, beam.Create(s, specs...), o), nil
}

// ReadGlob reads the lines of every file matching glob, like Read. A local
// glob follows filepath.Match; a gs:// glob is matched by Beam's GCS file
// system: "*" matches within one path segment, "**" across segments
// (in gs:// globs "?" cannot be used and "[…]" only after a "*"; such globs
// are rejected, see the package doc). Names
// starting with "." or "_" are skipped. A glob that matches nothing fails
// the pipeline unless AllowEmpty is given. ReadGlob panics on arguments
// TryReadGlob rejects.
func ReadGlob(s beam.Scope, glob string, opts ...Option) beam.PCollection {
	col, err := TryReadGlob(s, glob, opts...)
	if err != nil {
		panic(err)
	}
	return col
}

// TryReadGlob is ReadGlob returning construction errors instead of
// panicking.
func TryReadGlob(s beam.Scope, glob string, opts ...Option) (beam.PCollection, error) {
	o, err := newOptions(opts)
	if err != nil {
		return beam.PCollection{}, err
	}
	if glob, err = cleanGlob(glob); err != nil {
		return beam.PCollection{}, err
	}
	s = s.Scope("lakeio.ReadGlob")
	return expand(s, beam.Create(s, matchSpec{Glob: glob}), o), nil
}

// ReadAll reads the files matching each glob of a PCollection<string>, as
// ReadGlob does (local globs should be absolute: they are matched on the
// workers).
func ReadAll(s beam.Scope, globs beam.PCollection, opts ...Option) beam.PCollection {
	o, err := newOptions(opts)
	if err != nil {
		panic(err)
	}
	s = s.Scope("lakeio.ReadAll")
	return expand(s, beam.ParDo(s, globToSpec, globs), o)
}

// expand is the graph shared by every Read: match → reshuffle → read.
func expand(s beam.Scope, specs beam.PCollection, o options) beam.PCollection {
	files := beam.ParDo(s, &matchFn{Compression: int(o.compression), AllowEmpty: o.allowEmpty}, specs)
	// Spread the files over workers before the (splittable) read.
	files = beam.Reshuffle(s, files)
	return beam.ParDo(s, &readFn{SplitSize: o.splitSize, MaxLineBytes: o.maxLineBytes}, files)
}

// Dates returns the dates from through to, both included.
func Dates(from, to civil.Date) ([]civil.Date, error) {
	if !from.IsValid() || !to.IsValid() {
		return nil, fmt.Errorf("lakeio: invalid date range %v..%v", from, to)
	}
	if to.Before(from) {
		return nil, fmt.Errorf("lakeio: date range %v..%v ends before it starts", from, to)
	}
	var ds []civil.Date
	for d := from; !d.After(to); d = d.AddDays(1) {
		ds = append(ds, d)
	}
	return ds, nil
}

// CleanRoot checks a lake root and returns it in canonical form: a gs://
// root without trailing slashes, or a local directory made absolute (the
// workers must see the same path). It does not check that the root exists
// (see CheckRoot).
func CleanRoot(root string) (string, error) {
	root = strings.TrimSpace(root)
	if root == "" {
		return "", errors.New("lakeio: lake root is empty")
	}
	if strings.ContainsAny(root, "*?[") {
		return "", fmt.Errorf("lakeio: lake root %q contains glob characters", root)
	}
	if strings.HasPrefix(root, "gs://") {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(root, "gs://"), "/")
		if bucket == "" {
			return "", fmt.Errorf("lakeio: lake root %q has no bucket (want gs://bucket[/prefix])", root)
		}
		return strings.TrimRight(root, "/"), nil
	}
	if strings.Contains(root, "://") {
		return "", fmt.Errorf("lakeio: lake root %q: only local directories and gs:// are supported", root)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("lakeio: lake root %q: %w", root, err)
	}
	return abs, nil
}

// cleanGlob checks a glob's scheme; local globs are made absolute.
func cleanGlob(glob string) (string, error) {
	glob = strings.TrimSpace(glob)
	if glob == "" {
		return "", errors.New("lakeio: empty glob")
	}
	if strings.Contains(glob, "://") {
		if _, err := filesystem.New(context.Background(), glob); err != nil {
			return "", fmt.Errorf("lakeio: glob %q: %w", glob, err)
		}
		if err := checkGCSGlob(glob); err != nil {
			return "", err
		}
		return glob, nil
	}
	abs, err := filepath.Abs(glob)
	if err != nil {
		return "", fmt.Errorf("lakeio: glob %q: %w", glob, err)
	}
	return abs, nil
}

// DateGlob is the glob of every file of one event date under a clean root
// (see CleanRoot): "<root>/<lake>/dt=YYYY-MM-DD/hr=*/*".
func DateGlob(root string, lake catalog.Lake, d civil.Date) string {
	rel := lake.DateDir(d.In(time.UTC)) + "/hr=*/*"
	if isGCS(root) {
		return root + "/" + rel
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// CheckRoot reports whether a lake root holds the lake dataset directory
// (<root>/game_events, or the WithLake dataset's): it returns an error
// when the root or its bucket does not exist, or when it exists but has
// no such directory (often a root that points one level too deep). The
// read checks this itself on the workers when a date has no files;
// launchers may call it first to fail before submitting.
func CheckRoot(ctx context.Context, root string, opts ...Option) error {
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	root, err = CleanRoot(root)
	if err != nil {
		return err
	}
	return checkLakeDir(ctx, root, o.lake.Name)
}

func isGCS(path string) bool { return strings.HasPrefix(path, "gs://") }

// checkGCSGlob rejects gs:// globs that Beam's GCS listing would silently
// match against nothing: it parses the glob as a URL ("?" starts the
// query) and lists by the prefix before the first "*" (a "[" there is
// literal).
func checkGCSGlob(glob string) error {
	if !isGCS(glob) {
		return nil
	}
	if strings.Contains(glob, "?") {
		return fmt.Errorf("lakeio: glob %q: \"?\" cannot be used in gs:// globs (Beam's listing takes it as a URL query); use \"*\"", glob)
	}
	bracket, star := strings.Index(glob, "["), strings.Index(glob, "*")
	if bracket >= 0 && (star < 0 || bracket < star) {
		return fmt.Errorf("lakeio: glob %q: \"[…]\" can only follow a \"*\" in gs:// globs (Beam lists by the prefix before the first \"*\")", glob)
	}
	return nil
}
