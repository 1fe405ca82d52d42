package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/testkit"
)

func TestIngestHelp(t *testing.T) {
	stdout, _, err := runRailyard(t, "ingest", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--listen", "127.0.0.1:8080", "--mqtt_addr", "--topic", "game-events", "--dead_letter_topic", "game-events-dead-letters",
		"--pubsub_project", "RAILYARD_PUBSUB_PROJECT", "--pubsub_endpoint", "PUBSUB_EMULATOR_HOST", "--max_body_bytes", "1048576",
		"--auth_token", "RAILYARD_INGEST_TOKEN", "--auth_token_file", "--tls_cert", "--tls_key", "--max_outstanding",
		"--backpressure_wait", "--publish_timeout", "--publish_batch_delay", "--publish_batch_count", "--direct_publish_min", "--shutdown_timeout",
		"--stats_interval", "--instance_id", "--local", "--local_subscriptions", "--log_level",
		"POST /v1/events", "application/x-ndjson", "text/csv", "Content-Encoding: gzip", "railyard/events/<game>",
		"202", "400", "401/403", "413", "415", "429", "503", "Retry-After", "/healthz", "/readyz", "/metrics", "SIGINT/SIGTERM",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("ingest --help lacks %q", want)
		}
	}
}

func TestIngestFlagErrors(t *testing.T) {
	t.Setenv(localstack.EnvPubSubEmulatorHost, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls_cert", "c.pem"}, "both a certificate and a key"},
		{[]string{"--local_subscriptions", "x"}, "needs --local"},
		{[]string{"--local", "--pubsub_endpoint", "127.0.0.1:1"}, "drop --pubsub_endpoint"},
		{[]string{"--log_level", "loud"}, "--log_level"},
		{[]string{"--auth_token_file", filepath.Join(t.TempDir(), "missing")}, "token file"},
		{[]string{"--topic", "same", "--dead_letter_topic", "same"}, "must differ"},
		{[]string{"extra-arg"}, "unknown command"},
	} {
		_, _, err := runRailyard(t, append([]string{"ingest"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ingest %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestIngestLocal runs `railyard ingest --local` with tokens from the
// environment and a file, sends an event over HTTP and one over MQTT,
// receives both from the subscription it asked for, and stops it the way
// SIGINT does (cancelling the command's context): it drains and reports
// its totals.
func TestIngestLocal(t *testing.T) {
	t.Setenv(localstack.EnvPubSubEmulatorHost, "")
	t.Setenv("RAILYARD_INGEST_TOKEN", "env-token")
	tokenFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokenFile, []byte("# rotated\nfile-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.SyncBuffer
	cmd := newRootCommand()
	cmd.SetArgs([]string{"ingest", "--local", "--listen", "127.0.0.1:0", "--mqtt_addr", "127.0.0.1:0",
		"--local_subscriptions", "check", "--auth_token_file", tokenFile, "--stats_interval", "0"})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	var url, mqttAddr, endpoint string
	deadline := time.Now().Add(time.Minute)
	for url == "" || mqttAddr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("ingest ended early: %v\n%s\n%s", err, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		out := stdout.String()
		if m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(out); m != nil {
			url = m[1]
		}
		if m := regexp.MustCompile(`MQTT broker on (\S+)`).FindStringSubmatch(out); m != nil {
			mqttAddr = m[1]
		}
		if m := regexp.MustCompile(`PUBSUB_EMULATOR_HOST=(\S+)`).FindStringSubmatch(out); m != nil {
			endpoint = m[1]
		}
	}

	post := func(token, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !json.Valid(b) {
			t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	event := func(id string) string {
		return `{"event_id":"` + id + `","user":"u","team":"t","score":1,"event_time":"` + at + `"}`
	}
	if code := post("", event("none")); code != 401 {
		t.Fatalf("without a token: %d", code)
	}
	if code := post("env-token", event("cli-http")); code != 202 {
		t.Fatalf("with the environment's token: %d", code)
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	host, port, _ := net.SplitHostPort(mqttAddr)
	mctx, mcancel := context.WithTimeout(ctx, 30*time.Second)
	defer mcancel()
	if out, err := exec.CommandContext(mctx, "/usr/bin/mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-u", "game", "-P", "file-token",
		"-t", "railyard/events/cli", "-m", event("cli-mqtt")).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}

	client, err := gcpclient.Config{Project: localstack.DefaultProject, PubSubEndpoint: endpoint}.PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	got := map[string]map[string]string{}
	var mu sync.Mutex
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	err = client.Subscriber("check").Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		defer mu.Unlock()
		got[m.Attributes["event_id"]] = m.Attributes
		m.Ack()
		if len(got) == 2 {
			rcancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["cli-http"]["schema_version"] != "1" || got["cli-mqtt"]["game"] != "cli" {
		t.Fatalf("received %v", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ingest: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("ingest did not stop after its context was cancelled")
	}
	out := stdout.String()
	for _, want := range []string{"draining", "accepted 2 events, dead-lettered 0, publish failures 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The logs are JSON lines with request ids.
	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"request_id":`) {
		t.Errorf("no JSON request log:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}
