package lakeio

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/gcsx"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/transforms"
)

var (
	filesCounter = beam.NewCounter(transforms.MetricsNamespace, MetricFiles)
	bytesCounter = beam.NewCounter(transforms.MetricsNamespace, MetricBytes)
)

// matchSpec is one glob to expand. Root, Lake and Date are set by Read: a
// date without files is then legitimate (after checking the root).
type matchSpec struct {
	Glob string `beam:"glob"`
	Root string `beam:"root"`
	Lake string `beam:"lake"`
	Date string `beam:"date"`
}

// lakeFile is one file to read: the element of the splittable read.
type lakeFile struct {
	Path string `beam:"path"`
	// Size is the stored size in bytes (compressed, for gzip).
	Size int64 `beam:"size"`
	Gzip bool  `beam:"gzip"`
}

func globToSpec(glob string) matchSpec { return matchSpec{Glob: glob} }

// matchFn expands a glob into the files to read, in path order, skipping
// hidden names and directories.
type matchFn struct {
	Compression int  `json:"compression"`
	AllowEmpty  bool `json:"allow_empty"`
}

func (fn *matchFn) ProcessElement(ctx context.Context, spec matchSpec, emit func(lakeFile)) error {
	what := fmt.Sprintf("glob %s", spec.Glob)
	if spec.Date != "" {
		what = fmt.Sprintf("event date %s under %s", spec.Date, spec.Root)
	}
	if err := checkGCSGlob(spec.Glob); err != nil {
		return err
	}
	fsys, err := filesystem.New(ctx, spec.Glob)
	if err != nil {
		return fmt.Errorf("lakeio: %s: %w", what, err)
	}
	defer fsys.Close()
	paths, err := fsys.List(ctx, spec.Glob)
	if err != nil {
		return fmt.Errorf("lakeio: list %s: %w", spec.Glob, err)
	}
	sort.Strings(paths)
	var files, bytes int64
	var hidden, dirs int
	for _, p := range paths {
		name := baseName(p)
		if name == "" { // a gs:// "folder" placeholder object ("…/")
			dirs++
			continue
		}
		if name[0] == '.' || name[0] == '_' {
			hidden++
			continue
		}
		var size int64
		if strings.Contains(p, "://") {
			if size, err = fsys.Size(ctx, p); err != nil {
				return fmt.Errorf("lakeio: size of %s: %w", p, err)
			}
		} else {
			st, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("lakeio: %w", err)
			}
			if st.IsDir() {
				dirs++
				continue
			}
			if !st.Mode().IsRegular() {
				return fmt.Errorf("lakeio: %s is not a regular file", p)
			}
			size = st.Size()
		}
		gz, err := isGzip(p, Compression(fn.Compression))
		if err != nil {
			return err
		}
		emit(lakeFile{Path: p, Size: size, Gzip: gz})
		files++
		bytes += size
	}
	filesCounter.Inc(ctx, files)
	bytesCounter.Inc(ctx, bytes)
	if hidden > 0 || dirs > 0 {
		log.Infof(ctx, "lakeio: %s: skipped %d hidden file(s) (names starting with '.' or '_') and %d directories", what, hidden, dirs)
	}
	if files > 0 {
		log.Infof(ctx, "lakeio: %s: %d file(s), %d bytes", what, files, bytes)
		return nil
	}
	if spec.Date != "" {
		// A date without data is legitimate; a lake that is not there is not.
		if err := checkLakeDir(ctx, spec.Root, spec.Lake); err != nil {
			return err
		}
		log.Warnf(ctx, "lakeio: no files for %s (%s matches nothing): reading no lines for that date", what, spec.Glob)
		return nil
	}
	if !fn.AllowEmpty {
		return fmt.Errorf("lakeio: no file matches %s (hidden names skipped: %d)", spec.Glob, hidden)
	}
	log.Warnf(ctx, "lakeio: no file matches %s: reading nothing", spec.Glob)
	return nil
}

