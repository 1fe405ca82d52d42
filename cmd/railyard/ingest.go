package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/spf13/cobra"

	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/ingest"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/profiling"
)

type ingestFlags struct {
	cfg                ingest.Config
	project            string
	endpoint           string
	authTokens         []string
	authTokenFile      string
	shutdownTimeout    time.Duration
	statsInterval      time.Duration
	local              bool
	localSubscriptions []string
	logLevel           string
	cpuProfile         string
}

func newIngestCommand() *cobra.Command {
	f := &ingestFlags{}
	cmd := &cobra.Command{
		Use:   "ingest [flags]",
		Short: "Run the ingest gateway: HTTP and MQTT in, Pub/Sub out, acknowledged only after publish",
		Long: `ingest runs railyard's ingest gateway. Game clients send events over HTTP

  POST /v1/events   Content-Type: application/json     one event, or a JSON array of events
                                  application/x-ndjson   one event per line
                                  text/csv               Beam's user,team,score,timestamp_ms[,readable_time]
                    Content-Encoding: gzip is accepted; the body is limited to --max_body_bytes

or over MQTT (an embedded broker, --mqtt_addr) to the topic railyard/events/<game>
at QoS 1. Each event is validated with railyard's schema; valid events are
published to --topic with the attributes event_id, event_time (RFC 3339, ms,
UTC), schema_version (and game for MQTT), the payload being the event as
received (normalised JSON for CSV). Invalid events are published to
--dead_letter_topic as dead-letter records (pipeline ingest, stage validate,
reason, detail, source "<request id>#<index>", payload, request metadata).

The answer comes only after Pub/Sub confirmed every publish of the request:
  202 {"accepted": n, "rejected": [{"index": i, "reason": "..."}]}
  400 nothing valid (the rejected events are dead-lettered) or unreadable body
  401/403 bearer token missing or malformed / wrong (when tokens are set)
  413 over the size limit; 415 other Content-Type or Content-Encoding
  429 + Retry-After when --max_outstanding publishes are pending for longer
      than --backpressure_wait; 503 + Retry-After when a publish fails or is
      not confirmed within --publish_timeout ("failed" lists the indexes)
Errors are JSON {"error": "...", "reason": "<code>"}. An MQTT PUBACK is sent
only after the publish was confirmed; an MQTT 5 client gets a failure reason
code otherwise, an MQTT 3.1.1 client is disconnected. With tokens set, MQTT
clients give a token as their password.

Also served: /healthz (process up), /readyz (both topics exist), /metrics
(Prometheus). Logs are JSON on standard error. SIGINT/SIGTERM drain the
gateway: it stops accepting, finishes in-flight publishes, then exits.

--local starts an in-process Pub/Sub emulator (pstest) with both topics, to
try the gateway without a cloud project (pstest keeps every message in
memory: not for long runs).

Unless GOGC is set, the gateway runs with GOGC=400: its live heap is small,
and collecting less often saves CPU per event (scripts/bench-ingest.sh).`,
		Example: `  railyard ingest --local
  curl -X POST http://127.0.0.1:8080/v1/events -H 'Content-Type: application/json' \
    -d '{"event_id":"e-1","user":"alice","team":"red","score":5,"event_time":"2026-11-01T10:00:00Z"}'
  railyard ingest --local --mqtt_addr 127.0.0.1:1883 &
  mosquitto_pub -q 1 -t railyard/events/demo -m '{"event_id":"e-2",...}'
  railyard ingest --pubsub_project my-project --listen :8443 \
    --tls_cert cert.pem --tls_key key.pem --auth_token_file tokens.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runIngest(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cfg.HTTPAddr, "listen", envOr("RAILYARD_INGEST_LISTEN", ingest.DefaultHTTPAddr),
		"HTTP listen address; port 0 picks a free port (env RAILYARD_INGEST_LISTEN)")
	fl.StringVar(&f.cfg.MQTTAddr, "mqtt_addr", os.Getenv("RAILYARD_INGEST_MQTT_ADDR"),
		"MQTT broker listen address, e.g. 127.0.0.1:1883; empty: no broker (env RAILYARD_INGEST_MQTT_ADDR)")
	fl.StringVar(&f.cfg.Topic, "topic", ingest.DefaultTopic, "Pub/Sub topic for valid events (ID in --pubsub_project, or projects/P/topics/T)")
	fl.StringVar(&f.cfg.DeadLetterTopic, "dead_letter_topic", ingest.DefaultDeadLetterTopic, "Pub/Sub topic for rejected events, as dead-letter records")
	fl.StringVar(&f.project, "pubsub_project", os.Getenv("RAILYARD_PUBSUB_PROJECT"),
		"Google Cloud project of the topics; empty: detected from the credentials (env RAILYARD_PUBSUB_PROJECT)")
	fl.StringVar(&f.endpoint, "pubsub_endpoint", os.Getenv(localstack.EnvPubSubEmulatorHost),
		"Pub/Sub emulator host:port, e.g. 127.0.0.1:8085; empty: Google's (env PUBSUB_EMULATOR_HOST)")
	fl.Int64Var(&f.cfg.MaxBodyBytes, "max_body_bytes", ingest.DefaultMaxBodyBytes, "largest request body (after gzip decompression) or MQTT payload, in bytes")
	fl.StringArrayVar(&f.authTokens, "auth_token", envList("RAILYARD_INGEST_TOKEN"),
		"bearer token clients must send (repeatable; with none here or in --auth_token_file, no authentication) (env RAILYARD_INGEST_TOKEN)")
	fl.StringVar(&f.authTokenFile, "auth_token_file", os.Getenv("RAILYARD_INGEST_TOKEN_FILE"),
		"file of bearer tokens, one per line, # comments (env RAILYARD_INGEST_TOKEN_FILE)")
	fl.StringVar(&f.cfg.TLSCertFile, "tls_cert", os.Getenv("RAILYARD_INGEST_TLS_CERT"),
		"PEM certificate (chain): serve HTTPS and MQTT over TLS; needs --tls_key (env RAILYARD_INGEST_TLS_CERT)")
	fl.StringVar(&f.cfg.TLSKeyFile, "tls_key", os.Getenv("RAILYARD_INGEST_TLS_KEY"), "PEM private key of --tls_cert (env RAILYARD_INGEST_TLS_KEY)")
	fl.IntVar(&f.cfg.MaxOutstanding, "max_outstanding", ingest.DefaultMaxOutstanding, "most messages handed to Pub/Sub and not yet confirmed; beyond, requests wait --backpressure_wait, then get 429")
	fl.DurationVar(&f.cfg.BackpressureWait, "backpressure_wait", ingest.DefaultBackpressureWait, "how long a request waits for publishing capacity before it gets 429")
	fl.DurationVar(&f.cfg.PublishTimeout, "publish_timeout", ingest.DefaultPublishTimeout, "how long a request waits for Pub/Sub to confirm its publishes before it gets 503")
	fl.DurationVar(&f.cfg.BatchDelay, "publish_batch_delay", ingest.DefaultBatchDelay, "Pub/Sub client batching: send a batch after this delay")
	fl.IntVar(&f.cfg.BatchCount, "publish_batch_count", ingest.DefaultBatchCount, "Pub/Sub client batching: send a batch when it has this many messages (at most 1000)")
	fl.IntVar(&f.cfg.DirectPublishMin, "direct_publish_min", ingest.DefaultDirectPublishMin,
		"a request with at least this many valid events publishes them in Publish RPCs of its own (up to 1000 messages each) instead of through the client's batching, as do smaller ones while fewer than 8 messages are in flight; -1: never")
	fl.DurationVar(&f.shutdownTimeout, "shutdown_timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fl.DurationVar(&f.statsInterval, "stats_interval", 30*time.Second, "log running totals this often; 0: never")
	fl.StringVar(&f.cfg.InstanceID, "instance_id", "", `name of this gateway in dead letters (run_id); default "ingest-<host>-<pid>"`)
	fl.BoolVar(&f.local, "local", false, "start an in-process Pub/Sub emulator (pstest) with both topics and publish there")
	fl.StringSliceVar(&f.localSubscriptions, "local_subscriptions", nil, "with --local: subscriptions to create on the events topic (pstest delivers only to subscriptions that exist at publish time)")
	fl.StringVar(&f.logLevel, "log_level", "info", `log level: "debug", "info", "warn" or "error"`)
	// For scripts/bench-ingest.sh: profile the gateway under load.
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	_ = fl.MarkHidden("cpuprofile")
	return cmd
}

func runIngest(cmd *cobra.Command, f *ingestFlags) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	out := cmd.OutOrStdout()
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("ingest: --log_level %q is not debug, info, warn or error", f.logLevel)
	}
	if os.Getenv("GOGC") == "" {
		// The gateway's live heap is small and bounded (bodies and messages
		// in flight), its allocation rate high: collecting less often
		// bought about a quarter of its CPU per event in
		// scripts/bench-ingest.sh. GOGC still overrides.
		debug.SetGCPercent(400)
	}
	cfg := f.cfg
	cfg.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	tokens := append([]string(nil), f.authTokens...)
	if f.authTokenFile != "" {
		fromFile, err := ingest.ReadTokenFile(f.authTokenFile)
		if err != nil {
			return err
		}
		tokens = append(tokens, fromFile...)
	}
	cfg.AuthTokens = tokens
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(f.localSubscriptions) > 0 && !f.local {
		return errors.New("ingest: --local_subscriptions needs --local")
	}
	if f.cpuProfile != "" {
		stop, err := profiling.StartCPU(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("ingest: --cpuprofile: %w", err)
		}
		defer stop()
	}

	gcp := gcpclient.Config{Project: f.project, PubSubEndpoint: f.endpoint}
	if f.local {
		if f.endpoint != "" {
			return errors.New("ingest: --local starts its own Pub/Sub emulator; drop --pubsub_endpoint (or PUBSUB_EMULATOR_HOST)")
		}
		stack, err := localstack.Start(ctx, localstack.Options{PubSub: true, Project: f.project})
		if err != nil {
			return err
		}
		defer stack.Close()
		gcp = stack.GCPConfig()
		fmt.Fprintf(out, "railyard ingest: local Pub/Sub (pstest) on %s, project %s; to reach it: export %s=%s\n",
			stack.PubSubEndpoint, stack.Project, localstack.EnvPubSubEmulatorHost, stack.PubSubEndpoint)
	}
	client, err := gcp.PubSub(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	gw, err := ingest.New(cfg, client)
	if err != nil {
		return err
	}
	events, deadLetters := gw.Topics()
	if f.local {
		if err := createLocalTopics(ctx, client, events, deadLetters, f.localSubscriptions); err != nil {
			return err
		}
	}
	if e := gw.CheckTopics(ctx); e != nil {
		if e.Reason == ingest.ReasonTopicNotFound {
			return fmt.Errorf("ingest: %s: create it first (or try --local)", e.Message)
		}
		cfg.Logger.Warn("Pub/Sub not reachable at start; /readyz reports not ready until it is", "error", e.Message)
	}
	if err := gw.Start(); err != nil {
		return err
	}
	fmt.Fprintf(out, "railyard ingest: listening on %s (POST %s, /healthz, /readyz, /metrics)\n", gw.HTTPURL(), ingest.EventsPath)
	if addr := gw.MQTTAddr(); addr != "" {
		fmt.Fprintf(out, "railyard ingest: MQTT broker on %s (publish to %s<game>, QoS 1)\n", addr, ingest.MQTTTopicPrefix)
	}
	fmt.Fprintf(out, "railyard ingest: publishing to %s, dead letters to %s; Ctrl-C stops\n", events, deadLetters)

	began := time.Now()
	var tick <-chan time.Time
	if f.statsInterval > 0 {
		t := time.NewTicker(f.statsInterval)
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-tick:
			s := gw.Stats()
			cfg.Logger.Info("totals", "accepted", s.Accepted, "dead_lettered", s.DeadLettered,
				"publish_failures", s.PublishFailures, "outstanding", s.Outstanding,
				"events_per_second", rate(s.Accepted, time.Since(began)))
		}
	}
	fmt.Fprintln(out, "railyard ingest: draining (in-flight requests finish their publishes)")
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	err = gw.Shutdown(sctx)
	s := gw.Stats()
	fmt.Fprintf(out, "railyard ingest: stopped after %s: accepted %d events, dead-lettered %d, publish failures %d\n",
		time.Since(began).Round(time.Millisecond), s.Accepted, s.DeadLettered, s.PublishFailures)
	return err
}

// createLocalTopics creates the topics, and the subscriptions asked for on
// the events topic, on the local emulator.
func createLocalTopics(ctx context.Context, client *pubsub.Client, events, deadLetters string, subs []string) error {
	names := make([]string, len(subs))
	for i, sub := range subs {
		names[i] = gcpclient.SubscriptionName(client.Project(), sub)
	}
	if err := gcpclient.EnsureTopic(ctx, client, events, 0, names...); err != nil {
		return fmt.Errorf("ingest: on the local emulator: %w", err)
	}
	if err := gcpclient.EnsureTopic(ctx, client, deadLetters, 0); err != nil {
		return fmt.Errorf("ingest: on the local emulator: %w", err)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// envList is a one-element list of the variable's value, or nil.
func envList(key string) []string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return []string{v}
	}
	return nil
}
