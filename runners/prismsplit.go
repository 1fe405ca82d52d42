package runners

import (
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

// PrismNoSplitExperiment is the prism experiment that turns off the
// runner-initiated splitting of slow bundles.
//
// Why: prism 2.77 loses state updates when it splits a bundle of a stateful
// stage that holds two elements of one key. The split hands the residual
// element back to the pending pool and marks its key free while the
// primary, still running, goes on to write that key's state; the next
// bundle for the key is built with a copy of the state taken before that
// write lands, and its own write then overwrites it. Measured with
// scripts/bench-speed.sh --events 20000 --rate 1000: without the
// experiment the user-score totals of 10 of 15 runs missed 0.6–5.1 % of
// the events; with it, 0 of 6 did (and, logging every state read, 0 stale
// reads against 124 in one run without it). railyard's stateful transforms (DedupeStream, the streaming
// views' pane accumulation) do not need runner splits, and the Pub/Sub
// source checkpoints itself.
const PrismNoSplitExperiment = "prism_disable_sdf_split"

// UsePrismNoSplit adds PrismNoSplitExperiment to --experiments, keeping
// any the user gave. Run calls it for streaming jobs on prism; tests that
// run stateful transforms on prism through ptest call it in TestMain.
func UsePrismNoSplit() {
	var exps []string
	if *jobopts.Experiments != "" {
		exps = strings.Split(*jobopts.Experiments, ",")
	}
	if slices.Contains(exps, PrismNoSplitExperiment) {
		return
	}
	*jobopts.Experiments = strings.Join(append(exps, PrismNoSplitExperiment), ",")
}
