package speedjob

import (
	"strings"
	"testing"
	"time"
)

// TestPlanRejectsBadFlags: every bad flag is named in one error.
func TestPlanRejectsBadFlags(t *testing.T) {
	c := Config{Subscription: "speed", MaxMessages: 20000}
	c.BQ.Project = "p"
	_, err := c.plan(time.Now())
	if err == nil {
		t.Fatal("plan accepted a bad subscription and --max_messages 20000")
	}
	for _, want := range []string{`--subscription "speed" is not projects/PROJECT/subscriptions/NAME`, "--max_messages 20000 is outside 1..10000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	c = Config{Subscription: "projects/p/subscriptions/speed", MaxMessages: 5000}
	c.BQ.Project = "p"
	if _, err := c.plan(time.Now()); err != nil {
		t.Errorf("plan refused valid flags: %v", err)
	}
}
