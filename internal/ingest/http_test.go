package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/railyard-dev/railyard/schemas"
)

// TestHTTPMalformedInputs sends one request per class of bad input and
// checks the status, the reason, the JSON error body, and what reached
// Pub/Sub: nothing for a refused request, one dead letter per rejected
// event otherwise, and never an event on the events topic.
func TestHTTPMalformedInputs(t *testing.T) {
	env := newTestEnv(t, Config{MaxBodyBytes: 4096})
	future := validEventAt("future", time.Now().Add(3*time.Hour))
	for _, tc := range []struct {
		name        string
		method      string
		body        []byte
		headers     []string
		status      int
		reason      string
		deadLetters []string // reasons of the dead letters, by index
	}{
		{name: "bad json", body: []byte(`{"event_id": "a", "user": `), status: 400, reason: "malformed_json",
			deadLetters: []string{"malformed_json"}},
		{name: "wrong types", body: []byte(`{"event_id": "a", "user": ["u"], "team": "t", "score": 1, "event_time": "2026-11-01T10:00:00Z"}`),
			status: 400, reason: "invalid_type", deadLetters: []string{"invalid_type"}},
		{name: "score not an integer", body: []byte(`{"event_id": "a", "user": "u", "team": "t", "score": "12", "event_time": "2026-11-01T10:00:00Z"}`),
			status: 400, reason: "score_not_integer", deadLetters: []string{"score_not_integer"}},
		{name: "missing fields", body: []byte(`{"event_id": "a", "user": "u", "score": 1, "event_time": "2026-11-01T10:00:00Z"}`),
			status: 400, reason: "missing_field", deadLetters: []string{"missing_field"}},
		{name: "future event time", body: []byte(future), status: 400, reason: "event_time_in_future",
			deadLetters: []string{"event_time_in_future"}},
		{name: "broken array", body: []byte(`[` + validEvent("x") + `,`), status: 400, reason: "malformed_json",
			deadLetters: []string{"malformed_json"}},
		{name: "all invalid, several reasons", body: jsonArray(`{"event_id":"a"}`, future, `7`), status: 400, reason: "no_valid_events",
			deadLetters: []string{"missing_field", "event_time_in_future", "malformed_json"}},
		{name: "csv garbage", body: []byte("just,two\n"), headers: []string{"Content-Type: text/csv"}, status: 400, reason: "malformed_csv",
			deadLetters: []string{"malformed_csv"}},
		{name: "gzip garbage", body: []byte("definitely not gzip"), headers: []string{"Content-Encoding: gzip"}, status: 400, reason: ReasonMalformedGzip},
		{name: "truncated gzip", body: gzipped(t, jsonArray(validEvent("x"), validEvent("y")))[:30], headers: []string{"Content-Encoding: gzip"},
			status: 400, reason: ReasonMalformedGzip},
		{name: "too large", body: bytes.Repeat([]byte(" "), 4097), status: 413, reason: ReasonBodyTooLarge},
		{name: "too large after gunzip", body: gzipped(t, append([]byte(validEvent("x")), bytes.Repeat([]byte(" "), 5000)...)),
			headers: []string{"Content-Encoding: gzip"}, status: 413, reason: ReasonBodyTooLarge},
		{name: "wrong content type", body: []byte(validEvent("x")), headers: []string{"Content-Type: text/plain"}, status: 415, reason: ReasonUnsupportedMediaType},
		{name: "form post", body: []byte("a=b"), headers: []string{"Content-Type: application/x-www-form-urlencoded"}, status: 415, reason: ReasonUnsupportedMediaType},
		{name: "no content type", body: []byte(validEvent("x")), headers: []string{"Content-Type:"}, status: 415, reason: ReasonUnsupportedMediaType},
		{name: "unknown encoding", body: []byte(validEvent("x")), headers: []string{"Content-Encoding: br"}, status: 415, reason: ReasonUnsupportedContentEncoding},
		{name: "empty body", body: nil, status: 400, reason: ReasonEmptyBody},
		{name: "blank lines", body: []byte("\n \r\n"), headers: []string{"Content-Type: application/x-ndjson"}, status: 400, reason: ReasonEmptyBody},
		{name: "empty array", body: []byte("[]"), status: 400, reason: ReasonEmptyBody},
		{name: "GET", method: http.MethodGet, status: 405, reason: ReasonMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reqID := "case-" + regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(tc.name, "-")
			headers := append([]string{"Content-Type: application/json", "X-Request-Id: " + reqID}, tc.headers...)
			var r response
			if tc.method == "" {
				r = doPost(t, http.DefaultClient, env.url+EventsPath, tc.body, headers...)
			} else {
				req, _ := http.NewRequest(tc.method, env.url+EventsPath, nil)
				r = doRequest(t, http.DefaultClient, req)
				if got := r.Header.Get("Allow"); got != "POST" {
					t.Errorf("Allow = %q", got)
				}
			}
			if r.Status != tc.status || r.Reason != tc.reason || r.Error == "" {
				t.Fatalf("answer %d %q, want %d %q: %s", r.Status, r.Reason, tc.status, tc.reason, r.Raw)
			}
			if tc.method == "" && r.RequestID != reqID {
				t.Errorf("request_id = %q, want %q", r.RequestID, reqID)
			}
			dls := env.deadLetters(reqID + "#")
			if len(dls) != len(tc.deadLetters) || len(r.Rejected) != len(tc.deadLetters) {
				t.Fatalf("%d dead letters and %d rejected, want %d: %s", len(dls), len(r.Rejected), len(tc.deadLetters), r.Raw)
			}
			for i, want := range tc.deadLetters {
				if dls[i].Reason != want || r.Rejected[i].Reason != want || r.Rejected[i].Index != i {
					t.Errorf("rejected %d: dead letter %q, answer %+v; want %q", i, dls[i].Reason, r.Rejected[i], want)
				}
				if dls[i].Source != reqID+"#"+strconv.Itoa(i) {
					t.Errorf("dead letter source %q", dls[i].Source)
				}
			}
		})
	}
	if ids := env.eventIDs(); len(ids) != 0 {
		t.Fatalf("events topic received %v from invalid requests", ids)
	}
}

