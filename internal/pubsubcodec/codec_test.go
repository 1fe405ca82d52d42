package pubsubcodec

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/railyard-dev/railyard/internal/gcpclient"
)

// randomRequest builds a request with the shapes publishers send: empty
// and large data, no or several attributes (empty keys and values
// included), non-ASCII text, with and without an ordering key.
func randomRequest(r *rand.Rand) *pubsubpb.PublishRequest {
	words := []string{"", "a", "event_id", "ünïcødé", "2026-11-26T10:15:42.123Z", strings.Repeat("x", 300), "日本語"}
	req := &pubsubpb.PublishRequest{Topic: "projects/p/topics/t" + strconv.Itoa(r.IntN(3))}
	if r.IntN(10) == 0 {
		req.Topic = ""
	}
	for range r.IntN(20) {
		m := &pubsubpb.PubsubMessage{}
		if n := r.IntN(4); n > 0 {
			m.Data = make([]byte, []int{0, 1, 200, 20_000}[n])
			for i := range m.Data {
				m.Data[i] = byte(r.UintN(256))
			}
		}
		if n := r.IntN(5); n > 0 {
			m.Attributes = map[string]string{}
			for range n {
				m.Attributes[words[r.IntN(len(words))]] = words[r.IntN(len(words))]
			}
		}
		if r.IntN(3) == 0 {
			m.OrderingKey = words[1+r.IntN(len(words)-1)]
		}
		req.Messages = append(req.Messages, m)
	}
	return req
}

// TestAppendPublishRequestRoundTrip: for random requests, the encoding
// decodes to the request given and has protobuf's size.
func TestAppendPublishRequestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		req := randomRequest(r)
		b, ok := AppendPublishRequest(nil, req)
		if !ok {
			t.Fatalf("request %d fell back: %v", i, req)
		}
		if len(b) != proto.Size(req) {
			t.Fatalf("request %d: %d bytes, protobuf's size is %d", i, len(b), proto.Size(req))
		}
		var got pubsubpb.PublishRequest
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !proto.Equal(&got, req) {
			t.Fatalf("request %d round trip:\n got %v\nwant %v", i, &got, req)
		}
	}
}

// TestCodecFallsBack: what the direct encoder does not handle goes to the
// proto codec, with the same bytes or the same refusal.
func TestCodecFallsBack(t *testing.T) {
	std := encoding.GetCodecV2(grpcproto.Name)
	withUnknown := &pubsubpb.PubsubMessage{Data: []byte("u")}
	withUnknown.ProtoReflect().SetUnknown([]byte{0xa0, 0x06, 0x01}) // field 100, varint 1
	cases := map[string]any{
		"message id":      &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{{Data: []byte("d"), MessageId: "m1"}}},
		"publish time":    &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{{PublishTime: timestamppb.Now()}}},
		"unknown fields":  &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{withUnknown}},
		"nil message":     &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{nil}},
		"bad UTF-8 value": &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{{Attributes: map[string]string{"k": "\xff"}}}},
		"bad UTF-8 key":   &pubsubpb.PublishRequest{Topic: "t", Messages: []*pubsubpb.PubsubMessage{{Attributes: map[string]string{"\xfe": "v"}}}},
		"bad UTF-8 topic": &pubsubpb.PublishRequest{Topic: "\xff"},
		"other message":   &pubsubpb.GetTopicRequest{Topic: "projects/p/topics/t"},
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			if req, ok := v.(*pubsubpb.PublishRequest); ok {
				if _, direct := AppendPublishRequest(nil, req); direct {
					t.Fatal("encoded directly")
				}
			}
			got, gotErr := Codec{}.Marshal(v)
			want, wantErr := std.Marshal(v)
			if (gotErr == nil) != (wantErr == nil) || string(got.Materialize()) != string(want.Materialize()) {
				t.Fatalf("codec: %x, %v; proto codec: %x, %v", got.Materialize(), gotErr, want.Materialize(), wantErr)
			}
		})
	}
}

// TestCodecOverGRPC publishes through the Pub/Sub client's generated
// Publish with the codec forced, to pstest: the messages arrive intact.
func TestCodecOverGRPC(t *testing.T) {
	ctx := context.Background()
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	defer srv.Close()
	client, err := gcpclient.Config{Project: "p", PubSubEndpoint: srv.Addr}.PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	const topic = "projects/p/topics/events"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	req := &pubsubpb.PublishRequest{Topic: topic}
	for i := range 250 {
		req.Messages = append(req.Messages, &pubsubpb.PubsubMessage{
			Data:       []byte(`{"event_id":"e` + strconv.Itoa(i) + `"}`),
			Attributes: map[string]string{"event_id": "e" + strconv.Itoa(i), "schema_version": "1"},
		})
	}
	resp, err := client.TopicAdminClient.Publish(ctx, req, gax.WithGRPCOptions(grpc.ForceCodecV2(Codec{})))
	if err != nil || len(resp.MessageIds) != 250 {
		t.Fatalf("publish: %v, %d ids", err, len(resp.GetMessageIds()))
	}
	msgs := srv.Messages()
	if len(msgs) != 250 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, m := range msgs {
		id := m.Attributes["event_id"]
		if string(m.Data) != `{"event_id":"`+id+`"}` || m.Attributes["schema_version"] != "1" || len(m.Attributes) != 2 {
			t.Fatalf("message %s %v", m.Data, m.Attributes)
		}
	}
}

// BenchmarkMarshal compares the codec with gRPC's proto codec on a request
// like the gateway's: 100 events of ~200 bytes with three attributes.
func BenchmarkMarshal(b *testing.B) {
	req := &pubsubpb.PublishRequest{Topic: "projects/railyard-bench/topics/game-events"}
	for i := range 100 {
		id := "0a1b2c3d-4e5f-6071-8293-a4b5c6d7" + strconv.Itoa(1000+i)
		req.Messages = append(req.Messages, &pubsubpb.PubsubMessage{
			Data:       []byte(`{"event_id":"` + id + `","user":"user12_AmberCockatoo","team":"AmberCockatoo","score":137,"event_time":"2026-11-26T10:15:42.123Z","platform":"android","schema_version":1}`),
			Attributes: map[string]string{"event_id": id, "event_time": "2026-11-26T10:15:42.123Z", "schema_version": "1"},
		})
	}
	for name, c := range map[string]encoding.CodecV2{"proto": encoding.GetCodecV2(grpcproto.Name), "pubsubcodec": Codec{}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(proto.Size(req)))
			for b.Loop() {
				out, err := c.Marshal(req)
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
	}
}
