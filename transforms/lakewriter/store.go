package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	iofs "io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/gcsx"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// store creates whole files, never replacing one.
type store interface {
	// create makes the file rel (slash-separated, under the root) with
	// data and returns once it is durable. If rel exists already, it
	// writes nothing and returns existed = true.
	create(ctx context.Context, rel string, data []byte) (path string, existed bool, err error)
	close() error
}

// openStore opens the store of a clean root (lakeio.CleanRoot).
func openStore(ctx context.Context, root string) (store, error) {
	if isGCS(root) {
		c, err := newGCSClient(ctx)
		if err != nil {
			return nil, err
		}
		bucket, prefix := splitGCS(root)
		return &gcsStore{client: c, bucket: bucket, prefix: prefix}, nil
	}
	return localStore{root: root}, nil
}

func isGCS(path string) bool { return strings.HasPrefix(path, "gs://") }

// splitGCS splits gs://bucket/object.
func splitGCS(path string) (bucket, object string) {
	bucket, object, _ = strings.Cut(strings.TrimPrefix(path, "gs://"), "/")
	return bucket, object
}

// newGCSClient makes a read-write Cloud Storage client as Beam's gs://
// file system does (default credentials, else unauthenticated); it honours
// STORAGE_EMULATOR_HOST.
func newGCSClient(ctx context.Context) (*storage.Client, error) {
	c, err := gcsx.NewClient(ctx, storage.ScopeReadWrite)
	if err != nil {
		log.Warnf(ctx, "lakewriter: falling back to unauthenticated Cloud Storage access: %v", err)
		c, err = gcsx.NewUnauthenticatedClient(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("lakewriter: Cloud Storage client: %w", err)
	}
	return c, nil
}

// gcsStore writes objects with a DoesNotExist precondition: an object
// appears only when its upload is finalised, and never replaces another.
type gcsStore struct {
	client         *storage.Client
	bucket, prefix string
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (g *gcsStore) create(ctx context.Context, rel string, data []byte) (string, bool, error) {
	name := rel
	if g.prefix != "" {
		name = g.prefix + "/" + rel
	}
	path := "gs://" + g.bucket + "/" + name
	w := g.client.Bucket(g.bucket).Object(name).If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ContentType = "application/gzip"
	// The whole object fits one chunk: a single request, retried whole by
	// the client (the precondition makes the retry safe).
	w.ChunkSize = min(len(data)+1, 16<<20)
	// The server checks the bytes it stored against this checksum.
	w.CRC32C = crc32.Checksum(data, castagnoli)
	w.SendCRC32C = true
	_, werr := w.Write(data)
	err := w.Close()
	if werr != nil && err == nil {
		err = werr
	}
	switch {
	case err == nil:
		return path, false, nil
	case preconditionFailed(err):
		return path, true, nil
	}
	return path, false, fmt.Errorf("lakewriter: write %s: %w", path, err)
}

func preconditionFailed(err error) bool {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
		return true
	}
	return status.Code(err) == codes.FailedPrecondition
}

func (g *gcsStore) close() error { return g.client.Close() }

// localStore writes a hidden temporary file, fsyncs it, hard-links it to
// its name (which fails if the name exists: the link is the exclusive
// create) and fsyncs the directory, so that a name only ever shows a whole,
// durable file.
type localStore struct {
	root string
}

func (l localStore) create(_ context.Context, rel string, data []byte) (string, bool, error) {
	path := filepath.Join(l.root, filepath.FromSlash(rel))
	dir := filepath.Dir(path)
	if err := mkdirAllSync(dir); err != nil {
		return path, false, fmt.Errorf("lakewriter: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return path, false, fmt.Errorf("lakewriter: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file private; lake files are for every reader.
	err = tmp.Chmod(0o644)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return path, false, fmt.Errorf("lakewriter: write %s: %w", tmp.Name(), err)
	}
	existed := false
	if err := os.Link(tmp.Name(), path); err != nil {
		if !errors.Is(err, iofs.ErrExist) {
			return path, false, fmt.Errorf("lakewriter: %w", err)
		}
		existed = true
	}
	// Also when the name existed: the run that linked it may have died
	// before this fsync.
	if err := syncDir(dir); err != nil {
		return path, false, fmt.Errorf("lakewriter: %w", err)
	}
	return path, existed, nil
}

func (localStore) close() error { return nil }

// mkdirAllSync creates dir and its missing parents, fsyncing the parent of
// each directory it creates so that the new entries survive a crash.
func mkdirAllSync(dir string) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, iofs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// CheckRoot checks, before a job starts, that files can be written under a
// lake root: a gs:// root's bucket must exist; a local root is created if
// needed and must be a writable directory.
func CheckRoot(ctx context.Context, root string) error {
	root, err := cleanRoot(root)
	if err != nil {
		return err
	}
	if isGCS(root) {
		c, err := newGCSClient(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		bucket, _ := splitGCS(root)
		if _, err := c.Bucket(bucket).Attrs(ctx); err != nil {
			if errors.Is(err, storage.ErrBucketNotExist) {
				return fmt.Errorf("lakewriter: lake root %s: there is no bucket %q", root, bucket)
			}
			return fmt.Errorf("lakewriter: lake root %s: bucket %q: %w", root, bucket, err)
		}
		return nil
	}
	if err := mkdirAllSync(root); err != nil {
		return fmt.Errorf("lakewriter: lake root %s: %w", root, err)
	}
	f, err := os.CreateTemp(root, ".lakewriter-check-*")
	if err != nil {
		return fmt.Errorf("lakewriter: lake root %s is not writable: %w", root, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
