package ingest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/protobuf/proto"

	"github.com/railyard-dev/railyard/schemas"
)

// rpcLog is a pstest reactor that notes the message count and encoded size
// of every Publish RPC to one topic, and lets pstest serve it.
type rpcLog struct {
	topic string
	mu    sync.Mutex
	rpcs  [][2]int // messages, bytes
}

func newRPCLog(topic string) *rpcLog {
	return &rpcLog{topic: "projects/" + testProject + "/topics/" + topic}
}

func (l *rpcLog) option() pstest.ServerReactorOption {
	return pstest.ServerReactorOption{FuncName: "Publish", Reactor: l}
}

func (l *rpcLog) React(req any) (bool, any, error) {
	if pr, ok := req.(*pubsubpb.PublishRequest); ok && pr.Topic == l.topic {
		l.mu.Lock()
		l.rpcs = append(l.rpcs, [2]int{len(pr.Messages), proto.Size(pr)})
		l.mu.Unlock()
	}
	return false, nil, nil
}

func (l *rpcLog) list() [][2]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][2]int(nil), l.rpcs...)
}

// ndjson joins events into an NDJSON body.
func ndjson(events []string) []byte { return []byte(strings.Join(events, "\n") + "\n") }

// TestHTTPDirectPublish: a request with at least DirectPublishMin valid
// events publishes them in RPCs of its own, split at 1000 messages, with
// the same payloads and attributes as the bundled path; its invalid events
// still go to the dead-letter topic.
func TestHTTPDirectPublish(t *testing.T) {
	log := newRPCLog(DefaultTopic)
	env := newTestEnv(t, Config{MaxBodyBytes: 4 << 20}, log.option())
	var lines []string
	want := map[string]string{} // event id → payload
	for i := range 2500 {
		id := fmt.Sprintf("direct-%04d", i)
		lines = append(lines, validEvent(id))
		want[id] = lines[len(lines)-1]
		if i%1000 == 999 {
			lines = append(lines, `{"event_id":"bad-`+strconv.Itoa(i)+`","user":"u","team":"t","score":"high","event_time":"2026-11-01T10:00:00Z"}`)
		}
	}
	r := env.post(ndjson(lines), "Content-Type: application/x-ndjson", "X-Request-Id: direct-1")
	if r.Status != http.StatusAccepted || *r.Accepted != 2500 || len(r.Rejected) != 2 {
		t.Fatalf("answer %d: %.300s", r.Status, r.Raw)
	}
	if got := log.list(); len(got) != 3 || got[0][0]+got[1][0]+got[2][0] != 2500 || got[0][0] > maxRPCMessages || got[1][0] > maxRPCMessages {
		t.Fatalf("publish RPCs (messages, bytes) = %v, want 3 of at most %d messages adding up to 2500", got, maxRPCMessages)
	}
	msgs := env.messages(DefaultTopic)
	if len(msgs) != 2500 {
		t.Fatalf("%d messages on the events topic, want 2500", len(msgs))
	}
	for _, m := range msgs {
		id := m.Attributes[AttrEventID]
		e, err := schemas.DecodeJSON(m.Data, time.Now())
		if err != nil || string(m.Data) != want[id] {
			t.Fatalf("message %s: payload %s (%v), want %s", id, m.Data, err, want[id])
		}
		if m.Attributes[AttrEventTime] != e.EventTime.Format(EventTimeLayout) || m.Attributes[AttrSchemaVersion] != "1" || len(m.Attributes) != 3 {
			t.Fatalf("message %s: attributes %v", id, m.Attributes)
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Fatalf("%d events missing", len(want))
	}
	if dls := env.deadLetters("direct-1#"); len(dls) != 2 || dls[0].Reason != string(schemas.ReasonScoreNotInteger) {
		t.Fatalf("dead letters %+v", dls)
	}
	if s := env.gw.Stats(); s.Accepted != 2500 || s.DeadLettered != 2 || s.Outstanding != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestHTTPDirectPublishBytes: large events split the request's RPCs by
// size, each at most 1 MB, so that none exceeds what Pub/Sub (and pstest's
// gRPC server) takes.
func TestHTTPDirectPublishBytes(t *testing.T) {
	log := newRPCLog(DefaultTopic)
	env := newTestEnv(t, Config{MaxBodyBytes: 4 << 20}, log.option())
	pad := strings.Repeat("p", 20_000)
	var lines []string
	for i := range 120 {
		e := validEvent("big-" + strconv.Itoa(i))
		lines = append(lines, e[:len(e)-1]+`,"pad":"`+pad+`"}`)
	}
	r := env.post(ndjson(lines), "Content-Type: application/x-ndjson")
	if r.Status != http.StatusAccepted || *r.Accepted != 120 {
		t.Fatalf("answer %d: %.300s", r.Status, r.Raw)
	}
	got, total := log.list(), 0
	for _, rpc := range got {
		if rpc[1] > maxRPCBytes+100 { // the topic name is not in the estimate
			t.Fatalf("an RPC of %d messages has %d bytes, over the %d bound; RPCs %v", rpc[0], rpc[1], maxRPCBytes, got)
		}
		total += rpc[0]
	}
	if len(got) < 3 || total != 120 || len(env.eventIDs()) != 120 {
		t.Fatalf("RPCs %v (total %d), events %d: want ≥ 3 RPCs adding up to 120", got, total, len(env.eventIDs()))
	}
}

// TestHTTPDirectPublishFailures: the direct path answers 503 for a refused
// or unconfirmed RPC exactly like the bundled path — every event of the
// RPC listed in failed, never a 202.
func TestHTTPDirectPublishFailures(t *testing.T) {
	var events []string
	for i := range 40 {
		events = append(events, validEvent("f-"+strconv.Itoa(i)))
	}
	t.Run("refused", func(t *testing.T) {
		env := newTestEnv(t, Config{})
		if err := env.client.TopicAdminClient.DeleteTopic(context.Background(), &pubsubpb.DeleteTopicRequest{Topic: env.gw.topics[0]}); err != nil {
			t.Fatal(err)
		}
		r := env.post(jsonArray(events...), "Content-Type: application/json")
		if r.Status != http.StatusServiceUnavailable || r.Reason != ReasonPublishFailed || len(r.Failed) != 40 ||
			r.Failed[39].Index != 39 || !strings.Contains(r.Failed[0].Detail, "NotFound") || *r.Accepted != 0 {
			t.Fatalf("answer %d: %.400s", r.Status, r.Raw)
		}
		if s := env.gw.Stats(); s.PublishFailures != 40 || s.Outstanding != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		g := newGate(DefaultTopic)
		env := newTestEnv(t, Config{PublishTimeout: 300 * time.Millisecond}, g.option())
		t.Cleanup(g.release)
		r := env.post(jsonArray(events...), "Content-Type: application/json")
		if r.Status != http.StatusServiceUnavailable || r.Reason != ReasonPublishTimeout || len(r.Failed) != 40 || *r.Accepted != 0 {
			t.Fatalf("answer %d: %.400s", r.Status, r.Raw)
		}
		// The RPC was cut off on the gateway's side only: once Pub/Sub
		// recovers, the events it had taken arrive ("it may still arrive").
		g.release()
		waitFor(t, "the held events to land", func() bool { return len(env.eventIDs()) == 40 })
		if s := env.gw.Stats(); s.Outstanding != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestDirectPublishMatchesBundled: the same request through the direct
// path and through the client's bundler leaves the same messages.
func TestDirectPublishMatchesBundled(t *testing.T) {
	var events []string
	for i := range 50 {
		events = append(events, validEvent("same-"+strconv.Itoa(i)))
	}
	body := jsonArray(events...)
	got := map[int]map[string]string{}
	for _, min := range []int{1, -1} {
		env := newTestEnv(t, Config{DirectPublishMin: min})
		if r := env.post(body, "Content-Type: application/json"); r.Status != http.StatusAccepted || *r.Accepted != 50 {
			t.Fatalf("DirectPublishMin %d: answer %d: %s", min, r.Status, r.Raw)
		}
		got[min] = map[string]string{}
		for _, m := range env.messages(DefaultTopic) {
			got[min][m.Attributes[AttrEventID]] = fmt.Sprintf("%s %v", m.Data, m.Attributes)
		}
	}
	if len(got[1]) != 50 || fmt.Sprint(got[1]) != fmt.Sprint(got[-1]) {
		t.Fatalf("direct and bundled differ:\n%v\n%v", got[1], got[-1])
	}
}

// TestSmallRequestsPathByLoad: a small request goes straight to its own RPC
// while the gateway is idle, and through the client's bundler while
// publishes are in flight — and is accepted either way.
func TestSmallRequestsPathByLoad(t *testing.T) {
	g := newGate(DefaultTopic)
	env := newTestEnv(t, Config{}, g.option())
	t.Cleanup(g.release)
	pub := env.gw.pub

	var held []string
	for i := range 10 {
		held = append(held, validEvent("held-"+strconv.Itoa(i)))
	}
	heldAnswer := postAsync(t, env.url+EventsPath, jsonArray(held...), "Content-Type: application/json")
	g.waitEntered(t)
	if got := pub.directEvents.Load(); got != 10 {
		t.Fatalf("idle gateway: %d events went direct, want the 10 of the first request", got)
	}
	// Ten messages in flight: single events now go through the bundler.
	var singles []<-chan response
	for i := range 3 {
		singles = append(singles, postAsync(t, env.url+EventsPath, []byte(validEvent("busy-"+strconv.Itoa(i))), "Content-Type: application/json"))
	}
	waitFor(t, "the single events to be handed to the bundler", func() bool { return pub.outstanding.Load() == 13 })
	if got := pub.directEvents.Load(); got != 10 {
		t.Fatalf("busy gateway: %d events went direct, want still 10", got)
	}
	g.release()
	for i, ch := range append(singles, heldAnswer) {
		if r := <-ch; r.Status != http.StatusAccepted {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Raw)
		}
	}
	// Idle again: the next single event goes direct.
	if r := env.post([]byte(validEvent("idle")), "Content-Type: application/json"); r.Status != http.StatusAccepted {
		t.Fatalf("idle request: %d %s", r.Status, r.Raw)
	}
	if got := pub.directEvents.Load(); got != 11 {
		t.Fatalf("idle again: %d events went direct, want 11", got)
	}
	if got := len(env.eventIDs()); got != 14 {
		t.Fatalf("%d events published, want 14", got)
	}
}

// TestNoEmptyPublish: a request with no valid event sends no Publish RPC
// to the events topic (Pub/Sub refuses empty ones), only its dead letters.
func TestNoEmptyPublish(t *testing.T) {
	log := newRPCLog(DefaultTopic)
	env := newTestEnv(t, Config{}, log.option())
	r := env.post(jsonArray(`{"event_id":"x"}`, `{"event_id":"y"}`), "Content-Type: application/json", "X-Request-Id: empty-1")
	if r.Status != http.StatusBadRequest || len(r.Rejected) != 2 {
		t.Fatalf("answer %d: %s", r.Status, r.Raw)
	}
	if got := log.list(); len(got) != 0 {
		t.Fatalf("publish RPCs to the events topic: %v", got)
	}
	if got := len(env.deadLetters("empty-1#")); got != 2 {
		t.Fatalf("%d dead letters", got)
	}
}
