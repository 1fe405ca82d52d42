package serving

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus metrics, on a registry of their own.
type Metrics struct {
	Registry *prometheus.Registry

	requests           *prometheus.CounterVec
	latency            *prometheus.HistogramVec
	refreshes          prometheus.Counter
	refreshFailures    prometheus.Counter
	refreshDuration    prometheus.Histogram
	lastRefreshSeconds prometheus.Gauge
	maxRefreshSeconds  prometheus.Gauge
}

func newMetrics(snapshotAge func() float64) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_serve_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "railyard_serve_request_duration_seconds",
			Help:    "Time to answer a request, by route (from the snapshot in memory: BigQuery is never on this path).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}, []string{"route"}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "railyard_serve_refreshes_total",
			Help: "Snapshots loaded from BigQuery.",
		}),
		refreshFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "railyard_serve_refresh_failures_total",
			Help: "Refreshes that failed; the previous snapshot is served meanwhile.",
		}),
		refreshDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "railyard_serve_refresh_duration_seconds",
			Help:    "Time to read one snapshot (its queries run in parallel).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 120},
		}),
		lastRefreshSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "railyard_serve_last_refresh_duration_seconds",
			Help: "Time the last refresh took, successful or not.",
		}),
		maxRefreshSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "railyard_serve_max_refresh_duration_seconds",
			Help: "Longest refresh since the server started: an answer is at most --refresh plus this old while refreshes succeed.",
		}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.refreshes, m.refreshFailures, m.refreshDuration, m.lastRefreshSeconds, m.maxRefreshSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "railyard_serve_snapshot_age_seconds",
			Help: "Age of the snapshot being served: time since it was read (0 before the first).",
		}, snapshotAge),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, r := range routes {
		m.latency.WithLabelValues(r)
	}
	return m
}