// baseName is the last path segment ("" for a path ending in "/").
func baseName(p string) string {
	if i := strings.LastIndexAny(p, "/"+string(filepath.Separator)); i >= 0 {
		return p[i+1:]
	}
	return p
}

// isGzip decides how to read a file.
func isGzip(path string, c Compression) (bool, error) {
	switch c {
	case CompressionGzip:
		return true, nil
	case CompressionNone:
		return false, nil
	}
	name := strings.ToLower(baseName(path))
	if strings.HasSuffix(name, ".gz") {
		return true, nil
	}
	switch filepath.Ext(name) {
	case ".jsonl", ".ndjson", ".json", ".csv", ".txt":
		return false, nil
	}
	return false, fmt.Errorf("lakeio: %s: unsupported file type: want *.jsonl, *.ndjson, *.json, *.csv or *.txt, "+
		"each optionally .gz, or any *.gz (or read it WithCompression)", path)
}

// splitGCS splits gs://bucket/object.
func splitGCS(path string) (bucket, object string) {
	bucket, object, _ = strings.Cut(strings.TrimPrefix(path, "gs://"), "/")
	return bucket, object
}

// newGCSClient makes a Cloud Storage client the way Beam's gs:// file
// system does: default credentials, else unauthenticated. It honours
// STORAGE_EMULATOR_HOST.
func newGCSClient(ctx context.Context) (*storage.Client, error) {
	c, err := gcsx.NewClient(ctx, storage.ScopeReadOnly)
	if err != nil {
		log.Warnf(ctx, "lakeio: falling back to unauthenticated Cloud Storage access: %v", err)
		c, err = gcsx.NewUnauthenticatedClient(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("lakeio: Cloud Storage client: %w", err)
	}
	return c, nil
}

// checkLakeDir fails when root, or the lake dataset directory under it,
// does not exist. Roots of other file systems than local and gs:// are
// not checked.
func checkLakeDir(ctx context.Context, root, lake string) error {
	hint := fmt.Sprintf("the root is the directory that contains %s/", lake)
	if isGCS(root) {
		bucket, prefix := splitGCS(root)
		client, err := newGCSClient(ctx)
		if err != nil {
			return err
		}
		defer client.Close()
		b := client.Bucket(bucket)
		if _, err := b.Attrs(ctx); err != nil {
			if errors.Is(err, storage.ErrBucketNotExist) {
				return fmt.Errorf("lakeio: lake root %s does not exist: there is no bucket %q", root, bucket)
			}
			return fmt.Errorf("lakeio: lake root %s: bucket %q: %w", root, bucket, err)
		}
		some := func(p string) (bool, error) {
			it := b.Objects(ctx, &storage.Query{Prefix: p})
			it.PageInfo().MaxSize = 1
			_, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return false, nil
			}
			return err == nil, err
		}
		dir := lake + "/"
		if prefix != "" {
			dir = prefix + "/" + dir
		}
		ok, err := some(dir)
		if err != nil {
			return fmt.Errorf("lakeio: lake root %s: list gs://%s/%s: %w", root, bucket, dir, err)
		}
		if ok {
			return nil
		}
		if prefix != "" {
			if ok, err := some(prefix + "/"); err == nil && !ok {
				return fmt.Errorf("lakeio: lake root %s does not exist: no object under it", root)
			}
		}
		return fmt.Errorf("lakeio: lake root %s has no %s/ directory (%s)", root, lake, hint)
	}
	if strings.Contains(root, "://") {
		return nil
	}
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("lakeio: lake root %s does not exist", root)
	case err != nil:
		return fmt.Errorf("lakeio: lake root: %w", err)
	case !st.IsDir():
		return fmt.Errorf("lakeio: lake root %s is not a directory", root)
	}
	st, err = os.Stat(filepath.Join(root, lake))
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("lakeio: lake root %s has no %s/ directory (%s)", root, lake, hint)
	case err != nil:
		return fmt.Errorf("lakeio: lake root: %w", err)
	case !st.IsDir():
		return fmt.Errorf("lakeio: lake root %s: %s is not a directory", root, filepath.Join(root, lake))
	}
	return nil
}
