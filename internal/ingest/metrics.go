package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/railyard-dev/railyard/schemas"
)

// Transports, the "transport" label of the metrics.
const (
	TransportHTTP = "http"
	TransportMQTT = "mqtt"
)

// Metrics are the gateway's Prometheus metrics, on a registry of their own
// (so that tests and several gateways in one process do not collide).
type Metrics struct {
	Registry *prometheus.Registry

	accepted        *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	deadLetters     *prometheus.CounterVec
	refused         *prometheus.CounterVec
	publishFailures *prometheus.CounterVec
	publishLatency  prometheus.Histogram
	httpRequests    *prometheus.CounterVec
}

func newMetrics(outstanding func() float64) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_ingest_events_accepted_total",
			Help: "Valid events published to the events topic and confirmed by Pub/Sub.",
		}, []string{"transport"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_ingest_events_rejected_total",
			Help: "Events that failed validation, by reason (each is sent to the dead-letter topic).",
		}, []string{"transport", "reason"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_ingest_dead_letters_total",
			Help: "Rejected events published to the dead-letter topic and confirmed by Pub/Sub.",
		}, []string{"transport"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_ingest_requests_refused_total",
			Help: "Requests (HTTP) or messages (MQTT) refused as a whole, by reason; their events were not published.",
		}, []string{"transport", "reason"}),
		publishFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_ingest_publish_failures_total",
			Help: "Messages whose publish failed or was not confirmed in time, by topic (events, dead_letters) and reason.",
		}, []string{"topic", "reason"}),
		publishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "railyard_ingest_publish_latency_seconds",
			Help:    "Time from handing a request's messages to the Pub/Sub client until Pub/Sub confirmed all of them.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_ingest_http_requests_total",
			Help: "HTTP requests by handler and status code.",
		}, []string{"handler", "code"}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.deadLetters, m.refused, m.publishFailures, m.publishLatency, m.httpRequests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "railyard_ingest_outstanding_publishes",
			Help: "Messages handed to the Pub/Sub client and not yet confirmed or failed.",
		}, outstanding),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Zero series for every known label value, so that dashboards and
	// rate() see a counter from the start rather than from its first event.
	for _, tr := range []string{TransportHTTP, TransportMQTT} {
		m.accepted.WithLabelValues(tr)
		m.deadLetters.WithLabelValues(tr)
		for _, r := range schemas.Reasons {
			m.rejected.WithLabelValues(tr, string(r))
		}
	}
	return m
}
