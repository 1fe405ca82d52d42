package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/schemas"
)

const testProject = "railyard-test"

// testEnv is a gateway listening on loopback in front of a pstest server.
type testEnv struct {
	t      *testing.T
	gw     *Gateway
	srv    *pstest.Server
	client *pubsub.Client
	url    string
	logs   *testkit.SyncBuffer
}

// newTestEnv starts pstest (with reactors, if any), creates both topics and
// starts a gateway with cfg on free loopback ports. Everything stops in the
// test's cleanup; the gateway's logs are shown when the test fails.
func newTestEnv(t *testing.T, cfg Config, reactors ...pstest.ServerReactorOption) *testEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := pstest.NewServerWithAddress("127.0.0.1:0", reactors...)
	t.Cleanup(func() { _ = srv.Close() })
	client, err := gcpclient.Config{Project: testProject, PubSubEndpoint: srv.Addr}.PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	logs := &testkit.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gw, err := New(cfg, client)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range gw.topics {
		if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
			t.Fatal(err)
		}
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testEnv{t: t, gw: gw, srv: srv, client: client, url: gw.HTTPURL(), logs: logs}
}

// response is a decoded answer of the gateway.
type response struct {
	Status    int            `json:"-"`
	Header    http.Header    `json:"-"`
	Raw       string         `json:"-"`
	Error     string         `json:"error"`
	Reason    string         `json:"reason"`
	RequestID string         `json:"request_id"`
	Accepted  *int           `json:"accepted"`
	Rejected  []rejectedItem `json:"rejected"`
	Failed    []failure      `json:"failed"`
}

// post sends body to /v1/events with the headers given as "Key: value".
func (e *testEnv) post(body []byte, headers ...string) response {
	e.t.Helper()
	return doPost(e.t, http.DefaultClient, e.url+EventsPath, body, headers...)
}

func doPost(t testing.TB, c *http.Client, url string, body []byte, headers ...string) response {
	t.Helper()
	r, err := tryPost(c, url, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryPost is doPost for goroutines other than the test's.
func tryPost(c *http.Client, url string, body []byte, headers ...string) (response, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return tryRequest(c, req)
}

func doRequest(t testing.TB, c *http.Client, req *http.Request) response {
	t.Helper()
	r, err := tryRequest(c, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tryRequest(c *http.Client, req *http.Request) (response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if resp.Header.Get("Content-Type") != "application/json" {
		return r, fmt.Errorf("answer %d has Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("answer %d is not JSON: %v: %s", resp.StatusCode, err, raw)
	}
	return r, nil
}

// postAsync posts in a goroutine; the answer (or a zero response with
// Status 0 after reporting the error) arrives on the channel.
func postAsync(t testing.TB, url string, body []byte, headers ...string) <-chan response {
	ch := make(chan response, 1)
	go func() {
		r, err := tryPost(http.DefaultClient, url, body, headers...)
		if err != nil {
			t.Errorf("post: %v", err)
		}
		ch <- r
	}()
	return ch
}

// messages returns what pstest received on the topic (an ID of this env's
// project), in publish order.
func (e *testEnv) messages(topic string) []*pstest.Message {
	var out []*pstest.Message
	for _, m := range e.srv.Messages() {
		if m.Topic == "projects/"+testProject+"/topics/"+topic {
			out = append(out, m)
		}
	}
	return out
}

// eventIDs are the event_id attributes of the messages on the events
// topic, sorted.
func (e *testEnv) eventIDs() []string {
	var ids []string
	for _, m := range e.messages(DefaultTopic) {
		ids = append(ids, m.Attributes[AttrEventID])
	}
	sort.Strings(ids)
	return ids
}

// deadLetters decodes the dead-letter topic's messages whose source starts
// with prefix.
func (e *testEnv) deadLetters(prefix string) []schemas.DeadLetter {
	e.t.Helper()
	var out []schemas.DeadLetter
	for _, m := range e.messages(DefaultDeadLetterTopic) {
		var dl schemas.DeadLetter
		if err := json.Unmarshal(m.Data, &dl); err != nil {
			e.t.Fatalf("dead letter %s is not a schemas.DeadLetter: %v", m.Data, err)
		}
		if m.Attributes["source"] != dl.Source || m.Attributes["reason"] != dl.Reason ||
			m.Attributes["pipeline"] != DeadLetterPipeline || m.Attributes["stage"] != DeadLetterStage {
			e.t.Fatalf("dead letter attributes %v do not match %+v", m.Attributes, dl)
		}
		if strings.HasPrefix(dl.Source, prefix) {
			out = append(out, dl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// validEvent is a valid JSON event an hour before now, with millisecond
// precision.
func validEvent(id string) string {
	return validEventAt(id, time.Now().Add(-time.Hour))
}

func validEventAt(id string, at time.Time) string {
	return fmt.Sprintf(`{"event_id":%q,"user":"user-%s","team":"red","score":7,"event_time":%q,"platform":"ios"}`,
		id, id, at.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano))
}

func jsonArray(elems ...string) []byte {
	return []byte("[" + strings.Join(elems, ",") + "]")
}

// gate is a pstest reactor that holds every Publish to one topic until it
// is opened, the way a slow or stuck Pub/Sub would. While it holds a
// publish, pstest serves nothing else, not even Messages: it holds pstest's
// lock.
type gate struct {
	topic   string
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate(topic string) *gate {
	return &gate{topic: "projects/" + testProject + "/topics/" + topic, entered: make(chan struct{}, 1000), open: make(chan struct{})}
}

func (g *gate) option() pstest.ServerReactorOption {
	return pstest.ServerReactorOption{FuncName: "Publish", Reactor: g}
}

func (g *gate) React(req any) (bool, any, error) {
	if pr, ok := req.(*pubsubpb.PublishRequest); ok && pr.Topic == g.topic {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.open
	}
	return false, nil, nil
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// waitEntered waits until a publish is being held.
func (g *gate) waitEntered(t testing.TB) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no publish reached pstest")
	}
}
