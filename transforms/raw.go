package transforms

import (
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Raw is one undecoded input record: a line of a lake file or a Pub/Sub
// message, with enough context to trace it and to dead-letter it whole.
type Raw struct {
	// Source says where the record came from: "path:offset" for a lake line
	// (offset of the line's first byte in the decompressed file), or
	// "projects/P/subscriptions/S/messages/ID" for a Pub/Sub message.
	Source string `beam:"source"`
	// Payload is the record byte for byte, without its line ending.
	Payload []byte `beam:"payload"`
	// Attributes are the message attributes; empty for lake lines.
	Attributes map[string]string `beam:"attributes"`
}

func init() {
	beam.RegisterType(reflect.TypeOf((*Raw)(nil)).Elem())
}
