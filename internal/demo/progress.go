package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal (progress bars) rather than a
// file or pipe (a line every so often).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// during runs fn and meanwhile shows that what is still going: on a
// terminal a bar that fills over the usual duration (it stops short of the
// end until fn returns), elsewhere a line every 30 s with the time spent
// and the usual time. It reports how long fn took.
func during(ctx context.Context, w io.Writer, what string, usual time.Duration, fn func() error) (time.Duration, error) {
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if isTerminal(w) {
			bar := progressbar.NewOptions64(int64(usual/time.Second),
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("  "+what),
				progressbar.OptionSetWidth(24),
				progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionSetPredictTime(false),
				progressbar.OptionThrottle(500*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					_ = bar.Finish()
					return
				case <-t.C:
					el := time.Since(start)
					bar.Describe(fmt.Sprintf("  %s (%s of usually %s)", what, el.Round(time.Second), usual.Round(time.Second)))
					_ = bar.Set64(min(int64(el/time.Second), int64(usual/time.Second)*99/100))
				}
			}
		}
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				fmt.Fprintf(w, "  … still %s: %s so far (usually %s)\n", what, time.Since(start).Round(time.Second), usual.Round(time.Second))
			}
		}
	}()
	err := fn()
	close(done)
	<-finished
	return time.Since(start), err
}
