package testkit

import (
	"flag"
	"testing"
)

// UseRunner points the rest of the test at a portable job server: it sets
// Beam's --runner, --endpoint and --environment_type=LOOPBACK flags (the
// SDK workers then run in the test binary, so Collect still works) and
// restores their values in the test's cleanup. Pipelines built by the code
// under test go through runners.Run, which reads these flags exactly as
// for a user's `--runner=flink --endpoint=… --environment_type=LOOPBACK`.
// Not for parallel tests.
func UseRunner(t testing.TB, runner, endpoint string) {
	t.Helper()
	set := map[string]string{"runner": runner, "endpoint": endpoint, "environment_type": "LOOPBACK"}
	for name, value := range set {
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("testkit.UseRunner: flag --%s is not defined (import github.com/railyard-dev/railyard/runners)", name)
		}
		old := f.Value.String()
		if err := f.Value.Set(value); err != nil {
			t.Fatalf("testkit.UseRunner: --%s=%s: %v", name, value, err)
		}
		t.Cleanup(func() { _ = f.Value.Set(old) })
	}
}
