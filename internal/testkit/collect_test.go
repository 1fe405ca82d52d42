package testkit

import (
	"fmt"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) { ptest.MainWithDefault(m, "prism") }

// TestCollect runs a pipeline on prism and reads back exactly its elements,
// per key; Take forgets them, Elements does not.
func TestCollect(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	Collect(s, t.Name()+"/ints", beam.Create(s, 3, 1, 2))
	Collect(s, t.Name()+"/strings", beam.Create(s, "a", "b"))
	ptest.RunAndValidate(t, p)

	ints := Elements[int](t, t.Name()+"/ints")
	slices.Sort(ints)
	if fmt.Sprint(ints) != "[1 2 3]" {
		t.Fatalf("ints %v", ints)
	}
	strs := Take[string](t, t.Name()+"/strings")
	slices.Sort(strs)
	if fmt.Sprint(strs) != "[a b]" {
		t.Fatalf("strings %v", strs)
	}
	if again := Elements[string](t, t.Name()+"/strings"); len(again) != 0 {
		t.Fatalf("after Take: %v", again)
	}
	if again := Elements[int](t, t.Name()+"/ints"); len(again) != 3 {
		t.Fatalf("Elements forgot: %v", again)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			fmt.Fprintf(&b, "%d", i)
		}()
	}
	for range 4 {
		<-done
	}
	got := []byte(b.String())
	slices.Sort(got)
	if string(got) != "0123" {
		t.Fatalf("got %q", b.String())
	}
}
