package bqsink

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/schemas"
)

// MetricDeadLettersWritten counts the dead letters AppendDeadLetters wrote.
const MetricDeadLettersWritten = "dead_letters_written"

var deadLettersWritten = beam.NewCounter(MetricNamespace, MetricDeadLettersWritten)

// AppendDeadLetters appends a streaming job's dead letters, keyed by
// DeadLetterInsertID and windowed as the caller wants them flushed, to the
// dead-letter table of cfg; it counts them in MetricDeadLettersWritten.
// A dead letter that cannot be written fails its bundle: there is nowhere
// left to keep it, and the failure makes the runner retry it (a streaming
// job's messages stay unacknowledged).
func AppendDeadLetters(s beam.Scope, cfg AppendConfig, keyed beam.PCollection) {
	s = s.Scope("bqsink.AppendDeadLetters")
	written := Append(s, cfg, keyed)
	beam.ParDo0(s, countDeadLettersWritten, written.Written)
	beam.ParDo0(s, failOnUnwritableDeadLetter, written.DeadLetters)
}

func countDeadLettersWritten(ctx context.Context, c PartitionCount) {
	deadLettersWritten.Inc(ctx, c.Rows)
}

func failOnUnwritableDeadLetter(d schemas.DeadLetter) error {
	return fmt.Errorf("bqsink: dead letter from %s (%s) could not be written to the dead-letter table: %s", d.Source, d.Reason, d.Detail)
}

func init() {
	register.Function2x0(countDeadLettersWritten)
	register.Function1x1(failOnUnwritableDeadLetter)
}
