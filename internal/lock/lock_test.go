package lock

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/localstack"
)

// backends returns a lock URL and Options.Storage per backend: a bucket
// on fake-gcs-server and a temporary directory.
func backends(t *testing.T) map[string]func(Options) Options {
	t.Helper()
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"locks"}})
	gcs := func(o Options) Options {
		o.Storage = func(ctx context.Context) (*storage.Client, error) { return stack.GCPConfig().Storage(ctx) }
		return o
	}
	return map[string]func(Options) Options{
		"gs://locks/railyard/test": gcs,
		"file://" + t.TempDir():    func(o Options) Options { return o },
	}
}

func open(t *testing.T, url string, with func(Options) Options, o Options) *Locker {
	t.Helper()
	l, err := Open(context.Background(), url, with(o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var t0 = time.Date(2026, 11, 2, 2, 15, 0, 0, time.UTC)

func TestLeaseExcludesRenewsAndReleases(t *testing.T) {
	ctx := context.Background()
	for url, with := range backends(t) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			fa, fb := clock.NewFake(t0), clock.NewFake(t0)
			a := open(t, url, with, Options{Clock: fa, Holder: "a", Lease: time.Minute})
			b := open(t, url, with, Options{Clock: fb, Holder: "b", Lease: time.Minute})
			key := "batch-daily/2026-11-01"

			la, held, err := a.TryAcquire(ctx, key, "run-a")
			if err != nil || la == nil || held != nil {
				t.Fatalf("first acquire: %v %v %v", la, held, err)
			}
			lb, held, err := b.TryAcquire(ctx, key, "run-b")
			if err != nil || lb != nil || held == nil || held.Holder != "a" || held.RunID != "run-a" || !held.Expires.Equal(t0.Add(time.Minute)) {
				t.Fatalf("second acquire while held: lease %v, holder %+v, %v", lb, held, err)
			}

			// a renews every 20 s of its clock: after 50 s of both clocks
			// its lease runs until 1m40s, past the original expiry.
			if !fa.WaitForWaiters(1, 10*time.Second) {
				t.Fatal("the renewer never waited")
			}
			for i := 0; i < 2; i++ {
				fa.Advance(20 * time.Second)
				waitFor(t, func() bool { return la.Info().Expires.Equal(fa.Now().Add(time.Minute)) }, "renewal")
			}
			fb.Advance(70 * time.Second) // past the first lease
			if lb, held, _ := b.TryAcquire(ctx, key, "run-b"); lb != nil || held == nil || held.Holder != "a" {
				t.Fatalf("a renewed lease was taken over: %v %+v", lb, held)
			}
			if info, err := b.Read(ctx, key); err != nil || info == nil || info.RunID != "run-a" {
				t.Fatalf("Read = %+v, %v", info, err)
			}

			// Released: b gets it at once.
			if err := la.Release(ctx); err != nil {
				t.Fatal(err)
			}
			lb, held, err = b.TryAcquire(ctx, key, "run-b")
			if err != nil || lb == nil {
				t.Fatalf("acquire after release: %v %+v %v", lb, held, err)
			}
			if err := lb.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if info, err := b.Read(ctx, key); err != nil || info != nil {
				t.Fatalf("after the last release the lock is still there: %+v %v", info, err)
			}
		})
	}
}

// TestDeadHolderExpires: a holder that stops renewing (its clock never
// moves: it is dead) loses the lock once the lease has expired, and learns
// it if it comes back.
func TestDeadHolderExpires(t *testing.T) {
	ctx := context.Background()
	for url, with := range backends(t) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			fa, fb := clock.NewFake(t0), clock.NewFake(t0)
			a := open(t, url, with, Options{Clock: fa, Holder: "a", Lease: time.Minute})
			b := open(t, url, with, Options{Clock: fb, Holder: "b", Lease: time.Minute})
			key := "sql-job/2026-11-01"
			la, _, err := a.TryAcquire(ctx, key, "run-a")
			if err != nil || la == nil {
				t.Fatal(err)
			}
			fb.Advance(59 * time.Second)
			if lb, _, _ := b.TryAcquire(ctx, key, "run-b"); lb != nil {
				t.Fatal("taken over before the lease expired")
			}
			fb.Advance(2 * time.Second)
			lb, held, err := b.TryAcquire(ctx, key, "run-b")
			if err != nil || lb == nil {
				t.Fatalf("expired lock not taken over: %+v %v", held, err)
			}
			// a wakes up and tries to renew: it must learn it lost the lock.
			if !fa.WaitForWaiters(1, 10*time.Second) {
				t.Fatal("the renewer never waited")
			}
			fa.Advance(20 * time.Second)
			select {
			case <-la.Lost():
			case <-time.After(10 * time.Second):
				t.Fatal("the old holder was not told it lost the lock")
			}
			if err := la.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if info, _ := b.Read(ctx, key); info == nil || info.Holder != "b" {
				t.Fatalf("the old holder's release removed the new holder's lock: %+v", info)
			}
			if err := lb.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOneWinner: many contenders at once, exactly one lease.
func TestOneWinner(t *testing.T) {
	ctx := context.Background()
	for url, with := range backends(t) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			const n = 8
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				wins []*Lease
			)
			for i := 0; i < n; i++ {
				l := open(t, url, with, Options{Holder: "c"})
				wg.Add(1)
				go func() {
					defer wg.Done()
					lease, _, err := l.TryAcquire(ctx, "j/2026-11-01", "")
					if err != nil {
						t.Error(err)
						return
					}
					if lease != nil {
						mu.Lock()
						wins = append(wins, lease)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(wins) != 1 {
				t.Fatalf("%d of %d contenders hold the lock", len(wins), n)
			}
			if err := wins[0].Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"s3://bucket/x", "gs:///nobucket", "file://relative/dir", "/tmp/locks"} {
		if _, err := Open(context.Background(), u, Options{}); err == nil || !strings.Contains(err.Error(), "lock:") {
			t.Errorf("Open(%q) = %v", u, err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
