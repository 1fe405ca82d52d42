package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/railyard-dev/railyard/internal/httpstatus"
)

// EventsPath is the path clients POST events to.
const EventsPath = "/v1/events"

// Handler returns the gateway's HTTP handler: POST /v1/events, /healthz,
// /readyz and /metrics. Start serves it; tests may mount it on httptest.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(EventsPath, g.instrument("events", http.HandlerFunc(g.serveEvents)))
	mux.Handle("/healthz", g.instrument("healthz", http.HandlerFunc(g.serveHealthz)))
	mux.Handle("/readyz", g.instrument("readyz", http.HandlerFunc(g.serveReadyz)))
	mux.Handle("/metrics", g.instrument("metrics", promhttp.HandlerFor(g.metrics.Registry, promhttp.HandlerOpts{})))
	mux.Handle("/", g.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, "", &RequestError{Status: http.StatusNotFound, Reason: ReasonNotFound,
			Message: "no such endpoint; events go to POST " + EventsPath})
	})))
	return mux
}

// acceptedBody is the 202 answer.
type acceptedBody struct {
	Accepted  int            `json:"accepted"`
	Rejected  []rejectedItem `json:"rejected"`
	RequestID string         `json:"request_id"`
}

// errorBody is every error answer; the per-event lists are set when the
// request got as far as publishing.
type errorBody struct {
	Error     string         `json:"error"`
	Reason    string         `json:"reason"`
	RequestID string         `json:"request_id,omitempty"`
	Accepted  *int           `json:"accepted,omitempty"`
	Rejected  []rejectedItem `json:"rejected,omitempty"`
	Failed    []failure      `json:"failed,omitempty"`
}

type rejectedItem struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail"`
}

// answer is what serveEvents decided, kept for the log line.
type answer struct {
	status                              int
	reason                              string
	events, accepted, rejected, failedN int
}

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := r.Header.Get("X-Request-Id")
	if !validRequestID(reqID) {
		reqID = g.ids.next()
	}
	w.Header().Set("X-Request-Id", reqID)
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	a, reuse := g.handleEvents(w, r, reqID, buf)
	size := buf.Len()
	if reuse && buf.Cap() <= 4*int(g.cfg.MaxBodyBytes) {
		bodyBuffers.Put(buf)
	}
	level := slog.LevelInfo
	if a.status >= 500 {
		level = slog.LevelWarn
	}
	g.log.LogAttrs(r.Context(), level, "request",
		slog.String("request_id", reqID),
		slog.String("transport", TransportHTTP),
		slog.String("remote_addr", r.RemoteAddr),
		slog.Int("status", a.status),
		slog.String("reason", a.reason),
		slog.Int("bytes", size),
		slog.Int("events", a.events),
		slog.Int("accepted", a.accepted),
		slog.Int("rejected", a.rejected),
		slog.Int("failed", a.failedN),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
}

