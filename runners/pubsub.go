package runners

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/protox"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/reflectx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/protobuf/proto"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/pubsubsource"
)

// PubSubReadURN is the URN of Dataflow's native Pub/Sub source, the
// transform Beam's pubsubio.Read puts in the pipeline.
const PubSubReadURN = "beam:transform:pubsub_read:v1"

// DataflowIDAttribute is the message attribute Dataflow's Pub/Sub source
// deduplicates on: the ingest gateway sets it to the event ID.
const DataflowIDAttribute = schemas.AttrEventID

func init() {
	register.DoFn1x2[[]byte, transforms.Raw, error](&dataflowMessageToRaw{})
}

// ReadPubSub reads cfg.Subscription as an unbounded PCollection of
// transforms.Raw timestamped with each message's event time, on whichever
// runner --runner selects, so that pipeline code does not change:
//
//   - dataflow: Dataflow's native Pub/Sub source (what Beam's pubsubio.Read
//     expands to), reading attributes, with TimestampAttribute
//     cfg.EventTimeAttribute (default "event_time"; "-" means the publish
//     time) and IDAttribute "event_id" (Dataflow deduplicates on it).
//     Dataflow acks messages itself once its checkpoint holds them, and
//     rejects a message whose timestamp attribute does not parse, where
//     pubsubsource falls back to the publish time. cfg.Endpoint,
//     IdleAdvance, AckDeadline, MaxMessages and StopAfterIdle do not apply,
//     and in AckByCaller mode the Raws carry no ack ID (see
//     AcknowledgePubSub).
//   - every other runner: pubsubsource.Read(s, cfg).
//
// The Dataflow transform is built here rather than by calling Beam's
// pubsubio.Read: that package imports
// google.golang.org/genproto/googleapis/pubsub/v1, which the genproto
// version this module needs (pulled in by cloud.google.com/go/pubsub/v2)
// no longer contains, so pubsubio does not compile in this module. The
// transform, its payload and the decoding of its output are the same.
//
// It panics on an invalid cfg, like pubsubsource.Read.
func ReadPubSub(s beam.Scope, cfg pubsubsource.Config) beam.PCollection {
	if RunnerName() != "dataflow" {
		return pubsubsource.Read(s, cfg)
	}
	// Validate as the native source would, so a bad Config fails the same
	// way on every runner.
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.AckMode == pubsubsource.AckByCaller {
		log.Warnf(context.Background(), "railyard: ReadPubSub on dataflow: AckByCaller has no effect; Dataflow acks %s itself when its checkpoint holds the messages", cfg.Subscription)
	}
	tsAttr := cfg.EventTimeAttribute
	switch tsAttr {
	case "":
		tsAttr = pubsubsource.DefaultEventTimeAttribute
	case pubsubsource.PublishTimeOnly:
		tsAttr = ""
	}
	s = s.Scope("pubsubio.Read")
	payload := &pipepb.PubSubReadPayload{
		Subscription:       cfg.Subscription,
		IdAttribute:        DataflowIDAttribute,
		TimestampAttribute: tsAttr,
		WithAttributes:     true,
	}
	out := beam.External(s, PubSubReadURN, protox.MustEncode(payload), nil,
		[]beam.FullType{typex.New(reflectx.ByteSlice)}, false)
	return beam.ParDo(s, &dataflowMessageToRaw{Subscription: cfg.Subscription}, out[0])
}

// ReadPubSubWithProgress is ReadPubSub that also returns the reader's
// progress reports (pubsubsource.ReadWithProgress), every `every` of
// processing time. On dataflow the native source reports nothing to the
// pipeline: progress is then an empty PCollection (Dataflow shows its
// watermark in its own monitoring instead), with a warning.
func ReadPubSubWithProgress(s beam.Scope, cfg pubsubsource.Config, every time.Duration) (raws, progress beam.PCollection) {
	if RunnerName() != "dataflow" {
		return pubsubsource.ReadWithProgress(s, cfg, every)
	}
	log.Warnf(context.Background(), "railyard: ReadPubSubWithProgress on dataflow: Dataflow's Pub/Sub source gives the pipeline no watermark, so no progress is reported for %s", cfg.Subscription)
	return ReadPubSub(s, cfg), beam.CreateList(s.Scope("no progress on dataflow"), []pubsubsource.Progress{})
}

// AcknowledgePubSub acks ack IDs of messages read by ReadPubSub in
// AckByCaller mode: pubsubsource.Acknowledge on every runner but dataflow,
// where Dataflow has acked the messages itself and there is nothing to do.
func AcknowledgePubSub(s beam.Scope, cfg pubsubsource.Config, ackIDs beam.PCollection) {
	if RunnerName() != "dataflow" {
		pubsubsource.Acknowledge(s, cfg, ackIDs)
		return
	}
	if t := ackIDs.Type().Type(); t != reflect.TypeOf("") {
		panic(fmt.Sprintf("runners.AcknowledgePubSub: ackIDs must be a PCollection<string>, got %v", t))
	}
}

// dataflowMessageToRaw decodes the PubsubMessage protos of Dataflow's
// source (WithAttributes) into transforms.Raw; the element timestamp,
// set by Dataflow from the timestamp attribute, is kept.
type dataflowMessageToRaw struct {
	Subscription string `json:"subscription"`
}

func (fn *dataflowMessageToRaw) ProcessElement(b []byte) (transforms.Raw, error) {
	var m pubsubpb.PubsubMessage
	if err := proto.Unmarshal(b, &m); err != nil {
		return transforms.Raw{}, fmt.Errorf("runners: decoding a Pub/Sub message from Dataflow's source on %s: %w", fn.Subscription, err)
	}
	id := m.GetMessageId()
	if id == "" {
		// Not every Dataflow source version fills in the message ID;
		// the ID attribute names the message as well.
		id = DataflowIDAttribute + "=" + m.GetAttributes()[DataflowIDAttribute]
	}
	var attrs map[string]string
	if len(m.GetAttributes()) > 0 {
		attrs = m.GetAttributes()
	}
	return transforms.Raw{
		Source:     pubsubsource.MessageSource(fn.Subscription, id),
		Payload:    m.GetData(),
		Attributes: attrs,
	}, nil
}
