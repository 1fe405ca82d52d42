package runners

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

func TestUsePrismNoSplit(t *testing.T) {
	saved := *jobopts.Experiments
	t.Cleanup(func() { *jobopts.Experiments = saved })
	for _, tc := range []struct{ given, want string }{
		{"", PrismNoSplitExperiment},
		{"use_runner_v2,x", "use_runner_v2,x," + PrismNoSplitExperiment},
		{"a," + PrismNoSplitExperiment, "a," + PrismNoSplitExperiment},
	} {
		*jobopts.Experiments = tc.given
		UsePrismNoSplit()
		UsePrismNoSplit() // idempotent
		if got := *jobopts.Experiments; got != tc.want {
			t.Errorf("--experiments=%q: got %q, want %q", tc.given, got, tc.want)
		}
	}
}
