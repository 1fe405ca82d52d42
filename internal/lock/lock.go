package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"

	"github.com/railyard-dev/railyard/internal/clock"
)

// DefaultLease is how long a lock stays valid without renewal.
const DefaultLease = 2 * time.Minute

// Info is what a lock says about its holder.
type Info struct {
	// Holder names the process: host and pid.
	Holder string `json:"holder"`
	// Token is random per acquisition: it tells two acquisitions by one
	// process apart.
	Token string `json:"token"`
	// RunID is the run the lock protects, when the holder knows it.
	RunID    string    `json:"run_id,omitempty"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
	// Generation is the file backend's version counter (Cloud Storage keeps
	// its own).
	Generation int64 `json:"generation,omitempty"`
}

func (i Info) String() string {
	s := i.Holder
	if i.RunID != "" {
		s += " (run " + i.RunID + ")"
	}
	return s + ", lease until " + i.Expires.UTC().Format(time.RFC3339)
}

// Options configure a Locker.
type Options struct {
	// Lease is how long a lock is valid without renewal (default
	// DefaultLease); it is renewed every Lease/3.
	Lease time.Duration
	// Clock is the time source (default the real clock).
	Clock clock.Clock
	// Storage opens the Cloud Storage client for gs:// locks (default: the
	// client library's, which honours STORAGE_EMULATOR_HOST).
	Storage func(ctx context.Context) (*storage.Client, error)
	// Holder names this process in lock objects (default host:pid).
	Holder string
	// Log receives renewals that failed and takeovers (default: discard).
	Log *slog.Logger
}

// Locker hands out leases on keys.
type Locker struct {
	url  string
	be   backend
	opts Options
}

// backend stores lock objects with compare-and-swap on a generation.
type backend interface {
	// create writes info under key if nothing is there (errExists if
	// something is) and returns the new generation.
	create(ctx context.Context, key string, info Info) (int64, error)
	// read returns the lock under key and its generation (errNotFound).
	read(ctx context.Context, key string) (Info, int64, error)
	// replace writes info if key is still at generation gen (errConflict
	// otherwise) and returns the new generation.
	replace(ctx context.Context, key string, info Info, gen int64) (int64, error)
	// remove deletes key if it is still at generation gen.
	remove(ctx context.Context, key string, gen int64) error
	close() error
}

var (
	errExists   = errors.New("lock exists")
	errNotFound = errors.New("no lock")
	errConflict = errors.New("lock changed")
)

// Open returns a Locker for gs://BUCKET/PREFIX or file:///DIR.
func Open(ctx context.Context, rawURL string, opts Options) (*Locker, error) {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Holder == "" {
		host, _ := os.Hostname()
		opts.Holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("lock: %q is not a URL: use gs://BUCKET/PREFIX or file:///DIR", rawURL)
	}
	var be backend
	switch u.Scheme {
	case "gs":
		if u.Host == "" {
			return nil, fmt.Errorf("lock: %q has no bucket: use gs://BUCKET/PREFIX", rawURL)
		}
		open := opts.Storage
		if open == nil {
			open = func(ctx context.Context) (*storage.Client, error) { return storage.NewClient(ctx) }
		}
		client, err := open(ctx)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		be = &gcsBackend{client: client, bucket: u.Host, prefix: strings.Trim(u.Path, "/")}
	case "file":
		if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("lock: %q: a file lock needs an absolute directory, file:///DIR", rawURL)
		}
		fb, err := newFileBackend(u.Path)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		be = fb
	default:
		return nil, fmt.Errorf("lock: %q: use gs://BUCKET/PREFIX (several machines) or file:///DIR (one machine)", rawURL)
	}
	return &Locker{url: rawURL, be: be, opts: opts}, nil
}

// String is the lock URL.
func (l *Locker) String() string { return l.url }

// Close releases the backend's resources (not the leases).
func (l *Locker) Close() error { return l.be.close() }

// Lease is a held lock, renewed in the background until Release.
type Lease struct {
	l      *Locker
	key    string
	mu     sync.Mutex
	info   Info
	gen    int64
	lost   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// Key is the lock's key.
func (s *Lease) Key() string { return s.key }

// Lost is closed when the lease could not be renewed before it expired:
// the work it protects must stop.
func (s *Lease) Lost() <-chan struct{} { return s.lost }

// Info is the lock's current contents.
func (s *Lease) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// TryAcquire takes the lock on key for runID. When another holder has a
// lease that has not expired, it returns a nil Lease and that holder's
// Info. A lock whose lease expired is taken over.
func (l *Locker) TryAcquire(ctx context.Context, key, runID string) (*Lease, *Info, error) {
	for try := 0; try < 5; try++ {
		now := l.opts.Clock.Now().UTC()
		info := Info{Holder: l.opts.Holder, Token: token(), RunID: runID, Acquired: now, Expires: now.Add(l.opts.Lease)}
		gen, err := l.be.create(ctx, key, info)
		if err == nil {
			return l.start(key, info, gen), nil, nil
		}
		if !errors.Is(err, errExists) {
			return nil, nil, fmt.Errorf("lock %s: %w", key, err)
		}
		cur, curGen, err := l.be.read(ctx, key)
		if errors.Is(err, errNotFound) {
			continue // released in between: try to create again
		}
		if err != nil {
			return nil, nil, fmt.Errorf("lock %s: %w", key, err)
		}
		if cur.Expires.After(now) {
			return nil, &cur, nil
		}
		gen, err = l.be.replace(ctx, key, info, curGen)
		if errors.Is(err, errConflict) || errors.Is(err, errNotFound) {
			continue // someone renewed, released or took it over first
		}
		if err != nil {
			return nil, nil, fmt.Errorf("lock %s: %w", key, err)
		}
		l.opts.Log.Warn("took over an expired lock", "key", key, "previous_holder", cur.Holder, "previous_run", cur.RunID,
			"expired", cur.Expires.UTC().Format(time.RFC3339))
		return l.start(key, info, gen), nil, nil
	}
	return nil, nil, fmt.Errorf("lock %s: contended, gave up after 5 tries", key)
}

// Read returns the lock on key if one is held (expired or not).
func (l *Locker) Read(ctx context.Context, key string) (*Info, error) {
	info, _, err := l.be.read(ctx, key)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return &info, nil
}

func (l *Locker) start(key string, info Info, gen int64) *Lease {
	s := &Lease{l: l, key: key, info: info, gen: gen, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go s.renew()
	return s
}

// renew extends the lease every third of the lease time until Release, or
// until it fails past the expiry.
func (s *Lease) renew() {
	defer close(s.done)
	c := s.l.opts.Clock
	every := s.l.opts.Lease / 3
	for {
		select {
		case <-s.stop:
			return
		case <-c.After(every):
		}
		s.mu.Lock()
		next := s.info
		gen := s.gen
		s.mu.Unlock()
		now := c.Now().UTC()
		next.Expires = now.Add(s.l.opts.Lease)
		ctx, cancel := context.WithTimeout(context.Background(), every)
		newGen, err := s.l.be.replace(ctx, s.key, next, gen)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.info, s.gen = next, newGen
			s.mu.Unlock()
			continue
		}
		expired := !s.Info().Expires.After(c.Now())
		if errors.Is(err, errConflict) || errors.Is(err, errNotFound) || expired {
			s.l.opts.Log.Error("lost a lock: its lease could not be renewed", "key", s.key, "error", err.Error())
			close(s.lost)
			return
		}
		s.l.opts.Log.Warn("renewing a lock failed; retrying", "key", s.key, "error", err.Error())
	}
}

// Release stops renewing and deletes the lock if it is still this lease's.
func (s *Lease) Release(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	select {
	case <-s.lost:
		return nil // someone else may hold it now: leave it
	default:
	}
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	err := s.l.be.remove(ctx, s.key, gen)
	if errors.Is(err, errConflict) || errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lock %s: release: %w", s.key, err)
	}
	return nil
}

func token() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func encode(info Info) []byte {
	b, _ := json.Marshal(info)
	return b
}

func decode(key string, b []byte) (Info, error) {
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("lock %s holds %q, not a railyard lock: %w", key, truncate(string(b), 80), err)
	}
	return info, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
