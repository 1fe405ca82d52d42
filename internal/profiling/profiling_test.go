package profiling

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

var ballast [][]byte

// growHeap holds n more MiB live, in a function the profile can name.
//
//go:noinline
func growHeap(n int) {
	for range n {
		ballast = append(ballast, make([]byte, 1<<20))
	}
}

// TestPeakHeapKeepsTheLargestHeap grows the heap, checks, frees it and
// checks again: the file holds the profile of the peak, in which the
// allocation that made it is named with its size.
func TestPeakHeapKeepsTheLargestHeap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.prof")
	w, err := watchPeakHeap(path, time.Hour) // checks driven by hand below
	if err != nil {
		t.Fatal(err)
	}
	growHeap(64)
	runtime.GC()
	w.check()
	w.mu.Lock()
	peakBytes := w.peak.HeapInuse
	w.mu.Unlock()
	ballast = nil
	runtime.GC()
	w.check() // a smaller heap: the file must keep the peak's profile

	peak, err := w.stop()
	if err != nil {
		t.Fatal(err)
	}
	if peak.HeapInuse != peakBytes || peak.HeapInuse < 64<<20 || peak.Profiles < 2 {
		t.Errorf("peak %+v; want the 64 MiB check (%d bytes in use), written at least twice", peak, peakBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	prof, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("%s is not a profile: %v", path, err)
	}
	inuse := -1
	for i, st := range prof.SampleType {
		if st.Type == "inuse_space" {
			inuse = i
		}
	}
	if inuse < 0 {
		t.Fatalf("no inuse_space in %v", prof.SampleType)
	}
	var held int64
	for _, s := range prof.Sample {
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if strings.HasSuffix(l.Function.Name, ".growHeap") {
					held += s.Value[inuse]
				}
			}
		}
	}
	// Heap profiles are sampled and scaled: allow a little either way.
	if held < 56<<20 || held > 72<<20 {
		t.Errorf("the profile holds %d bytes in use from growHeap, want about 64 MiB", held)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".heap.prof.*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func TestPeakHeapRejectsAnUnwritablePath(t *testing.T) {
	_, err := PeakHeap(filepath.Join(t.TempDir(), "no", "such", "dir", "heap.prof"), 0)
	if err == nil || !strings.Contains(err.Error(), "heap profile") {
		t.Errorf("err = %v, want a heap profile error", err)
	}
}
