package lakeio

import (
	"context"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/transforms"
)

// HourPartition is one hour directory of the lake
// (<root>/<lake>/dt=YYYY-MM-DD/hr=HH) with its files, the element of
// ReadHourPartitions. Its Read yields the lines of every file, in path
// order, exactly as Read's splittable reader does (same line rules, same
// errors, same lake_lines and lake_blank_lines counters).
type HourPartition struct {
	// Dir is the partition directory as listed, without a trailing slash.
	Dir string `beam:"dir"`
	// Date and Hour are its dt= and hr= values ("2026-11-01", "05").
	Date  string `beam:"date"`
	Hour  string `beam:"hour"`
	Files []File `beam:"files"`
	// MaxLineBytes is the longest line accepted (WithMaxLineBytes).
	MaxLineBytes int64 `beam:"max_line_bytes"`
}

// File is one file of a partition.
type File struct {
	Path string `beam:"path"`
	// Size is the stored size in bytes (compressed, for gzip).
	Size int64 `beam:"size"`
	Gzip bool  `beam:"gzip"`
}

// ReadHourPartitions lists the lake partitions of the given event dates as
// a PCollection<HourPartition>, one element per hour directory that holds
// at least one file, for transforms that process a whole hour in one DoFn
// invocation (HourPartition.Read). Listing follows Read: the same glob per
// date, hidden names and directories skipped, a missing date only warned
// about, a missing root an error, and the lake_files and lake_bytes
// counters. Files outside an hr=HH directory cannot match the glob. It
// panics on arguments TryRead rejects.
func ReadHourPartitions(s beam.Scope, root string, dates []civil.Date, opts ...Option) beam.PCollection {
	o, err := newOptions(opts)
	if err != nil {
		panic(err)
	}
	root, err = CleanRoot(root)
	if err != nil {
		panic(err)
	}
	if len(dates) == 0 {
		panic(errors.New("lakeio: no dates to read"))
	}
	dates = slices.Clone(dates)
	slices.SortFunc(dates, civil.Date.Compare)
	dates = slices.Compact(dates)
	var specs []any
	for _, d := range dates {
		if !d.IsValid() {
			panic(fmt.Errorf("lakeio: invalid date %v", d))
		}
		specs = append(specs, matchSpec{Glob: DateGlob(root, o.lake, d), Root: root, Lake: o.lake.Name, Date: d.String()})
	}
	s = s.Scope("lakeio.ReadHourPartitions")
	files := beam.ParDo(s, &matchFn{Compression: int(o.compression)}, beam.Create(s, specs...))
	byDir := beam.GroupByKey(s, beam.ParDo(s, keyByDir, files))
	return beam.ParDo(s, &toHourPartitionFn{MaxLineBytes: o.maxLineBytes}, byDir)
}

// keyByDir keys a file by its directory.
func keyByDir(f lakeFile) (string, lakeFile) {
	i := strings.LastIndexAny(f.Path, `/\`)
	return f.Path[:max(i, 0)], f
}

type toHourPartitionFn struct {
	MaxLineBytes int64 `json:"max_line_bytes"`
}

func (fn *toHourPartitionFn) ProcessElement(dir string, files func(*lakeFile) bool) (HourPartition, error) {
	p := HourPartition{Dir: dir, MaxLineBytes: fn.MaxLineBytes}
	hr := path.Base(strings.ReplaceAll(dir, `\`, "/"))
	dt := path.Base(path.Dir(strings.ReplaceAll(dir, `\`, "/")))
	var ok bool
	if p.Hour, ok = strings.CutPrefix(hr, "hr="); !ok {
		return p, fmt.Errorf("lakeio: %s is not an hour partition directory (hr=HH)", dir)
	}
	if p.Date, ok = strings.CutPrefix(dt, "dt="); !ok {
		return p, fmt.Errorf("lakeio: %s is not under a date partition directory (dt=YYYY-MM-DD)", dir)
	}
	var f lakeFile
	for files(&f) {
		p.Files = append(p.Files, File(f))
	}
	slices.SortFunc(p.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return p, nil
}

// Read calls emit with every non-empty line of the partition's files, in
// path order, as a transforms.Raw (Source "path:offset"; the payload is
// the caller's to keep), on the calling goroutine. It fails, naming the
// file, where Read's reader fails (corrupt gzip, a line too long, a file
// changed while read).
func (p HourPartition) Read(ctx context.Context, emit func(transforms.Raw)) error {
	fn := &readFn{MaxLineBytes: p.MaxLineBytes}
	defer fn.Teardown()
	for _, f := range p.Files {
		lf := lakeFile(f)
		rt := sdf.NewLockRTracker(offsetrange.NewTracker(fn.CreateInitialRestriction(lf)))
		if err := fn.ProcessElement(ctx, rt, lf, emit); err != nil {
			return err
		}
		if err := rt.GetError(); err != nil {
			return fmt.Errorf("lakeio: %s: %w", f.Path, err)
		}
	}
	return nil
}

func init() {
	beam.RegisterType(reflect.TypeOf((*HourPartition)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*File)(nil)).Elem())
	register.Function1x2(keyByDir)
	register.DoFn2x2[string, func(*lakeFile) bool, HourPartition, error](&toHourPartitionFn{})
	register.Iter1[lakeFile]()
}
