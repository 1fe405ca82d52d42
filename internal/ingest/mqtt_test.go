package ingest

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/railyard-dev/railyard/schemas"
)

const mosquittoPub = "/usr/bin/mosquitto_pub"

// mqttPub runs mosquitto_pub against the gateway's broker at QoS 1 and
// returns its combined output and error (non-nil when it exits non-zero).
func (e *testEnv) mqttPub(args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.mqttCommand(ctx, args...).CombinedOutput()
	return string(out), err
}

func (e *testEnv) mqttCommand(ctx context.Context, args ...string) *exec.Cmd {
	host, port, err := net.SplitHostPort(e.gw.MQTTAddr())
	if err != nil {
		e.t.Fatal(err)
	}
	return exec.CommandContext(ctx, mosquittoPub, append([]string{"-h", host, "-p", port, "-q", "1"}, args...)...)
}

// TestMQTTPublish sends events with mosquitto_pub at QoS 1 — JSON, NDJSON
// with an invalid line, CSV, an MQTT 5 content type, garbage and an empty
// message — and at QoS 2 and 0, and checks what pstest received: events with their attributes
// and the game from the topic, and every invalid input as a dead letter
// (acknowledged, since it is kept).
func TestMQTTPublish(t *testing.T) {
	env := newTestEnv(t, Config{MQTTAddr: "127.0.0.1:0"})
	at := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Millisecond)
	dir := t.TempDir()
	ndjson := filepath.Join(dir, "events.ndjson")
	badLine := `{"event_id":"mq-bad","user":"u","team":"t","score":1}`
	if err := os.WriteFile(ndjson, []byte(validEventAt("mq-2", at)+"\n"+badLine+"\n"+validEventAt("mq-3", at)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	csvLine := "dave,green,3," + strconv.FormatInt(at.UnixMilli(), 10)
	csvEvent, err := schemas.DecodeCSV([]byte(csvLine), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-t", "railyard/events/space-race", "-m", validEventAt("mq-1", at)},
		{"-t", "railyard/events/space-race", "-f", ndjson},
		{"-t", "railyard/events/farm", "-m", csvLine},
		{"-V", "5", "-t", "railyard/events/farm", "-D", "publish", "content-type", "application/x-ndjson", "-m", validEventAt("mq-4", at)},
		{"-t", "railyard/events/farm", "-i", "garbage-client", "-m", "hello world"},
		{"-t", "railyard/events/farm", "-n"},
		{"-q", "2", "-t", "railyard/events/farm", "-m", validEventAt("mq-q2", at)},
		{"-q", "0", "-t", "railyard/events/farm", "-m", validEventAt("mq-q0", at)},
	} {
		if out, err := env.mqttPub(args...); err != nil || strings.Contains(out, "failed") {
			t.Fatalf("mosquitto_pub %v: %v: %s", args, err, out)
		}
	}
	wantGame := map[string]string{"mq-1": "space-race", "mq-2": "space-race", "mq-3": "space-race", csvEvent.EventID: "farm", "mq-4": "farm",
		"mq-q2": "farm", "mq-q0": "farm"}
	// QoS 0 has no acknowledgement to wait for.
	waitFor(t, "the QoS 0 event", func() bool { return len(env.messages(DefaultTopic)) >= len(wantGame) })
	msgs := env.messages(DefaultTopic)
	if len(msgs) != len(wantGame) {
		t.Fatalf("%d events published, want %d", len(msgs), len(wantGame))
	}
	for _, m := range msgs {
		id := m.Attributes[AttrEventID]
		if m.Attributes[AttrGame] != wantGame[id] || m.Attributes[AttrEventTime] != at.Format("2006-01-02T15:04:05.000Z") ||
			m.Attributes[AttrSchemaVersion] != "1" || len(m.Attributes) != 4 {
			t.Errorf("%s: attributes %v", id, m.Attributes)
		}
		want := validEventAt(id, at)
		if id == csvEvent.EventID {
			want = string(csvEvent.MarshalLine())
		}
		if string(m.Data) != want {
			t.Errorf("%s: payload %s, want %s", id, m.Data, want)
		}
	}
	dls := env.deadLetters("mqtt-")
	byReason := map[string]schemas.DeadLetter{}
	for _, dl := range dls {
		byReason[dl.Reason] = dl
	}
	if len(dls) != 3 || len(byReason) != 3 {
		t.Fatalf("dead letters %+v", dls)
	}
	if dl := byReason["missing_field"]; string(dl.Payload) != badLine || !strings.HasSuffix(dl.Source, "#1") {
		t.Errorf("NDJSON reject: %+v", dl)
	}
	garbage := byReason["malformed_csv"]
	if string(garbage.Payload) != "hello world" {
		t.Errorf("garbage dead letter: %+v", garbage)
	}
	var meta map[string]string
	if err := json.Unmarshal([]byte(garbage.Attributes), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["transport"] != "mqtt" || meta["client_id"] != "garbage-client" || meta["topic"] != "railyard/events/farm" ||
		meta["game"] != "farm" || meta["qos"] != "1" || meta["protocol_version"] != "4" {
		t.Errorf("metadata %v", meta)
	}
	if dl := byReason[ReasonEmptyBody]; len(dl.Payload) != 0 || dl.Pipeline != DeadLetterPipeline {
		t.Errorf("empty message: %+v", dl)
	}
}

// TestMQTTAckWaitsForPubSub holds the Pub/Sub publish and checks that
// mosquitto_pub (QoS 1) is still waiting for its PUBACK, then releases it
// and checks the client finishes and the event is there.
func TestMQTTAckWaitsForPubSub(t *testing.T) {
	g := newGate(DefaultTopic)
	env := newTestEnv(t, Config{MQTTAddr: "127.0.0.1:0"}, g.option())
	t.Cleanup(g.release)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := env.mqttCommand(ctx, "-t", "railyard/events/held", "-m", validEvent("held"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	g.waitEntered(t)
	select {
	case err := <-done:
		t.Fatalf("mosquitto_pub finished (%v) while Pub/Sub held the publish: %s", err, out.String())
	case <-time.After(300 * time.Millisecond):
	}
	// (pstest cannot be asked what it holds: the gate holds its lock.)
	g.release()
	if err := <-done; err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out.String())
	}
	if got := strings.Join(env.eventIDs(), ","); got != "held" {
		t.Fatalf("events topic has %q", got)
	}
}

// TestMQTTRefusals: a wrong topic, a failing publish and an overload are
// not acknowledged: MQTT 5 clients get a failure reason code in the
// PUBACK, MQTT 3.1.1 clients are disconnected; nothing is published.
func TestMQTTRefusals(t *testing.T) {
	env := newTestEnv(t, Config{MQTTAddr: "127.0.0.1:0"})
	for _, v := range []string{"311", "5"} {
		for _, topic := range []string{"other/topic", "railyard/events/", "railyard/events/a/b"} {
			out, err := env.mqttPub("-V", v, "-t", topic, "-m", validEvent("wrong-topic"))
			switch v {
			case "311":
				if err == nil {
					t.Errorf("MQTT 3.1.1 publish to %q succeeded: %s", topic, out)
				}
			case "5":
				if !strings.Contains(out, "Topic Name invalid") {
					t.Errorf("MQTT 5 publish to %q: %v: %s", topic, err, out)
				}
			}
		}
	}
	ctx := context.Background()
	if err := env.client.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: env.gw.topics[0]}); err != nil {
		t.Fatal(err)
	}
	if out, err := env.mqttPub("-t", "railyard/events/x", "-m", validEvent("lost-3")); err == nil {
		t.Errorf("MQTT 3.1.1 publish succeeded although Pub/Sub failed: %s", out)
	}
	if out, _ := env.mqttPub("-V", "5", "-t", "railyard/events/x", "-m", validEvent("lost-5")); !strings.Contains(out, "Publish 1 failed") {
		t.Errorf("MQTT 5 publish although Pub/Sub failed: %s", out)
	}
	if ids := env.eventIDs(); len(ids) != 0 {
		t.Fatalf("published %v", ids)
	}
	if n := len(env.deadLetters("")); n != 0 {
		t.Fatalf("%d dead letters from refused messages", n)
	}
}