// TestHTTPAcceptsEveryFormat posts the same kind of events as JSON (single,
// array, pretty), NDJSON, CSV and gzip, with curl-like and Go clients, and
// checks each message in pstest: payload as received (normalised JSON for
// CSV) and the event_id, event_time and schema_version attributes.
func TestHTTPAcceptsEveryFormat(t *testing.T) {
	env := newTestEnv(t, Config{})
	at := time.Now().Add(-30 * time.Minute).UTC().Truncate(time.Millisecond)
	// Another zone on the wire: the attribute is still UTC.
	pretty := "{\n  \"event_id\": \"pretty\",\n  \"user\": \"u\",\n  \"team\": \"t\",\n  \"score\": 0,\n  \"event_time\": \"" +
		at.In(time.FixedZone("CEST", 2*3600)).Format(time.RFC3339Nano) + "\",\n  \"schema_version\": 1\n}"
	csvLine := "carol,blue,12," + strconv.FormatInt(at.UnixMilli(), 10) + "," + at.Format("2006-01-02 15:04:05.000")
	csvEvent, err := schemas.DecodeCSV([]byte(csvLine), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // event_id → payload
	for _, tc := range []struct {
		name    string
		body    []byte
		headers []string
		ids     []string
	}{
		{"single", []byte(validEventAt("single", at)), []string{"Content-Type: application/json; charset=utf-8"}, []string{"single"}},
		{"array", jsonArray(validEventAt("arr-1", at), validEventAt("arr-2", at)), []string{"Content-Type: application/json"}, []string{"arr-1", "arr-2"}},
		{"pretty", []byte(pretty), []string{"Content-Type: application/json"}, []string{"pretty"}},
		{"ndjson", []byte(validEventAt("nd-1", at) + "\r\n\n" + validEventAt("nd-2", at) + "\n"), []string{"Content-Type: application/x-ndjson"}, []string{"nd-1", "nd-2"}},
		{"gzip ndjson", gzipped(t, []byte(validEventAt("gz-1", at)+"\n"+validEventAt("gz-2", at))),
			[]string{"Content-Type: application/x-ndjson", "Content-Encoding: gzip"}, []string{"gz-1", "gz-2"}},
		{"csv", []byte(csvLine + "\n"), []string{"Content-Type: text/csv"}, []string{csvEvent.EventID}},
	} {
		r := env.post(tc.body, tc.headers...)
		if r.Status != http.StatusAccepted || r.Accepted == nil || *r.Accepted != len(tc.ids) || len(r.Rejected) != 0 {
			t.Fatalf("%s: answer %d: %s", tc.name, r.Status, r.Raw)
		}
		if !strings.Contains(r.Raw, `"rejected":[]`) {
			t.Errorf("%s: rejected should be an empty list: %s", tc.name, r.Raw)
		}
		if r.Header.Get("X-Request-Id") == "" || r.Header.Get("X-Request-Id") != r.RequestID {
			t.Errorf("%s: X-Request-Id %q, body request_id %q", tc.name, r.Header.Get("X-Request-Id"), r.RequestID)
		}
		for _, id := range tc.ids {
			want[id] = ""
		}
	}
	want["single"] = validEventAt("single", at)
	want["arr-1"] = validEventAt("arr-1", at)
	want["pretty"] = pretty
	want["nd-2"] = validEventAt("nd-2", at)
	want["gz-1"] = validEventAt("gz-1", at)
	want[csvEvent.EventID] = string(csvEvent.MarshalLine())

	msgs := env.messages(DefaultTopic)
	if len(msgs) != len(want) {
		t.Fatalf("%d messages on the events topic, want %d", len(msgs), len(want))
	}
	for _, m := range msgs {
		id := m.Attributes[AttrEventID]
		payload, ok := want[id]
		if !ok {
			t.Fatalf("unexpected event_id %q", id)
		}
		if payload != "" && string(m.Data) != payload {
			t.Errorf("%s: payload %s, want %s", id, m.Data, payload)
		}
		e, err := schemas.DecodeJSON(m.Data, time.Now())
		if err != nil || e.EventID != id {
			t.Fatalf("%s: payload %s does not decode to its event: %v", id, m.Data, err)
		}
		wantAttrs := map[string]string{AttrEventID: id, AttrEventTime: at.Format("2006-01-02T15:04:05.000Z"), AttrSchemaVersion: "1"}
		if len(m.Attributes) != len(wantAttrs) {
			t.Errorf("%s: attributes %v, want %v", id, m.Attributes, wantAttrs)
		}
		for k, v := range wantAttrs {
			if m.Attributes[k] != v {
				t.Errorf("%s: attribute %s = %q, want %q", id, k, m.Attributes[k], v)
			}
		}
	}
}

// TestHTTPPartialBatch: some events valid → 202 listing the rejected ones,
// which are on the dead-letter topic with everything needed to replay them.
func TestHTTPPartialBatch(t *testing.T) {
	env := newTestEnv(t, Config{InstanceID: "ingest-test-1"})
	bad1 := `{"event_id":"bad-1","user":"u","team":"t","score":-3,"event_time":"2026-11-01T10:00:00Z"}`
	bad3 := `{"event_id":"bad-3" "user":"u"}`
	body := jsonArray(validEvent("ok-0"), bad1, validEvent("ok-2"), bad3, validEvent("ok-4"))
	before := time.Now()
	r := env.post(body, "Content-Type: application/json", "X-Request-Id: partial-1", "User-Agent: railyard-test/1")
	if r.Status != http.StatusAccepted || *r.Accepted != 3 {
		t.Fatalf("answer %d: %s", r.Status, r.Raw)
	}
	wantRejected := []rejectedItem{
		{Index: 1, Reason: "score_out_of_range", Field: "score"},
		{Index: 3, Reason: "malformed_json"},
	}
	if len(r.Rejected) != 2 {
		t.Fatalf("rejected = %+v", r.Rejected)
	}
	for i, w := range wantRejected {
		got := r.Rejected[i]
		if got.Index != w.Index || got.Reason != w.Reason || got.Field != w.Field || got.Detail == "" {
			t.Errorf("rejected[%d] = %+v, want %+v", i, got, w)
		}
	}
	if got := strings.Join(env.eventIDs(), ","); got != "ok-0,ok-2,ok-4" {
		t.Fatalf("events topic has %s", got)
	}
	dls := env.deadLetters("partial-1#")
	if len(dls) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dls))
	}
	for i, raw := range []string{bad1, bad3} {
		dl := dls[i]
		if dl.Pipeline != "ingest" || dl.Stage != "validate" || dl.RunID != "ingest-test-1" ||
			dl.Reason != wantRejected[i].Reason || dl.Source != "partial-1#"+strconv.Itoa(wantRejected[i].Index) ||
			string(dl.Payload) != raw || dl.Detail == "" || dl.Time.Before(before.Add(-time.Second)) {
			t.Errorf("dead letter %d = %+v (payload %s)", i, dl, dl.Payload)
		}
		var meta map[string]string
		if err := json.Unmarshal([]byte(dl.Attributes), &meta); err != nil {
			t.Fatalf("attributes %q are not a JSON object: %v", dl.Attributes, err)
		}
		if meta["transport"] != "http" || meta["request_id"] != "partial-1" || meta["Content-Type"] != "application/json" ||
			meta["User-Agent"] != "railyard-test/1" || !strings.HasPrefix(meta["remote_addr"], "127.0.0.1:") {
			t.Errorf("attributes = %v", meta)
		}
	}
	if !strings.Contains(dls[0].Detail, "score") {
		t.Errorf("detail %q does not name the field", dls[0].Detail)
	}
}

