// Package ingest is railyard's ingest gateway (`railyard ingest`): the front
// door through which game clients send events, over HTTP (POST /v1/events)
// and MQTT (an embedded broker), to the Pub/Sub topic the streaming and
// archive pipelines read.
//
// The gateway's one promise is "acknowledged means published": an HTTP 202,
// or an MQTT PUBACK, is sent only after Pub/Sub confirmed every message of
// the request (PublishResult.Get). Everything else is answered with a clear,
// specific refusal the client can act on.
//
// # Events
//
// A body is one JSON event or a JSON array of events (application/json),
// one event per line (application/x-ndjson), or Beam's mobile-gaming CSV
// (text/csv); Content-Encoding gzip is accepted, and the body is limited
// (after decompression) to Config.MaxBodyBytes. Each event is decoded and
// validated with the shared schemas code (schemas.DecodeJSON,
// schemas.DecodeCSV). An event's index is its position in the array, or
// among the non-blank lines.
//
// Valid events are published to the events topic (default "game-events")
// with the attributes event_id, event_time (RFC 3339 with milliseconds, in
// UTC) and schema_version — plus game for MQTT — and the event as received
// as payload (the normalised JSON line for CSV input).
//
// Invalid events are kept: each is published to the dead-letter topic
// (default "game-events-dead-letters") as a schemas.DeadLetter in JSON —
// pipeline "ingest", stage "validate", run_id the gateway instance, the
// reason and detail, source "<request id>#<index>", the payload as
// received, and the request metadata (transport, request id, remote
// address, content type, user agent; for MQTT client id, topic, game, QoS)
// as a JSON object in attributes — with pipeline, stage, reason and source
// also as message attributes. They too are confirmed before the answer. A
// JSON body that is not well-formed as a whole is one rejected event
// holding the whole body.
//
// # HTTP answers
//
//	202 {"accepted": n, "rejected": [{"index": i, "reason": "...", "field": "...", "detail": "..."}], "request_id": "..."}
//	400 every event invalid (all dead-lettered; reason: their common reason, else no_valid_events),
//	    or an unreadable body: empty_body, malformed_gzip, body_unreadable
//	401 missing_token, malformed_authorization; 403 invalid_token (bearer tokens, when configured)
//	413 body_too_large; 415 unsupported_media_type, unsupported_content_encoding
//	429 overloaded + Retry-After: Config.MaxOutstanding messages await confirmation and no
//	    capacity freed within Config.BackpressureWait
//	503 publish_failed / publish_timeout + Retry-After, with "failed": [{"index": i, ...}] and
//	    the accepted count; shutting_down while draining
//
// Every error body is JSON {"error": "...", "reason": "<code>"}; the codes
// are the Reason* constants and the schemas.Reason values. A request
// refused as a whole (every 4xx but a 400 that lists rejected events, and
// 429) is published nowhere: the client still has it. After a 503, or a publish
// timeout, some events may still have been published: clients resend, and
// the pipelines drop the duplicates by event_id (delivery is at least once).
//
// # MQTT
//
// Clients publish to railyard/events/<game>. The broker's hook publishes
// inside mochi's OnPublish, which runs in the client's read loop, and
// mochi sends the PUBACK (PUBREC for QoS 2) only after the hook returned
// without error: so an acknowledgement follows the Pub/Sub confirmation,
// and acknowledgements keep the order of the publishes, as MQTT requires.
// Invalid payloads are dead-lettered and acknowledged (they are kept). A
// wrong topic, a full gateway or a failed publish is not acknowledged: an
// MQTT 5 client at QoS 1 gets a PUBACK with a failure reason code (0x90,
// 0x97, 0x80), any other client is disconnected — MQTT 3.1.1 has no
// negative acknowledgement — and resends. With tokens configured, the
// CONNECT password must be a token. The broker keeps no retained messages
// and allows no subscriptions.
//
// # Operations
//
// /healthz answers while the process runs; /readyz checks that both topics
// exist (Config.ReadyTimeout); /metrics serves the gateway's own Prometheus
// registry: railyard_ingest_events_accepted_total,
// railyard_ingest_events_rejected_total{reason},
// railyard_ingest_dead_letters_total, railyard_ingest_requests_refused_total,
// railyard_ingest_publish_failures_total,
// railyard_ingest_publish_latency_seconds, railyard_ingest_outstanding_publishes,
// railyard_ingest_http_requests_total{handler,code}. Logs are JSON (log/slog)
// with a request id (X-Request-Id, taken from the client when sane). Shutdown
// stops accepting HTTP and MQTT connections and MQTT publishes at once, lets
// in-flight requests and messages finish their publishes and
// acknowledgements, and only then disconnects clients and returns.
//
// Files: parse.go (bodies, fuzzed by FuzzParseBody), publish.go (the bound
// on outstanding publishes, dead letters), http.go, mqtt.go, auth.go,
// metrics.go, gateway.go (Config, Gateway). The load generator for
// scripts/bench-ingest.sh is the loadgen command below this package.
package ingest
