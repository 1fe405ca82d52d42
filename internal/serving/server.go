package serving

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultRefresh     = 5 * time.Second
	DefaultHistoryDays = 35
	DefaultLiveWithin  = time.Minute
	// DefaultQueryTimeout bounds one refresh: the BigQuery client retries
	// 5xx answers until its context ends.
	DefaultQueryTimeout = 2 * time.Minute
	// maxCachedAnswers bounds the answers kept per snapshot.
	maxCachedAnswers = 4096
)

// Options configure a Server.
type Options struct {
	Source Source
	// Refresh is the period of the background refresh (default 5s); it is
	// also the answers' Cache-Control max-age.
	Refresh time.Duration
	// HistoryDays is how many days before today the snapshot holds
	// (default 35); requests before that are refused (out_of_range).
	HistoryDays int
	// QueryTimeout bounds one refresh (default 2 min).
	QueryTimeout time.Duration
	// AuthTokens, when not empty, are the bearer tokens /v1/ requires.
	AuthTokens []string
	// Now is the clock (default time.Now); tests set it.
	Now    func() time.Time
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.HistoryDays <= 0 {
		o.HistoryDays = DefaultHistoryDays
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server answers the serving API from an in-memory snapshot that a
// background loop refreshes: a read never waits on BigQuery.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	auth    authenticator

	// state is what requests read: the snapshot, the last refresh's
	// outcome and the answers computed from them.
	state atomic.Pointer[state]
	// refreshMu serialises refreshes (the loop and Refresh) and guards
	// maxRefresh.
	refreshMu  sync.Mutex
	maxRefresh time.Duration
}

// state is one published view of the server: replaced whole, never
// modified, except for its answer cache.
type state struct {
	snap *Snapshot // nil until the first refresh succeeded
	// refreshErr is the error of the last refresh if it failed (the
	// snapshot is then older than it should be), failedAt when.
	refreshErr string
	failedAt   time.Time
	cache      sync.Map // cache key → *answer
	cached     atomic.Int64
}

// New builds a server; call Run to load and refresh snapshots.
func New(opts Options) (*Server, error) {
	if opts.Source == nil {
		return nil, errors.New("serving: no Source")
	}
	opts = opts.withDefaults()
	s := &Server{opts: opts, log: opts.Logger, auth: newAuthenticator(opts.AuthTokens)}
	s.metrics = newMetrics(s.snapshotAge)
	s.state.Store(&state{})
	return s, nil
}

// Metrics returns the server's Prometheus metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Snapshot returns the current snapshot, nil before the first.
func (s *Server) Snapshot() *Snapshot { return s.state.Load().snap }

// Run refreshes the snapshot every Refresh until ctx ends, starting at
// once. Failed refreshes are logged and counted; the last snapshot stays.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Refresh)
	defer t.Stop()
	for {
		_ = s.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads a new snapshot now. On failure the previous snapshot is
// kept and answers say that, and how old it is.
func (s *Server) Refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	asOf := s.opts.Now().UTC()
	today := asOf.Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -s.opts.HistoryDays)
	to := today.AddDate(0, 0, 2) // today and tomorrow: events may be up to an hour ahead of the clock
	qctx, cancel := context.WithTimeout(ctx, s.opts.QueryTimeout)
	defer cancel()
	began := time.Now()
	data, err := s.opts.Source.Read(qctx, asOf, from, to)
	took := time.Since(began)
	s.metrics.refreshDuration.Observe(took.Seconds())
	s.metrics.lastRefreshSeconds.Set(took.Seconds())
	if took > s.maxRefresh {
		s.maxRefresh = took
		s.metrics.maxRefreshSeconds.Set(took.Seconds())
	}
	prev := s.state.Load()
	if err != nil {
		s.metrics.refreshFailures.Inc()
		msg := err.Error()
		s.log.Warn("refresh failed; serving the previous snapshot", "error", msg, "took_ms", took.Milliseconds(),
			"snapshot_as_of", asOfOf(prev.snap))
		if prev.refreshErr != msg {
			s.state.Store(&state{snap: prev.snap, refreshErr: msg, failedAt: asOf})
		}
		return err
	}
	snap := NewSnapshot(asOf, from, to, took, data)
	s.state.Store(&state{snap: snap})
	s.metrics.refreshes.Inc()
	s.log.Debug("refreshed", "as_of", asOf, "took_ms", took.Milliseconds(), "team_hours", len(data.TeamHours),
		"user_days", len(data.UserDays), "covered_dates", len(data.Covered), "runs", len(data.Runs))
	if prev.snap == nil {
		s.log.Info("first snapshot loaded", "as_of", asOf, "took_ms", took.Milliseconds())
	}
	return nil
}

func asOfOf(s *Snapshot) any {
	if s == nil {
		return nil
	}
	return s.AsOf
}

// snapshotAge is the current snapshot's age in seconds (0 before the
// first), for the metric.
func (s *Server) snapshotAge() float64 {
	st := s.state.Load()
	if st.snap == nil {
		return 0
	}
	return s.opts.Now().Sub(st.snap.AsOf).Seconds()
}
