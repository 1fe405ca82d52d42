package pubsubsource

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/transforms"
)

const testProject = "railyard-test"

// fixture is a pstest server with one topic and subscription.
type fixture struct {
	srv          *pstest.Server
	endpoint     string
	client       *pubsub.Client
	topic        string
	subscription string
}

// newFixture starts pstest and creates a topic and a subscription whose
// ack deadline is ackDeadline (at least 1s, see TestMain). With reactors,
// pstest is started directly with them (localstack takes none).
func newFixture(t testing.TB, ackDeadline time.Duration, reactors ...pstest.ServerReactorOption) *fixture {
	t.Helper()
	var srv *pstest.Server
	if len(reactors) == 0 {
		srv = localstack.StartForTest(t, localstack.Options{PubSub: true, Log: discard{}}).PubSubServer
	} else {
		srv = pstest.NewServerWithAddress("127.0.0.1:0", reactors...)
		t.Cleanup(func() { srv.Close() })
	}
	ctx := context.Background()
	c, err := gcpclient.Config{Project: testProject, PubSubEndpoint: srv.Addr}.PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	name := strings.NewReplacer("/", "-", "#", "-").Replace(t.Name())
	f := &fixture{srv: srv, endpoint: srv.Addr, client: c,
		topic:        fmt.Sprintf("projects/%s/topics/%s", testProject, name),
		subscription: fmt.Sprintf("projects/%s/subscriptions/%s", testProject, name)}
	if err := gcpclient.EnsureTopic(ctx, c, f.topic, ackDeadline, f.subscription); err != nil {
		t.Fatal(err)
	}
	return f
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// config returns a Config for the fixture's subscription.
func (f *fixture) config() Config {
	return Config{Subscription: f.subscription, Endpoint: f.endpoint, StopAfterIdle: 1500 * time.Millisecond,
		IdleAdvance: 500 * time.Millisecond, Pipeline: "test"}
}

// publish publishes a message and returns its ID.
func (f *fixture) publish(data string, attrs map[string]string) string {
	return f.srv.Publish(f.topic, []byte(data), attrs)
}

// publishTime returns the publish time of a message as Beam keeps it.
func (f *fixture) publishTime(t testing.TB, id string) time.Time {
	m := f.srv.Message(id)
	if m == nil {
		t.Fatalf("no message %s", id)
	}
	return time.UnixMilli(m.PublishTime.UnixMilli()).UTC()
}

// source returns the Raw Source of a message.
func (f *fixture) source(id string) string { return MessageSource(f.subscription, id) }

// pullAll pulls once (waiting up to pstest's 500 ms) without acking.
func (f *fixture) pullAll(t testing.TB) []*pubsubpb.ReceivedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := f.client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: f.subscription, MaxMessages: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetReceivedMessages()
}

// ackState returns, per message ID, pstest's count of acks.
func (f *fixture) ackState() map[string]*pstest.Message {
	m := map[string]*pstest.Message{}
	for _, msg := range f.srv.Messages() {
		m[msg.ID] = msg
	}
	return m
}

// ackedCount returns how many messages have been acked.
func (f *fixture) ackedCount() int {
	n := 0
	for _, m := range f.srv.Messages() {
		if m.Acks > 0 {
			n++
		}
	}
	return n
}

// rawLine renders an element as "source|payload|attributes|timestamp" for
// passert; attributes sorted, the ack ID attribute left out (its value is
// only known at run time).
func rawLine(ts beam.EventTime, r transforms.Raw) string {
	return line(r.Source, string(r.Payload), r.Attributes, ts.ToTime())
}

func line(source, payload string, attrs map[string]string, ts time.Time) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if k != AckIDAttribute {
			kv = append(kv, k+"="+attrs[k])
		}
	}
	return fmt.Sprintf("%s|%s|%s|%s", source, payload, strings.Join(kv, ","), ts.UTC().Format(time.RFC3339Nano))
}

// ackIDOf returns a Raw's ack ID attribute.
func ackIDOf(r transforms.Raw) string { return r.Attributes[AckIDAttribute] }

func init() {
	register.Function2x1(rawLine)
	register.Function1x1(ackIDOf)
}

// counter returns a railyard counter's committed value.
func counter(t testing.TB, res beam.PipelineResult, name string) int64 {
	t.Helper()
	if res == nil {
		t.Fatalf("no pipeline result")
	}
	q := res.Metrics().Query(func(r metrics.SingleResult) bool {
		return r.Namespace() == transforms.MetricsNamespace && r.Name() == name
	})
	var v int64
	for _, c := range q.Counters() {
		v += c.Result()
	}
	return v
}

var runKeys atomic.Int64

// runKey names one run of a test in the package-level maps DoFns write to
// (unique also under -count=N).
func runKey(t testing.TB) string { return fmt.Sprintf("%s#%d", t.Name(), runKeys.Add(1)) }