// TestHTTPAuth: with tokens (from the config, as the command gathers them
// from flags, environment and file), a missing or malformed header is 401,
// a wrong token 403 and nothing is published; a right one is accepted.
func TestHTTPAuth(t *testing.T) {
	env := newTestEnv(t, Config{AuthTokens: []string{"old-token", "new-token"}})
	body := []byte(validEvent("auth-1"))
	for _, tc := range []struct {
		authorization string
		status        int
		reason        string
	}{
		{"", 401, ReasonMissingToken},
		{"Basic b2xkLXRva2Vu", 401, ReasonMalformedAuthorization},
		{"Bearer", 401, ReasonMalformedAuthorization},
		{"Bearer old-tokenX", 403, ReasonInvalidToken},
		{"Bearer nope", 403, ReasonInvalidToken},
	} {
		r := env.post(body, "Content-Type: application/json", "Authorization: "+tc.authorization)
		if r.Status != tc.status || r.Reason != tc.reason {
			t.Errorf("Authorization %q: %d %s, want %d %s", tc.authorization, r.Status, r.Reason, tc.status, tc.reason)
		}
		if tc.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: %v", r.Header)
		}
	}
	if ids := env.eventIDs(); len(ids) != 0 {
		t.Fatalf("unauthenticated requests published %v", ids)
	}
	for _, tok := range []string{"old-token", "new-token"} {
		if r := env.post(body, "Content-Type: application/json", "Authorization: Bearer "+tok); r.Status != 202 {
			t.Fatalf("token %s: %d %s", tok, r.Status, r.Raw)
		}
	}
	if got := env.eventIDs(); len(got) != 2 {
		t.Fatalf("events topic has %v, want two copies of auth-1", got)
	}
	// Health, readiness and metrics stay open for probes and scrapers.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(env.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

