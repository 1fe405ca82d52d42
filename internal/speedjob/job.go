package speedjob

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/reconcile"
	"github.com/railyard-dev/railyard/runners"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/bqsink"
	"github.com/railyard-dev/railyard/transforms/gaming"
	"github.com/railyard-dev/railyard/transforms/pubsubsource"
)

// pipelineName labels the job's dead letters and its progress reports
// (ops.stream_progress.job).
const pipelineName = "speed"

// DefaultProgressInterval is how often a run reports its progress.
const DefaultProgressInterval = 10 * time.Second

// Config is the speed job's command line.
type Config struct {
	Subscription   string
	PubSubEndpoint string
	// Instance names this run of the job in dead letters and insert IDs
	// (default speed-<start time>).
	Instance string
	// MaxMessages is the most messages one Pull asks for (0: the source's
	// default, pubsubsource.DefaultMaxMessages).
	MaxMessages int
	// StopAfterIdle > 0 makes the run bounded: it drains and ends once the
	// subscription has been empty this long.
	StopAfterIdle time.Duration

	// Team, UserDelay and Stats configure the views (zero values: the
	// defaults of Beam's LeaderBoard and GameStats); DedupeHorizon is how
	// long an event_id is remembered (default team window + lateness).
	Team          gaming.TeamScoreOptions
	UserDelay     time.Duration
	Stats         gaming.GameStatsOptions
	DedupeHorizon time.Duration

	// FlushRows and FlushDelay bound how long a row waits before its
	// insertAll: whichever comes first.
	FlushRows  int
	FlushDelay time.Duration

	// ProgressInterval is how often the run reports its input's watermark
	// and messages read to ops.stream_progress (default 10s).
	ProgressInterval time.Duration

	BQ cliflags.BigQuery
}

// Register adds the job's flags to fs.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Subscription, "subscription", os.Getenv("RAILYARD_SPEED_SUBSCRIPTION"),
		"Pub/Sub subscription to read, projects/P/subscriptions/S (required; env RAILYARD_SPEED_SUBSCRIPTION)")
	fs.StringVar(&c.PubSubEndpoint, "pubsub_endpoint", os.Getenv("PUBSUB_EMULATOR_HOST"),
		"Pub/Sub emulator host:port, e.g. 127.0.0.1:8085; empty means Google's (env PUBSUB_EMULATOR_HOST)")
	fs.StringVar(&c.Instance, "instance", "", "name of this run in dead letters and insert IDs (default speed-<start time>)")
	fs.IntVar(&c.MaxMessages, "max_messages", pubsubsource.DefaultMaxMessages,
		"most messages per Pub/Sub Pull (1..10000): fewer, larger Pulls cost the server less, pstest far less")
	fs.DurationVar(&c.StopAfterIdle, "stop_after_idle", 0,
		"end the run once the subscription has been empty this long, after every window has fired its final pane (0: run until stopped)")
	fs.DurationVar(&c.Team.Window, "team_window", time.Hour, "team score window (fixed, event time)")
	fs.DurationVar(&c.Team.AllowedLateness, "allowed_lateness", 2*time.Hour, "how long after a window's end late events still update it")
	fs.DurationVar(&c.Team.EarlyDelay, "early_delay", 5*time.Minute, "processing-time delay of a speculative (EARLY) pane after the pane's first event")
	fs.DurationVar(&c.Team.LateDelay, "late_delay", 10*time.Minute, "processing-time delay of a LATE pane after the first late event")
	fs.DurationVar(&c.UserDelay, "user_delay", 10*time.Minute, "processing-time period of the user score firings")
	fs.DurationVar(&c.DedupeHorizon, "dedupe_horizon", 0, "how long after an event's time a copy with the same event_id still counts as a duplicate (default window + allowed lateness)")
	fs.IntVar(&c.FlushRows, "flush_rows", 500, "rows per insertAll batch before a flush")
	fs.DurationVar(&c.FlushDelay, "flush_delay", 2*time.Second, "longest a row waits for its insertAll batch")
	fs.DurationVar(&c.ProgressInterval, "progress_interval", DefaultProgressInterval,
		"how often the run writes its input's watermark and messages read to ops.stream_progress (the serving layer's gap and liveness reports)")
	c.BQ.Register(fs)
}

