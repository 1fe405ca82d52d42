package runners

import (
	"bytes"
	"io"
	"regexp"
	"sync/atomic"
)

// knownSDKNoise is the one SDK-harness error line that FilterSDKNoise keeps
// out of a user's output. Beam Go v2.77's harness logs it at ERROR for
// every bundle of a stage that asks for bundle finalization after the
// DoFn instance's first one: exec.Plan.Finalize replaces the plan's bundle
// finalizer with a new one the DoFns never see, so the plan reports that
// its later bundles need no finalization and keeps no record of them;
// prism finalizes every bundle of such a stage all the same, and the
// harness answers "couldn't find plan in finalizing map". Nothing fails:
// railyard's Pub/Sub source notices the swapped finalizer and acks those
// bundles' messages from the checkpoint it resumes from (see the doc of
// transforms/pubsubsource). prism prints the harness's log entries through
// log/slog as "[SDK] <message>".
var knownSDKNoise = regexp.MustCompile(`\[SDK\] finalize bundle failed for instruction [^ :]+: couldn't find plan in finalizing map\s*$`)

// IsKnownSDKNoise reports whether a log entry is the known harmless
// SDK-harness line (and nothing else).
func IsKnownSDKNoise(entry []byte) bool {
	entry = bytes.TrimRight(entry, "\r\n")
	return !bytes.ContainsAny(entry, "\n") && knownSDKNoise.Match(entry)
}

// SDKNoiseFilter is an io.Writer for the standard logger (log.SetOutput,
// which log/slog's default handler writes through too) that drops the
// known harmless SDK-harness line and passes everything else on.
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
		return len(p), nil
	}
	return f.w.Write(p)
}

// Dropped is how many entries the filter has dropped.
func (f *SDKNoiseFilter) Dropped() int64 { return f.dropped.Load() }