// TestHTTPBackpressure fills the outstanding-publish limit with a request
// whose publish pstest holds, and checks that further requests are refused
// promptly with 429 + Retry-After rather than queued, that none of their
// events is published, and that the held request is answered 202 once
// Pub/Sub confirms.
func TestHTTPBackpressure(t *testing.T) {
	g := newGate(DefaultTopic)
	env := newTestEnv(t, Config{MaxOutstanding: 4, BackpressureWait: 100 * time.Millisecond}, g.option())
	t.Cleanup(g.release)

	held := postAsync(t, env.url+EventsPath, jsonArray(validEvent("held-1"), validEvent("held-2"), validEvent("held-3")),
		"Content-Type: application/json")
	g.waitEntered(t)
	for i := range 3 {
		id := "refused-" + strconv.Itoa(i)
		r := env.post(jsonArray(validEvent(id+"a"), validEvent(id+"b")), "Content-Type: application/json")
		if r.Status != http.StatusTooManyRequests || r.Reason != ReasonOverloaded || r.Header.Get("Retry-After") != "1" {
			t.Fatalf("request %d while saturated: %d %q Retry-After %q: %s", i, r.Status, r.Reason, r.Header.Get("Retry-After"), r.Raw)
		}
	}
	// One event still fits under the limit of 4 — and then waits, like the
	// held request, for the gate.
	fits := postAsync(t, env.url+EventsPath, []byte(validEvent("fits")), "Content-Type: application/json")
	if got := env.gw.Stats().Outstanding; got > 4 {
		t.Fatalf("outstanding %d over the limit", got)
	}
	select {
	case r := <-held:
		t.Fatalf("held request answered %d before Pub/Sub confirmed: %s", r.Status, r.Raw)
	default:
	}
	g.release()
	for name, ch := range map[string]<-chan response{"held": held, "fits": fits} {
		if r := <-ch; r.Status != http.StatusAccepted {
			t.Fatalf("%s request: %d %s", name, r.Status, r.Raw)
		}
	}
	if got := strings.Join(env.eventIDs(), ","); got != "fits,held-1,held-2,held-3" {
		t.Fatalf("events topic has %s; refused requests must publish nothing", got)
	}
	if got := env.gw.Stats().Outstanding; got != 0 {
		t.Fatalf("outstanding %d after all answers", got)
	}
}

