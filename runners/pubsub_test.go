package runners

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	df "google.golang.org/api/dataflow/v1b3"
	"google.golang.org/protobuf/proto"

	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/pubsubsource"
)

const testSubscription = "projects/railyard-dry-run/subscriptions/speed"

func rawSummary(r transforms.Raw) string {
	return r.Source + "|" + string(r.Payload) + "|" + transforms.AttributesJSON(r.Attributes)
}

func init() {
	register.Function1x1(rawSummary)
}

// pubsubPipeline reads the test subscription with ReadPubSub into a DoFn.
func pubsubPipeline(cfg pubsubsource.Config) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo(s.Scope("Summarize"), rawSummary, ReadPubSub(s.Scope("ReadEvents"), cfg))
	return p
}

// modelOf builds p and returns its portable pipeline proto (no network).
func modelOf(t *testing.T, p *beam.Pipeline) *pipepb.Pipeline {
	t.Helper()
	edges, _, err := p.Build()
	if err != nil {
		t.Fatal(err)
	}
	env, err := graphx.CreateEnvironment(context.Background(), graphx.URNEnvDocker, func(context.Context) string { return "image" })
	if err != nil {
		t.Fatal(err)
	}
	model, err := graphx.Marshal(edges, &graphx.Options{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	return model
}

// transformsWithURN returns the transforms of model with the given URN.
func transformsWithURN(model *pipepb.Pipeline, urn string) []*pipepb.PTransform {
	var out []*pipepb.PTransform
	for _, pt := range model.GetComponents().GetTransforms() {
		if pt.GetSpec().GetUrn() == urn {
			out = append(out, pt)
		}
	}
	return out
}

func hasTransformNamed(model *pipepb.Pipeline, part string) bool {
	for _, pt := range model.GetComponents().GetTransforms() {
		if strings.Contains(pt.GetUniqueName(), part) {
			return true
		}
	}
	return false
}

// TestReadPubSubChoosesSourceByRunner builds the same pipeline code for
// prism, flink and dataflow: Dataflow's native Pub/Sub read (with its
// payload) on dataflow only, railyard's splittable reader elsewhere.
func TestReadPubSubChoosesSourceByRunner(t *testing.T) {
	cfg := pubsubsource.Config{Subscription: testSubscription}
	for _, runner := range []string{"prism", "flink", "FlinkRunner"} {
		t.Run(runner, func(t *testing.T) {
			setFlags(t, "runner", runner)
			model := modelOf(t, pubsubPipeline(cfg))
			if n := len(transformsWithURN(model, PubSubReadURN)); n != 0 {
				t.Errorf("%d %s transform(s) on %s", n, PubSubReadURN, runner)
			}
			if !hasTransformNamed(model, "pubsubsource.Read") {
				t.Errorf("no pubsubsource.Read transform on %s", runner)
			}
		})
	}

	for _, tc := range []struct {
		eventTimeAttribute, wantTimestampAttribute string
	}{
		{"", "event_time"},
		{"ts", "ts"},
		{pubsubsource.PublishTimeOnly, ""},
	} {
		t.Run("dataflow/"+tc.eventTimeAttribute, func(t *testing.T) {
			setFlags(t, "runner", "dataflow")
			cfg := cfg
			cfg.EventTimeAttribute = tc.eventTimeAttribute
			model := modelOf(t, pubsubPipeline(cfg))
			if hasTransformNamed(model, "pubsubsource.Read") {
				t.Error("the native reader is in the Dataflow pipeline")
			}
			reads := transformsWithURN(model, PubSubReadURN)
			if len(reads) != 1 {
				t.Fatalf("%d %s transforms, want 1", len(reads), PubSubReadURN)
			}
			var payload pipepb.PubSubReadPayload
			if err := proto.Unmarshal(reads[0].GetSpec().GetPayload(), &payload); err != nil {
				t.Fatal(err)
			}
			want := &pipepb.PubSubReadPayload{Subscription: testSubscription, IdAttribute: "event_id",
				TimestampAttribute: tc.wantTimestampAttribute, WithAttributes: true}
			if !proto.Equal(&payload, want) {
				t.Errorf("payload %v, want %v", &payload, want)
			}
			for _, pc := range reads[0].GetOutputs() {
				if b := model.GetComponents().GetPcollections()[pc].GetIsBounded(); b != pipepb.IsBounded_UNBOUNDED {
					t.Errorf("read output is %v, want UNBOUNDED", b)
				}
			}
		})
	}
}

func TestReadPubSubRefusesInvalidConfig(t *testing.T) {
	for _, runner := range []string{"prism", "dataflow"} {
		t.Run(runner, func(t *testing.T) {
			setFlags(t, "runner", runner)
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `Subscription "speed" is not of the form projects/P/subscriptions/S`) {
					t.Errorf("recovered %v, want the Config error", r)
				}
			}()
			_, s := beam.NewPipelineWithRoot()
			ReadPubSub(s, pubsubsource.Config{Subscription: "speed"})
		})
	}
}