// TestMQTTOverload: with the outstanding limit taken by a held publish, an
// MQTT 5 client gets "Quota exceeded" and its event is not published.
func TestMQTTOverload(t *testing.T) {
	g := newGate(DefaultTopic)
	env := newTestEnv(t, Config{MQTTAddr: "127.0.0.1:0", MaxOutstanding: 1, BackpressureWait: 50 * time.Millisecond}, g.option())
	t.Cleanup(g.release)
	held := postAsync(t, env.url+EventsPath, []byte(validEvent("held")), "Content-Type: application/json")
	g.waitEntered(t)
	out, _ := env.mqttPub("-V", "5", "-t", "railyard/events/x", "-m", validEvent("over"))
	if !strings.Contains(out, "Quota exceeded") {
		t.Errorf("MQTT 5 publish while saturated: %s", out)
	}
	if _, err := env.mqttPub("-t", "railyard/events/x", "-m", validEvent("over-3")); err == nil {
		t.Errorf("MQTT 3.1.1 publish acknowledged while saturated")
	}
	g.release()
	if r := <-held; r.Status != 202 {
		t.Fatalf("held request: %d %s", r.Status, r.Raw)
	}
	if got := strings.Join(env.eventIDs(), ","); got != "held" {
		t.Fatalf("events topic has %q", got)
	}
}

// TestMQTTAuth: with tokens set, the MQTT password must be one of them.
func TestMQTTAuth(t *testing.T) {
	env := newTestEnv(t, Config{MQTTAddr: "127.0.0.1:0", AuthTokens: []string{"mqtt-token"}})
	for _, args := range [][]string{
		{"-t", "railyard/events/x", "-m", validEvent("no-password")},
		{"-u", "game", "-P", "wrong", "-t", "railyard/events/x", "-m", validEvent("wrong-password")},
	} {
		if out, err := env.mqttPub(args...); err == nil || !strings.Contains(out, "Connection Refused") {
			t.Errorf("mosquitto_pub %v: %v: %s", args, err, out)
		}
	}
	if out, err := env.mqttPub("-u", "game", "-P", "mqtt-token", "-t", "railyard/events/x", "-m", validEvent("authorised")); err != nil {
		t.Fatalf("with the token: %v: %s", err, out)
	}
	if got := strings.Join(env.eventIDs(), ","); got != "authorised" {
		t.Fatalf("events topic has %q", got)
	}
}