// TestHTTPPublishFailure: when Pub/Sub refuses the publish (the topic was
// deleted), the answer is 503 with the failed indexes, never 202; a
// dead-letter publish failure is reported the same way.
func TestHTTPPublishFailure(t *testing.T) {
	env := newTestEnv(t, Config{})
	ctx := context.Background()
	if err := env.client.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: env.gw.topics[0]}); err != nil {
		t.Fatal(err)
	}
	r := env.post(jsonArray(validEvent("lost-0"), `{"event_id":"bad"}`, validEvent("lost-2")), "Content-Type: application/json", "X-Request-Id: fail-1")
	if r.Status != http.StatusServiceUnavailable || r.Reason != ReasonPublishFailed || r.Header.Get("Retry-After") == "" {
		t.Fatalf("answer %d %q: %s", r.Status, r.Reason, r.Raw)
	}
	if len(r.Failed) != 2 || r.Failed[0].Index != 0 || r.Failed[1].Index != 2 || r.Failed[0].Reason != ReasonPublishFailed ||
		!strings.Contains(r.Failed[0].Detail, "NotFound") || *r.Accepted != 0 {
		t.Fatalf("failed = %+v, accepted %v", r.Failed, *r.Accepted)
	}
	// The invalid event was still kept.
	if len(r.Rejected) != 1 || len(env.deadLetters("fail-1#")) != 1 {
		t.Fatalf("rejected %+v, dead letters %d", r.Rejected, len(env.deadLetters("fail-1#")))
	}
	// Readiness reports it too.
	resp := doRequest(t, http.DefaultClient, mustRequest(t, http.MethodGet, env.url+"/readyz"))
	if resp.Status != 503 || resp.Reason != ReasonTopicNotFound {
		t.Fatalf("/readyz: %d %s", resp.Status, resp.Raw)
	}

	// Dead-letter topic gone, events topic back: the invalid event cannot be
	// kept, so the request is not a success either.
	if _, err := env.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: env.gw.topics[0]}); err != nil {
		t.Fatal(err)
	}
	if err := env.client.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: env.gw.topics[1]}); err != nil {
		t.Fatal(err)
	}
	r = env.post(jsonArray(validEvent("kept-0"), `{"event_id":"bad"}`), "Content-Type: application/json")
	if r.Status != 503 || len(r.Failed) != 1 || r.Failed[0].Index != 1 || *r.Accepted != 1 {
		t.Fatalf("dead-letter failure: %d %s", r.Status, r.Raw)
	}
	if got := strings.Join(env.eventIDs(), ","); got != "kept-0" {
		t.Fatalf("events topic has %q", got)
	}
}