// plan is a validated config.
type plan struct {
	Config
	Catalog catalog.Catalog
	Start   time.Time
}

func (c Config) plan(now time.Time) (plan, error) {
	var errs []error
	p := plan{Config: c, Start: now.UTC()}
	if !validSubscription(c.Subscription) {
		errs = append(errs, fmt.Errorf("--subscription %q is not projects/PROJECT/subscriptions/NAME", c.Subscription))
	}
	if err := c.BQ.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxMessages < 0 || c.MaxMessages > 10000 {
		errs = append(errs, fmt.Errorf("--max_messages %d is outside 1..10000", c.MaxMessages))
	}
	if c.FlushRows <= 0 {
		p.FlushRows = 500
	}
	if c.FlushDelay <= 0 {
		p.FlushDelay = 2 * time.Second
	}
	if c.ProgressInterval <= 0 {
		p.ProgressInterval = DefaultProgressInterval
	}
	if p.DedupeHorizon <= 0 {
		t := c.Team
		if t.Window <= 0 {
			t.Window = time.Hour
		}
		if t.AllowedLateness <= 0 {
			t.AllowedLateness = 2 * time.Hour
		}
		p.DedupeHorizon = t.Window + t.AllowedLateness
	}
	if p.Instance == "" {
		p.Instance = "speed-" + p.Start.Format("20060102T150405.000Z")
	}
	p.Catalog = c.BQ.Catalog()
	return p, errors.Join(errs...)
}

func validSubscription(s string) bool {
	parts := strings.Split(s, "/")
	return len(parts) == 4 && parts[0] == "projects" && parts[1] != "" && parts[2] == "subscriptions" && parts[3] != ""
}

func (p plan) sinkConfig(table string) bqsink.Config {
	return bqsink.Config{
		Project: p.BQ.Project, Endpoint: p.BQ.Endpoint, Table: p.Catalog.TableID(table),
		Pipeline: pipelineName, RunID: p.Instance,
	}
}

// flush re-windows keyed rows into the global window with a trigger that
// fires every FlushRows rows or FlushDelay after the first waiting row:
// bqsink.Append groups by shard, and the views' own windows would hold
// their rows back until those windows close.
func (p plan) flush(s beam.Scope, keyed beam.PCollection) beam.PCollection {
	return beam.WindowInto(s, window.NewGlobalWindows(), keyed,
		beam.Trigger(trigger.Repeat(trigger.AfterAny([]trigger.Trigger{
			trigger.AfterCount(int32(p.FlushRows)),
			trigger.AfterProcessingTime().PlusDelay(p.FlushDelay),
		}))),
		beam.PanesDiscard())
}