// TestReadPubSubDataflowDryRun submits a streaming pipeline reading Pub/Sub
// to Dataflow with --dry_run: the printed job is a streaming job whose
// model holds the native Pub/Sub read. Nothing leaves the machine but the
// staging bucket's attribute read, served on loopback.
func TestReadPubSubDataflowDryRun(t *testing.T) {
	fakeGCS(t)
	logs := captureBeamLog(t)
	setFlags(t, "runner", "dataflow", "dry_run", "true", "project", "railyard-dry-run",
		"region", "europe-west1", "staging_location", "gs://railyard-dry-run/staging",
		"job_name", "railyard-dry-run-pubsub", "environment_type", "")
	res, err := Run(context.Background(), pubsubPipeline(pubsubsource.Config{Subscription: testSubscription}), Streaming)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if res != nil {
		t.Errorf("dry run returned a result %v", res)
	}
	var job *df.Job
	var model string
	for _, m := range logs.messages() {
		switch {
		case strings.HasPrefix(m, "{") && strings.Contains(m, `"projectId"`):
			job = &df.Job{}
			if err := json.Unmarshal([]byte(m), job); err != nil {
				t.Fatalf("printed job is not JSON: %v", err)
			}
		case strings.Contains(m, "unique_name") && strings.Contains(m, "components"):
			model = m
		}
	}
	if job == nil || model == "" {
		t.Fatalf("dry run printed no job or no model")
	}
	if job.Type != "JOB_TYPE_STREAMING" {
		t.Errorf("job type %q, want JOB_TYPE_STREAMING", job.Type)
	}
	for _, want := range []string{PubSubReadURN, testSubscription, "event_id", "event_time"} {
		if !strings.Contains(model, want) {
			t.Errorf("model lacks %q", want)
		}
	}
	if strings.Contains(model, "pubsubsource.Read") {
		t.Error("model contains the native reader")
	}
}

// TestDataflowMessageToRaw runs the decoding of Dataflow's source output on
// prism: serialized PubsubMessages in, Raws out; an undecodable element
// fails the pipeline with a reason.
func TestDataflowMessageToRaw(t *testing.T) {
	enc := func(m *pubsubpb.PubsubMessage) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p, s := beam.NewPipelineWithRoot()
	in := beam.Create(s,
		enc(&pubsubpb.PubsubMessage{MessageId: "42", Data: []byte(`{"event_id":"e1"}`),
			Attributes: map[string]string{"event_id": "e1", "event_time": "2026-11-01T10:00:00Z"}}),
		enc(&pubsubpb.PubsubMessage{MessageId: "43", Data: []byte("no attributes")}),
		enc(&pubsubpb.PubsubMessage{Data: []byte("no id"), Attributes: map[string]string{"event_id": "e3"}}),
	)
	raws := beam.ParDo(s, &dataflowMessageToRaw{Subscription: testSubscription}, in)
	passert.Equals(s, beam.ParDo(s, rawSummary, raws),
		testSubscription+`/messages/42|{"event_id":"e1"}|{"event_id":"e1","event_time":"2026-11-01T10:00:00Z"}`,
		testSubscription+"/messages/43|no attributes|{}",
		testSubscription+"/messages/event_id=e3|no id|{\"event_id\":\"e3\"}",
	)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}

	p, s = beam.NewPipelineWithRoot()
	beam.ParDo(s, &dataflowMessageToRaw{Subscription: testSubscription}, beam.Create(s, []byte{0xff, 0xff}))
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), "decoding a Pub/Sub message from Dataflow's source on "+testSubscription) {
		t.Errorf("undecodable element: %v", err)
	}
}

// TestAcknowledgePubSubByRunner: the caller's acks go to
// pubsubsource.Acknowledge except on dataflow, which acks by itself.
func TestAcknowledgePubSubByRunner(t *testing.T) {
	cfg := pubsubsource.Config{Subscription: testSubscription, AckMode: pubsubsource.AckByCaller}
	for runner, want := range map[string]bool{"prism": true, "flink": true, "dataflow": false} {
		t.Run(runner, func(t *testing.T) {
			setFlags(t, "runner", runner)
			p, s := beam.NewPipelineWithRoot()
			raws := ReadPubSub(s, cfg)
			AcknowledgePubSub(s, cfg, beam.ParDo(s, rawSummary, raws))
			if got := hasTransformNamed(modelOf(t, p), "pubsubsource.Acknowledge"); got != want {
				t.Errorf("pubsubsource.Acknowledge in the %s pipeline: %v, want %v", runner, got, want)
			}
		})
	}
}