// handleEvents answers one POST /v1/events. reuse reports whether buf may
// be reused: not while publishes that reference it are still pending.
func (g *Gateway) handleEvents(w http.ResponseWriter, r *http.Request, reqID string, buf *bytes.Buffer) (answer, bool) {
	refuse := func(e *RequestError) (answer, bool) {
		g.metrics.refused.WithLabelValues(TransportHTTP, e.Reason).Inc()
		writeError(w, reqID, e)
		return answer{status: e.Status, reason: e.Reason}, true
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return refuse(&RequestError{Status: http.StatusMethodNotAllowed, Reason: ReasonMethodNotAllowed,
			Message: r.Method + " is not allowed; POST events to " + EventsPath})
	}
	if g.draining.Load() {
		w.Header().Set("Connection", "close")
		return refuse(&RequestError{Status: http.StatusServiceUnavailable, Reason: ReasonShuttingDown,
			Message: "the gateway is shutting down; retry on another instance", RetryAfter: time.Second})
	}
	if e := g.auth.CheckHeader(r.Header.Get("Authorization")); e != nil {
		if e.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="railyard-ingest"`)
		}
		return refuse(e)
	}
	format, e := FormatOf(r.Header.Get("Content-Type"))
	if e != nil {
		return refuse(e)
	}
	limit := g.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return refuse(errTooLarge(limit))
	}
	if e := ReadBody(http.MaxBytesReader(w, r.Body, limit), r.Header.Get("Content-Encoding"), limit, buf); e != nil {
		return refuse(e)
	}
	items, e := ParseBody(format, buf.Bytes(), time.Now())
	if e != nil {
		return refuse(e)
	}
	b := batch{requestID: reqID, transport: TransportHTTP, items: items}
	for i := range items {
		if items[i].Err != nil {
			b.metadata = httpMetadata(r, reqID, arrival(r))
			break
		}
	}
	out, e := g.pub.publish(r.Context(), b)
	if e != nil {
		return refuse(e)
	}

	a := answer{events: len(items), accepted: out.accepted, rejected: len(out.rejected), failedN: len(out.failed)}
	rejected := make([]rejectedItem, len(out.rejected))
	for i, it := range out.rejected {
		rejected[i] = rejectedItem{Index: it.Index, Reason: string(it.Err.Reason), Field: it.Err.Field, Detail: it.Err.Detail}
	}
	switch {
	case len(out.failed) > 0:
		a.status, a.reason = http.StatusServiceUnavailable, out.failed[0].Reason
		w.Header().Set("Retry-After", "1")
		accepted := out.accepted
		writeJSON(w, a.status, errorBody{
			Error: fmt.Sprintf("%d of %d events were not confirmed by Pub/Sub; send the events listed in failed again",
				len(out.failed), len(items)),
			Reason: a.reason, RequestID: reqID, Accepted: &accepted, Rejected: rejected, Failed: out.failed,
		})
	case out.accepted == 0:
		a.status, a.reason = http.StatusBadRequest, commonReason(rejected)
		zero := 0
		writeJSON(w, a.status, errorBody{
			Error:  fmt.Sprintf("none of the %d events is valid (each was sent to the dead-letter topic); see rejected", len(items)),
			Reason: a.reason, RequestID: reqID, Accepted: &zero, Rejected: rejected,
		})
	default:
		a.status = http.StatusAccepted
		writeJSON(w, a.status, acceptedBody{Accepted: out.accepted, Rejected: rejected, RequestID: reqID})
	}
	return a, out.settled
}

// commonReason is the reason every rejected event shares, or
// no_valid_events when they differ: a single bad event gets its own reason
// as the answer's reason.
func commonReason(rejected []rejectedItem) string {
	if len(rejected) == 0 {
		return ReasonNoValidEvents
	}
	r := rejected[0].Reason
	for _, it := range rejected[1:] {
		if it.Reason != r {
			return ReasonNoValidEvents
		}
	}
	return r
}

type startKey struct{}

// arrival is when the request arrived (noted by instrument).
func arrival(r *http.Request) time.Time {
	if t, ok := r.Context().Value(startKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// httpMetadata is the request metadata stored with dead letters.
func httpMetadata(r *http.Request, reqID string, received time.Time) string {
	m := map[string]string{
		"transport":   TransportHTTP,
		"request_id":  reqID,
		"remote_addr": r.RemoteAddr,
		"received_at": received.UTC().Format(time.RFC3339Nano),
	}
	for _, h := range []string{"Content-Type", "Content-Encoding", "User-Agent", "X-Forwarded-For"} {
		if v := r.Header.Get(h); v != "" {
			m[http.CanonicalHeaderKey(h)] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func (g *Gateway) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (g *Gateway) serveReadyz(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		writeError(w, "", &RequestError{Status: http.StatusServiceUnavailable, Reason: ReasonShuttingDown,
			Message: "the gateway is shutting down"})
		return
	}
	if e := g.CheckTopics(r.Context()); e != nil {
		writeError(w, "", e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "topic": g.topics[0], "dead_letter_topic": g.topics[1]})
}

func writeError(w http.ResponseWriter, reqID string, e *RequestError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	writeJSON(w, e.Status, errorBody{Error: e.Message, Reason: e.Reason, RequestID: reqID})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		data = []byte(`{"error":"encoding the answer failed","reason":"internal"}`)
		status = http.StatusInternalServerError
	}
	data = append(data, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// instrument counts requests by handler and status code and notes the
// arrival time.
func (g *Gateway) instrument(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httpstatus.NewRecorder(w)
		r = r.WithContext(contextWithStart(r))
		h.ServeHTTP(rec, r)
		g.metrics.httpRequests.WithLabelValues(name, strconv.Itoa(rec.Status)).Inc()
	})
}

func contextWithStart(r *http.Request) context.Context {
	return context.WithValue(r.Context(), startKey{}, time.Now())
}