// build constructs the speed pipeline.
func (p plan) build() *beam.Pipeline {
	pipeline, s := beam.NewPipelineWithRoot()
	raws, progress := runners.ReadPubSubWithProgress(s, pubsubsource.Config{
		Subscription: p.Subscription, Endpoint: p.PubSubEndpoint,
		StopAfterIdle: p.StopAfterIdle, Pipeline: pipelineName, MaxMessages: p.MaxMessages,
	}, p.ProgressInterval)
	events, dead := transforms.Parse(s, raws, transforms.ParseOptions{Pipeline: pipelineName, RunID: p.Instance})
	unique := transforms.DedupeStream(s, transforms.WithEventTime(s, events), transforms.DedupeStreamOptions{Horizon: p.DedupeHorizon})

	var deadLetters []beam.PCollection
	deadLetters = append(deadLetters, dead)
	write := func(name, table string, keyed beam.PCollection) {
		ws := s.Scope(name)
		res := bqsink.Append(ws, bqsink.AppendConfig{Config: p.sinkConfig(table)}, p.flush(ws, keyed))
		beam.ParDo0(ws, countRowsWritten, res.Written)
		deadLetters = append(deadLetters, res.DeadLetters)
	}

	teams := gaming.CalculateTeamScores(s, unique, p.Team)
	write("team_scores", catalog.TableRealtimeTeam,
		beam.ParDo(s, &teamScoreIDFn{Table: catalog.TableRealtimeTeam, Instance: p.Instance}, teams))

	daily := gaming.CalculateUserScoresDaily(s, unique, p.Team)
	write("user_scores_daily", catalog.TableRealtimeUserDaily,
		beam.ParDo(s, &userScoreDailyIDFn{Table: catalog.TableRealtimeUserDaily, Instance: p.Instance}, daily))

	write("stream_progress", catalog.TableStreamProgress,
		beam.ParDo(s, &progressRowFn{Table: catalog.TableStreamProgress, Job: pipelineName, Instance: p.Instance}, progress))

	users := gaming.CalculateUserScores(s, unique, p.UserDelay)
	write("user_scores", catalog.TableRealtimeUser,
		beam.ParDo(s, &userScoreIDFn{Table: catalog.TableRealtimeUser, Instance: p.Instance}, users))

	statsTeams, sessions := gaming.CalculateGameStats(s, unique, p.Stats)
	write("game_stats_team_scores", catalog.TableRealtimeGameStatsTeams,
		beam.ParDo(s, &teamScoreIDFn{Table: catalog.TableRealtimeGameStatsTeams, Instance: p.Instance}, statsTeams))
	write("game_stats_sessions", catalog.TableRealtimeGameStatsSessions,
		beam.ParDo(s, &sessionStatsIDFn{Table: catalog.TableRealtimeGameStatsSessions, Instance: p.Instance}, sessions))

	allDead := beam.Flatten(s, deadLetters...)
	bqsink.AppendDeadLetters(s, bqsink.AppendConfig{Config: p.sinkConfig(catalog.TableDeadLetters)},
		p.flush(s, beam.ParDo(s, bqsink.DeadLetterInsertID, allDead)))
	return pipeline
}

// Reconciliation is the run's account (package reconcile).
type Reconciliation = reconcile.Reconciliation

// Run executes the job on the runner the flags select. It returns when the
// context is cancelled (an error) or, with StopAfterIdle, after the drained
// run's reconciliation has been printed to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (reconcile.Reconciliation, error) {
	p, err := cfg.plan(time.Now())
	if err != nil {
		return reconcile.Reconciliation{}, err
	}
	fmt.Fprintf(out, "speed run %s: subscription %s → %s, runner %s\n",
		p.Instance, p.Subscription, strings.Join([]string{
			p.Catalog.TableID(catalog.TableRealtimeTeam), p.Catalog.TableID(catalog.TableRealtimeUser),
			p.Catalog.TableID(catalog.TableRealtimeUserDaily),
			p.Catalog.TableID(catalog.TableRealtimeGameStatsTeams), p.Catalog.TableID(catalog.TableRealtimeGameStatsSessions),
		}, ", "), runners.RunnerName())
	res, runErr := runners.Run(ctx, p.build(), runners.Streaming)
	if runErr != nil {
		return Reconciliation{}, fmt.Errorf("speed run %s: %w", p.Instance, runErr)
	}
	if runners.DryRun() {
		fmt.Fprintf(out, "speed run %s: dry run, the job was printed and not run: nothing read, no reconciliation\n", p.Instance)
		return Reconciliation{}, nil
	}
	c := reconcile.Counters(res)
	rows := map[string]int64{}
	for name, v := range c {
		if k, ok := strings.CutPrefix(name, metricRowsWrittenPrefix); ok {
			rows[k] = v
		}
	}
	rec := reconcile.Of(c, rows, c[metricDeadLetters])
	rec.Print(out)
	// DedupeStream's state, as seen by the SDK workers in this process
	// (prism and LOOPBACK workers run here; Dataflow's do not).
	if st := transforms.DedupeStats(); st.PeakIDs > 0 {
		fmt.Fprintf(out, "dedupe state: at most %d event ids retained, with %d bytes of runner state then (%.1f bytes per retained id); %d ids retained at the end\n",
			st.PeakIDs, st.PeakBytes, st.BytesPerID(), st.IDs)
	}
	if !rec.OK() {
		return rec, fmt.Errorf("speed run %s did not reconcile: %s", p.Instance, strings.Join(rec.Problems, "; "))
	}
	fmt.Fprintf(out, "speed run %s drained after %s\n", p.Instance, time.Since(p.Start).Round(time.Millisecond))
	return rec, nil
}
