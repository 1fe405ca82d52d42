package runners

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync/atomic"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime"
)

// knownSDKNoise is the one SDK-harness error line that railyard keeps out
// of a user's output. Beam Go v2.77's harness logs it at ERROR for every
// bundle of a stage that asks for bundle finalization after the DoFn
// instance's first one: exec.Plan.Finalize replaces the plan's bundle
// finalizer with a new one the DoFns never see, so the plan reports that
// its later bundles need no finalization and keeps no record of them;
// prism finalizes every bundle of such a stage all the same, and the
// harness answers "couldn't find plan in finalizing map". Nothing fails:
// railyard's Pub/Sub source notices the swapped finalizer and acks those
// bundles' messages from the checkpoint it resumes from (see the doc of
// transforms/pubsubsource). prism prints the harness's log entries through
// log/slog as "[SDK] <message>".
var knownSDKNoise = regexp.MustCompile(`\[SDK\] finalize bundle failed for instruction [^ :]+: couldn't find plan in finalizing map\s*$`)

// IsKnownSDKNoise reports whether a log entry (or a log record's message)
// is the known harmless SDK-harness line and nothing else.
func IsKnownSDKNoise(entry []byte) bool {
	entry = bytes.TrimRight(entry, "\r\n")
	return !bytes.ContainsAny(entry, "\n") && knownSDKNoise.Match(entry)
}

// sdkNoiseDropped counts the records and entries the filters dropped, over
// the process.
var sdkNoiseDropped atomic.Int64

// SDKNoiseDropped is how many times the known line was kept out of the
// output so far in this process.
func SDKNoiseDropped() int64 { return sdkNoiseDropped.Load() }

// SDKNoiseFilter is an io.Writer for the standard logger (log.SetOutput)
// that drops the known harmless SDK-harness line and passes everything
// else on.
type SDKNoiseFilter struct {
	w       io.Writer
	dropped atomic.Int64
}

// FilterSDKNoise wraps w. The standard logger writes each entry with one
// Write, so an entry is dropped or passed whole.
func FilterSDKNoise(w io.Writer) *SDKNoiseFilter { return &SDKNoiseFilter{w: w} }

func (f *SDKNoiseFilter) Write(p []byte) (int, error) {
	if IsKnownSDKNoise(p) {
		f.dropped.Add(1)
		sdkNoiseDropped.Add(1)
		return len(p), nil
	}
	return f.w.Write(p)
}

// Dropped is how many entries the filter has dropped.
func (f *SDKNoiseFilter) Dropped() int64 { return f.dropped.Load() }

// FilterSDKNoiseHandler wraps a log/slog handler so that it drops the
// known harmless SDK-harness record (level ERROR, the message above) and
// hands every other record to h.
func FilterSDKNoiseHandler(h slog.Handler) slog.Handler { return sdkNoiseHandler{h} }

type sdkNoiseHandler struct{ h slog.Handler }

func (s sdkNoiseHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s sdkNoiseHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && IsKnownSDKNoise([]byte(r.Message)) {
		sdkNoiseDropped.Add(1)
		return nil
	}
	return s.h.Handle(ctx, r)
}

func (s sdkNoiseHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sdkNoiseHandler{s.h.WithAttrs(as)}
}

func (s sdkNoiseHandler) WithGroup(name string) slog.Handler {
	return sdkNoiseHandler{s.h.WithGroup(name)}
}

// FilterDefaultSlog makes log/slog's default logger drop the known line.
// beam.Init replaces the default logger with a text handler on standard
// error (beam/log.SetupLoggingWithDefault), through which prism prints the
// harness's entries, so a program importing runners gets this done by an
// init hook that runs right after Beam's; a program that installs its own
// default logger later calls it again. It leaves log/slog's built-in
// handler (which writes through the standard logger) alone: wrapping it
// in a new default would feed the standard logger back into itself; use
// FilterSDKNoise on log.SetOutput there.
func FilterDefaultSlog() {
	h := slog.Default().Handler()
	if _, ok := h.(sdkNoiseHandler); ok || fmt.Sprintf("%T", h) == "*slog.defaultHandler" {
		return
	}
	slog.SetDefault(slog.New(FilterSDKNoiseHandler(h)))
}

func init() {
	// Registered after beam's own hooks (this package imports beam, whose
	// init registers the logging set-up first), so it wraps Beam's handler.
	runtime.RegisterInit(FilterDefaultSlog)
}
