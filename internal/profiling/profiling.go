package profiling

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// StartCPU starts a CPU profile of this process into path. The returned
// stop ends it and closes the file.
func StartCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// DefaultPeakCheck is how often PeakHeap looks at the heap.
const DefaultPeakCheck = 5 * time.Second

// Peak is what PeakHeap saw: the largest Go heap in use (the spans holding
// objects), the heap memory obtained from the system at that moment, and
// when.
type Peak struct {
	HeapInuse uint64
	HeapSys   uint64
	At        time.Time
	// Profiles is how many times the file was rewritten (once per new peak).
	Profiles int
}

// PeakHeap checks the Go heap every interval (DefaultPeakCheck when zero)
// and, each time the heap in use exceeds every earlier check, writes a heap
// profile to path (through a temporary file and a rename, so that path
// always holds a whole profile). The first check is immediate. The
// returned stop ends the checks and reports the peak and the first write
// error, if any.
func PeakHeap(path string, interval time.Duration) (stop func() (Peak, error), err error) {
	w, err := watchPeakHeap(path, interval)
	if err != nil {
		return nil, err
	}
	return w.stop, nil
}

func watchPeakHeap(path string, interval time.Duration) (*peakWatcher, error) {
	if interval <= 0 {
		interval = DefaultPeakCheck
	}
	w := &peakWatcher{path: path, done: make(chan struct{}), exited: make(chan struct{})}
	// The first check always writes (any heap exceeds none): an unwritable
	// path fails here rather than at the first peak.
	w.check()
	if w.err != nil {
		return nil, w.err
	}
	go w.loop(interval)
	return w, nil
}

type peakWatcher struct {
	path         string
	done, exited chan struct{}

	mu   sync.Mutex
	peak Peak
	err  error
}

func (w *peakWatcher) stop() (Peak, error) {
	close(w.done)
	<-w.exited
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.err
}

func (w *peakWatcher) loop(interval time.Duration) {
	defer close(w.exited)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.check()
		}
	}
}

func (w *peakWatcher) check() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.mu.Lock()
	defer w.mu.Unlock()
	if ms.HeapInuse <= w.peak.HeapInuse {
		return
	}
	w.peak = Peak{HeapInuse: ms.HeapInuse, HeapSys: ms.HeapSys, At: time.Now(), Profiles: w.peak.Profiles}
	if err := writeHeap(w.path); err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.peak.Profiles++
}

// writeHeap writes the heap profile (in-use and allocated space, as
// `go tool pprof -sample_index` selects) beside path, then renames it.
func writeHeap(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(tmp, 0); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("heap profile: %w", err)
	}
	// CreateTemp makes the file private; a profile is as readable as any
	// file the command writes.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}
