package pubsubsource

import (
	"os"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) {
	// Tests use subscriptions with ack deadlines down to 1s. pstest keeps
	// its minimum in a package variable that its server goroutines read,
	// so it is set once here, before any server starts.
	pstest.SetMinAckDeadline(time.Second)
	code := ptest.MainRetWithDefault(m, "prism")
	jobServers.Stop()
	os.Exit(code)
}
