package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/railyard-dev/railyard/internal/ingest"
	"github.com/railyard-dev/railyard/schemas"
)

// TestBodiesAreValidAndDistinct: every generated body is what the gateway
// accepts in full, and no event id repeats.
func TestBodiesAreValidAndDistinct(t *testing.T) {
	for _, format := range []string{"json", "ndjson"} {
		cfg := config{requests: 20, batch: 25, format: format, seed: 3}
		bodies, err := bodies(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(bodies) != cfg.requests {
			t.Fatalf("%d bodies, want %d", len(bodies), cfg.requests)
		}
		f := map[string]ingest.Format{"json": ingest.FormatJSON, "ndjson": ingest.FormatNDJSON}[format]
		seen := map[string]bool{}
		for _, b := range bodies {
			items, rerr := ingest.ParseBody(f, b, time.Now())
			if rerr != nil || len(items) != cfg.batch {
				t.Fatalf("%s body has %d items (%v)", format, len(items), rerr)
			}
			for _, it := range items {
				if it.Err != nil {
					t.Fatalf("%s: invalid event %s: %v", format, it.Raw, it.Err)
				}
				if seen[it.Event.EventID] {
					t.Fatalf("event id %s repeats", it.Event.EventID)
				}
				seen[it.Event.EventID] = true
			}
		}
	}
}

// TestRunCountsWhatTheServerAccepted runs the generator against the bare
// handler and against a server that refuses every third request.
func TestRunCountsWhatTheServerAccepted(t *testing.T) {
	var bodiesSeen atomic.Int64
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		bodiesSeen.Add(1)
		bareHandler(w, r)
	}))
	defer bare.Close()
	res, err := run(context.Background(), config{url: bare.URL, requests: 60, concurrency: 4, batch: 10, format: "json", token: "tok", seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 60 || res.Failed != 0 || res.Events != 600 || res.P99 < res.P50 || res.P50 <= 0 {
		t.Fatalf("result %+v", res)
	}
	if got := bodiesSeen.Load(); got != 60+4 { // plus one warm-up request per connection
		t.Fatalf("server saw %d requests", got)
	}
	line := res.line(config{name: "bare", batch: 10, concurrency: 4})
	if !strings.HasPrefix(line, "RESULT name=bare batch=10 concurrency=4 requests=60 ok=60 failed=0 events=600 ") {
		t.Fatalf("line %q", line)
	}

	var n atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"x","reason":"overloaded"}`, http.StatusTooManyRequests)
			return
		}
		bareHandler(w, r)
	}))
	defer flaky.Close()
	res, err = run(context.Background(), config{url: flaky.URL, requests: 30, concurrency: 1, batch: 5, format: "ndjson", seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The warm-up request is the first of the 31 the server sees.
	if res.OK+res.Failed != 30 || res.Failed != 10 || res.Events != int64(res.OK)*5 || !strings.Contains(res.FirstFailure, "429") {
		t.Fatalf("result %+v", res)
	}
}

// TestRunCeiling publishes straight to pstest: every event arrives once,
// as the gateway would publish it (payload and attributes), and the
// result counts them; a missing topic is an error before any load.
func TestRunCeiling(t *testing.T) {
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	defer srv.Close()
	const topic = "projects/p/topics/events"
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	cfg := config{requests: 30, concurrency: 4, batch: 20, seed: 5}
	res, err := runCeiling(context.Background(), cfg, "pubsub://"+srv.Addr, topic)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 30 || res.Failed != 0 || res.Events != 600 || res.P50 <= 0 {
		t.Fatalf("result %+v", res)
	}
	msgs := srv.Messages()
	ids := map[string]bool{}
	for _, m := range msgs {
		e, err := schemas.DecodeJSON(m.Data, time.Now())
		if err != nil || m.Attributes[schemas.AttrEventID] != e.EventID ||
			m.Attributes[schemas.AttrEventTime] != e.EventTime.Format(schemas.EventTimeAttrLayout) {
			t.Fatalf("message %s %v: %v", m.Data, m.Attributes, err)
		}
		ids[e.EventID] = true
	}
	if len(msgs) != 600 || len(ids) != 600 {
		t.Fatalf("%d messages, %d distinct events; want 600", len(msgs), len(ids))
	}
	if _, err := runCeiling(context.Background(), cfg, srv.Addr, "projects/p/topics/missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing topic: %v", err)
	}
}
