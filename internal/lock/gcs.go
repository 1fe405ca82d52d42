package lock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
)

// gcsBackend keeps each lock as the object PREFIX/KEY.lock and relies on
// Cloud Storage's preconditions: DoesNotExist to create, GenerationMatch to
// replace and delete.
type gcsBackend struct {
	client *storage.Client
	bucket string
	prefix string
}

func (b *gcsBackend) object(key string) *storage.ObjectHandle {
	return b.client.Bucket(b.bucket).Object(path.Join(b.prefix, key+".lock"))
}

func (b *gcsBackend) write(ctx context.Context, o *storage.ObjectHandle, info Info) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // abandons the upload if Close is never reached
	w := o.NewWriter(ctx)
	w.ContentType = "application/json"
	w.CacheControl = "no-store"
	w.ChunkSize = 0 // one request: a lock is a few hundred bytes
	if _, err := w.Write(encode(info)); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return w.Attrs().Generation, nil
}

func (b *gcsBackend) create(ctx context.Context, key string, info Info) (int64, error) {
	gen, err := b.write(ctx, b.object(key).If(storage.Conditions{DoesNotExist: true}), info)
	if preconditionFailed(err) {
		return 0, errExists
	}
	return gen, err
}

func (b *gcsBackend) read(ctx context.Context, key string) (Info, int64, error) {
	r, err := b.object(key).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return Info{}, 0, errNotFound
	}
	if err != nil {
		return Info{}, 0, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return Info{}, 0, err
	}
	info, err := decode(key, data)
	return info, r.Attrs.Generation, err
}

func (b *gcsBackend) replace(ctx context.Context, key string, info Info, gen int64) (int64, error) {
	newGen, err := b.write(ctx, b.object(key).If(storage.Conditions{GenerationMatch: gen}), info)
	if preconditionFailed(err) {
		return 0, errConflict
	}
	if errors.Is(err, storage.ErrObjectNotExist) {
		return 0, errNotFound
	}
	return newGen, err
}

func (b *gcsBackend) remove(ctx context.Context, key string, gen int64) error {
	err := b.object(key).If(storage.Conditions{GenerationMatch: gen}).Delete(ctx)
	switch {
	case preconditionFailed(err):
		return errConflict
	case errors.Is(err, storage.ErrObjectNotExist):
		return errNotFound
	}
	return err
}

func (b *gcsBackend) close() error { return b.client.Close() }

func preconditionFailed(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed
}
