package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// fileBackend keeps each lock as DIR/KEY.lock. Every compare-and-swap runs
// under an exclusive flock(2) on DIR/.guard, held only for the step itself;
// the file's generation counter is part of its contents.
type fileBackend struct {
	dir string
}

func newFileBackend(dir string) (*fileBackend, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &fileBackend{dir: dir}, nil
}

func (b *fileBackend) path(key string) (string, error) {
	p := filepath.Join(b.dir, filepath.FromSlash(key)+".lock")
	if !strings.HasPrefix(p, b.dir+string(filepath.Separator)) {
		return "", fmt.Errorf("lock key %q leaves the lock directory", key)
	}
	return p, nil
}

// guarded runs fn while holding the directory's guard.
func (b *fileBackend) guarded(fn func() error) error {
	g, err := os.OpenFile(filepath.Join(b.dir, ".guard"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer g.Close()
	if err := syscall.Flock(int(g.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("flock %s: %w", g.Name(), err)
	}
	defer syscall.Flock(int(g.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	return fn()
}

func (b *fileBackend) load(p, key string) (Info, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, errNotFound
	}
	if err != nil {
		return Info{}, err
	}
	return decode(key, data)
}

// store writes atomically: a crash leaves the old or the new contents.
func (b *fileBackend) store(p string, info Info) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, encode(info), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (b *fileBackend) create(_ context.Context, key string, info Info) (int64, error) {
	p, err := b.path(key)
	if err != nil {
		return 0, err
	}
	err = b.guarded(func() error {
		if _, err := os.Stat(p); err == nil {
			return errExists
		}
		info.Generation = 1
		return b.store(p, info)
	})
	return 1, err
}

func (b *fileBackend) read(_ context.Context, key string) (info Info, gen int64, err error) {
	p, err := b.path(key)
	if err != nil {
		return Info{}, 0, err
	}
	err = b.guarded(func() error {
		info, err = b.load(p, key)
		return err
	})
	return info, info.Generation, err
}

func (b *fileBackend) replace(_ context.Context, key string, info Info, gen int64) (newGen int64, err error) {
	p, err := b.path(key)
	if err != nil {
		return 0, err
	}
	err = b.guarded(func() error {
		cur, err := b.load(p, key)
		if err != nil {
			return err
		}
		if cur.Generation != gen {
			return errConflict
		}
		info.Generation = gen + 1
		newGen = info.Generation
		return b.store(p, info)
	})
	return newGen, err
}

func (b *fileBackend) remove(_ context.Context, key string, gen int64) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	return b.guarded(func() error {
		cur, err := b.load(p, key)
		if err != nil {
			return err
		}
		if cur.Generation != gen {
			return errConflict
		}
		return os.Remove(p)
	})
}

func (b *fileBackend) close() error { return nil }
