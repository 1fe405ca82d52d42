package testkit

import (
	"bytes"
	"slices"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

var (
	mu        sync.Mutex
	collected = map[string][]any{}
)

type collectFn struct {
	Key string `json:"key"`
}

func (fn *collectFn) ProcessElement(x beam.X) {
	mu.Lock()
	defer mu.Unlock()
	collected[fn.Key] = append(collected[fn.Key], x)
}

func init() {
	register.DoFn1x0[beam.X](&collectFn{})
}

// Collect adds a step that keeps every element of col under key. Only
// loopback workers in this process (prism as the tests run it) can hand
// them back; key must be unique to the test, e.g. t.Name()+"/rows".
func Collect(s beam.Scope, key string, col beam.PCollection) {
	beam.ParDo0(s.Scope("testkit.Collect"), &collectFn{Key: key}, col)
}

// Elements returns a copy of what was collected under key so far, as T; an
// element of another type fails the test.
func Elements[T any](t testing.TB, key string) []T {
	t.Helper()
	mu.Lock()
	xs := slices.Clone(collected[key])
	mu.Unlock()
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		v, ok := x.(T)
		if !ok {
			t.Fatalf("testkit: %s: collected a %T, want %T", key, x, *new(T))
		}
		out = append(out, v)
	}
	return out
}

// Take is Elements, then forgets key.
func Take[T any](t testing.TB, key string) []T {
	t.Helper()
	out := Elements[T](t, key)
	mu.Lock()
	delete(collected, key)
	mu.Unlock()
	return out
}

// SyncBuffer is a bytes.Buffer safe for writers in other goroutines and a
// reader.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