// TestHTTPPublishTimeout: Pub/Sub holds the publish past --publish_timeout:
// 503 publish_timeout with the indexes, never a 2xx. The publish may still
// land later (delivery is at least once: a client that resends creates a
// duplicate with the same event_id, which the pipelines drop).
func TestHTTPPublishTimeout(t *testing.T) {
	g := newGate(DefaultTopic)
	env := newTestEnv(t, Config{PublishTimeout: 300 * time.Millisecond}, g.option())
	t.Cleanup(g.release)
	r := env.post(jsonArray(validEvent("slow-0"), validEvent("slow-1")), "Content-Type: application/json")
	if r.Status != 503 || r.Reason != ReasonPublishTimeout || len(r.Failed) != 2 || r.Failed[1].Index != 1 || *r.Accepted != 0 {
		t.Fatalf("answer %d: %s", r.Status, r.Raw)
	}
	g.release()
	if r := env.post([]byte(validEvent("next")), "Content-Type: application/json"); r.Status != 202 {
		t.Fatalf("after Pub/Sub recovered: %d %s", r.Status, r.Raw)
	}
	deadline := time.Now().Add(30 * time.Second)
	for env.gw.Stats().Outstanding != 0 || len(env.eventIDs()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("outstanding %d, events %v", env.gw.Stats().Outstanding, env.eventIDs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := strings.Join(env.eventIDs(), ","); got != "next,slow-0,slow-1" {
		t.Fatalf("events topic has %s", got)
	}
}

// TestHTTPStreamingLimit: a chunked body (no Content-Length) over the limit
// is cut off at the limit and refused with 413.
func TestHTTPStreamingLimit(t *testing.T) {
	env := newTestEnv(t, Config{MaxBodyBytes: 1000})
	body := io.MultiReader(strings.NewReader("["+validEvent("a")), strings.NewReader(strings.Repeat(" ", 5000)+"]"))
	req, _ := http.NewRequest(http.MethodPost, env.url+EventsPath, body)
	req.Header.Set("Content-Type", "application/json")
	r := doRequest(t, http.DefaultClient, req)
	if r.Status != 413 || r.Reason != ReasonBodyTooLarge {
		t.Fatalf("answer %d: %s", r.Status, r.Raw)
	}
	if ids := env.eventIDs(); len(ids) != 0 {
		t.Fatalf("published %v", ids)
	}
}

// TestHTTPOperationalEndpoints checks /healthz, /readyz, /metrics and the
// JSON 404.
func TestHTTPOperationalEndpoints(t *testing.T) {
	env := newTestEnv(t, Config{})
	r := doRequest(t, http.DefaultClient, mustRequest(t, http.MethodGet, env.url+"/healthz"))
	if r.Status != 200 || !strings.Contains(r.Raw, `"ok"`) {
		t.Fatalf("/healthz: %d %s", r.Status, r.Raw)
	}
	r = doRequest(t, http.DefaultClient, mustRequest(t, http.MethodGet, env.url+"/readyz"))
	if r.Status != 200 || !strings.Contains(r.Raw, env.gw.topics[1]) {
		t.Fatalf("/readyz: %d %s", r.Status, r.Raw)
	}
	r = doRequest(t, http.DefaultClient, mustRequest(t, http.MethodGet, env.url+"/nope"))
	if r.Status != 404 || r.Reason != ReasonNotFound {
		t.Fatalf("404: %d %s", r.Status, r.Raw)
	}

	var answers []<-chan response
	for i := range 4 {
		answers = append(answers, postAsync(t, env.url+EventsPath, jsonArray(validEvent("m-"+strconv.Itoa(i)), `{"event_id":"x"}`),
			"Content-Type: application/json"))
	}
	for _, ch := range answers {
		if r := <-ch; r.Status != 202 {
			t.Fatalf("answer %d: %s", r.Status, r.Raw)
		}
	}
	env.post([]byte("x"), "Content-Type: text/plain")

	resp, err := http.Get(env.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`railyard_ingest_events_accepted_total{transport="http"} 4`,
		`railyard_ingest_events_rejected_total{reason="missing_field",transport="http"} 4`,
		`railyard_ingest_events_rejected_total{reason="malformed_json",transport="http"} 0`,
		`railyard_ingest_dead_letters_total{transport="http"} 4`,
		`railyard_ingest_requests_refused_total{reason="unsupported_media_type",transport="http"} 1`,
		`railyard_ingest_http_requests_total{code="202",handler="events"} 4`,
		`railyard_ingest_http_requests_total{code="415",handler="events"} 1`,
		`railyard_ingest_http_requests_total{code="200",handler="readyz"} 1`,
		`railyard_ingest_outstanding_publishes 0`,
		`railyard_ingest_publish_latency_seconds_count 4`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", regexp.MustCompile(`(?m)^(#|go_|process_).*\n`).ReplaceAllString(string(text), ""))
	}
}

func mustRequest(t testing.TB, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
