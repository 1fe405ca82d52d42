package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the scheduler's Prometheus metrics, in a registry of their
// own (served by `railyard schedule run --metrics_listen`, or written with
// --metrics_file for cron-driven runs).
type Metrics struct {
	Registry *prometheus.Registry
	// Runs counts finished attempts by job, trigger (schedule, backfill)
	// and status (succeeded, failed, timeout, cancelled).
	Runs *prometheus.CounterVec
	// Lag is, per job, how long ago the oldest firing that is due but not
	// done was scheduled (0 when nothing is due): what an alert watches.
	Lag *prometheus.GaugeVec
	// LockWaits counts the times a partition's lock was found held by
	// another scheduler or backfill.
	LockWaits *prometheus.CounterVec
	// Running is the attempts running now, per job.
	Running *prometheus.GaugeVec
	// LastSuccess is the end time of each job's latest successful attempt
	// seen by this process (Unix seconds).
	LastSuccess *prometheus.GaugeVec
}

// NewMetrics creates the metrics and their registry (with the Go and
// process collectors).
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_schedule_runs_total",
			Help: "Finished attempts of scheduled jobs, by job, trigger (schedule, backfill) and status (succeeded, failed, timeout, cancelled).",
		}, []string{"job", "trigger", "status"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "railyard_schedule_due_lag_seconds",
			Help: "Seconds since the oldest firing of the job that is due and not done was scheduled; 0 when nothing is due.",
		}, []string{"job"}),
		LockWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "railyard_schedule_lock_waits_total",
			Help: "Times a partition's lock was held by another scheduler or backfill when this process wanted it.",
		}, []string{"job"}),
		Running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "railyard_schedule_running",
			Help: "Attempts of the job running in this process.",
		}, []string{"job"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "railyard_schedule_last_success_timestamp_seconds",
			Help: "End time of the job's latest successful attempt known to this process (Unix seconds).",
		}, []string{"job"}),
	}
	m.Registry.MustRegister(m.Runs, m.Lag, m.LockWaits, m.Running, m.LastSuccess,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
