package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/railyard-dev/railyard/internal/serving"
)

type serveFlags struct {
	listen          string
	refresh         time.Duration
	historyDays     int
	liveWithin      time.Duration
	authTokens      []string
	authTokenFile   string
	tlsCert, tlsKey string
	shutdownTimeout time.Duration
	logLevel        string
}

func newServeCommand() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the leaderboard API and page: batch ∪ realtime merged by the ledger, from memory",
		Long: `serve answers the serving API and the leaderboard page from an in-memory snapshot of
the serving views (serving.team_scores_hourly, serving.user_scores_daily), the ledger
(ops.batch_runs) and the speed runs' progress (ops.stream_progress), refreshed in the
background every --refresh with parameterised queries: a request never waits on BigQuery.

A date that batch covers (a SUCCEEDED ledger row for the view and date) is answered from
batch only; any other date from realtime: per speed run the latest pane of each key and
window, summed over runs. Ranges that neither batch covers nor any run's input reached
are reported as gaps.

  GET /v1/leaderboard/teams?from=T&to=T&limit=N   teams by score over whole hours from ≤ h < to
  GET /v1/leaderboard/users?date=YYYY-MM-DD&limit=N
  GET /v1/teams/{team}/hourly?from=T&to=T          the team's hours with events, with source
  GET /v1/users/{user}?from=D&to=D                 the user's days (to exclusive), with source
  GET /                                            the leaderboard page (updates itself)
  /healthz, /readyz (200 once the first snapshot loaded), /metrics (Prometheus)

T is an RFC 3339 whole hour (2026-11-01T10:00:00Z), D a date; a range is at most 31
days (default: the last 24 hours, the last 7 days), limit 1..1000 (default 10). Every
answer carries "freshness" (as_of, batch_through, realtime_watermark, gaps) and the same
as X-Railyard-* headers, an ETag (If-None-Match → 304), Cache-Control max-age = --refresh
and Age. 400 {"error","reason"} for a bad parameter, 404 for an unknown path, 503 until
the first snapshot has loaded; if refreshes fail, the last snapshot is served with
"stale": true and the error.`,
		Example: `  railyard serve --bq_project my-project
  railyard serve --bq_project railyard-local --bq_endpoint http://127.0.0.1:9050 --listen 127.0.0.1:0
  curl 'http://127.0.0.1:8081/v1/leaderboard/teams?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&limit=5'`,
		Args: cobra.NoArgs,
	}
	bq := bigQueryFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", envOr("RAILYARD_SERVE_LISTEN", "127.0.0.1:8081"), "HTTP listen address; port 0 picks a free port (env RAILYARD_SERVE_LISTEN)")
	fl.DurationVar(&f.refresh, "refresh", serving.DefaultRefresh, "how often the snapshot is read again from BigQuery; also the answers' Cache-Control max-age")
	fl.IntVar(&f.historyDays, "history_days", serving.DefaultHistoryDays, "days before today the snapshot holds; older requests get 400 out_of_range")
	fl.DurationVar(&f.liveWithin, "live_within", serving.DefaultLiveWithin, "a speed run whose newest ops.stream_progress report is older than this is not live")
	fl.StringArrayVar(&f.authTokens, "auth_token", envList("RAILYARD_SERVE_TOKEN"),
		"bearer token /v1/ requires (repeatable; none here or in --auth_token_file: no authentication); the page takes it as #token=T (env RAILYARD_SERVE_TOKEN)")
	fl.StringVar(&f.authTokenFile, "auth_token_file", os.Getenv("RAILYARD_SERVE_TOKEN_FILE"), "file of bearer tokens, one per line, # comments (env RAILYARD_SERVE_TOKEN_FILE)")
	fl.StringVar(&f.tlsCert, "tls_cert", os.Getenv("RAILYARD_SERVE_TLS_CERT"), "PEM certificate (chain): serve HTTPS; needs --tls_key (env RAILYARD_SERVE_TLS_CERT)")
	fl.StringVar(&f.tlsKey, "tls_key", os.Getenv("RAILYARD_SERVE_TLS_KEY"), "PEM private key of --tls_cert (env RAILYARD_SERVE_TLS_KEY)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown_timeout", 10*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fl.StringVar(&f.logLevel, "log_level", "info", `log level: "debug" (a line per request), "info", "warn" or "error"`)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
			return fmt.Errorf("serve: --log_level %q is not debug, info, warn or error", f.logLevel)
		}
		logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
		if (f.tlsCert == "") != (f.tlsKey == "") {
			return errors.New("serve: TLS needs both --tls_cert and --tls_key")
		}
		if f.refresh <= 0 || f.historyDays < 1 || f.liveWithin <= 0 {
			return errors.New("serve: --refresh and --live_within must be positive, --history_days at least 1")
		}
		tokens := append([]string(nil), f.authTokens...)
		if f.authTokenFile != "" {
			fromFile, err := serving.ReadTokenFile(f.authTokenFile)
			if err != nil {
				return err
			}
			tokens = append(tokens, fromFile...)
		}
		var tlsConfig *tls.Config
		if f.tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
			if err != nil {
				return fmt.Errorf("serve: loading the TLS key pair: %w", err)
			}
			tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		client, err := bq.Client(ctx)
		if err != nil {
			return err
		}
		defer client.Close()
		srv, err := serving.New(serving.Options{
			Source:  &serving.BigQuerySource{Client: client, Catalog: bq.Catalog(), LiveWithin: f.liveWithin, Job: "speed"},
			Refresh: f.refresh, HistoryDays: f.historyDays, AuthTokens: tokens, Logger: logger,
		})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", f.listen)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		scheme := "http"
		if tlsConfig != nil {
			ln = tls.NewListener(ln, tlsConfig)
			scheme = "https"
		}
		httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		refreshCtx, stopRefresh := context.WithCancel(ctx)
		defer stopRefresh()
		go srv.Run(refreshCtx)
		served := make(chan error, 1)
		go func() { served <- httpSrv.Serve(ln) }()
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "railyard serve: listening on %s://%s (page /, API %s, %s, /v1/teams/{team}/hourly, /v1/users/{user}; /healthz, /readyz, /metrics)\n",
			scheme, ln.Addr(), serving.PathTeams, serving.PathUsers)
		fmt.Fprintf(out, "railyard serve: reading project %s (dataset prefix %q) every %s; Ctrl-C stops\n", bq.Project, bq.DatasetPrefix, f.refresh)
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
		}
		stopRefresh()
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
		defer cancel()
		if err := httpSrv.Shutdown(sctx); err != nil {
			return fmt.Errorf("serve: shutting down: %w", err)
		}
		fmt.Fprintln(out, "railyard serve: stopped")
		return nil
	}
	return cmd
}
