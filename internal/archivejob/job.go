package archivejob

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/reconcile"
	"github.com/railyard-dev/railyard/runners"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms/bqsink"
	"github.com/railyard-dev/railyard/transforms/lakewriter"
	"github.com/railyard-dev/railyard/transforms/pubsubsource"
)

// pipelineName labels the job's dead letters and log lines.
const pipelineName = "archive"

// AckDeadlineMargin is added to twice --max_age to get the least ack
// deadline Run accepts on the subscription.
const AckDeadlineMargin = 10 * time.Second

// Config is the archive job's command line.
type Config struct {
	Subscription       string
	PubSubEndpoint     string
	EventTimeAttribute string
	Lake               string
	Shards             int
	MaxEvents          int
	MaxBytes           int64
	MaxAge             time.Duration
	// StopAfterIdle > 0 makes the run bounded: it ends once the
	// subscription has been empty this long and everything read is written
	// and acked.
	StopAfterIdle time.Duration
	// RunID labels the dead letters (default archive-<start time>).
	RunID string
	// BQ, when its project is set, also appends the dead letters to
	// ops.dead_letters.
	BQ cliflags.BigQuery
}

// Register adds the job's flags to fs.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Subscription, "subscription", os.Getenv("RAILYARD_ARCHIVE_SUBSCRIPTION"),
		"Pub/Sub subscription to archive, projects/P/subscriptions/S (required; env RAILYARD_ARCHIVE_SUBSCRIPTION). "+
			"Its ack deadline must be at least 2 × --max_age + 10s: messages are acked only once their lake file is written")
	fs.StringVar(&c.PubSubEndpoint, "pubsub_endpoint", os.Getenv("PUBSUB_EMULATOR_HOST"),
		"Pub/Sub emulator host:port, e.g. 127.0.0.1:8085; empty means Google's (env PUBSUB_EMULATOR_HOST)")
	fs.StringVar(&c.EventTimeAttribute, "event_time_attribute", pubsubsource.DefaultEventTimeAttribute,
		`message attribute holding the event time that partitions the lake (RFC 3339 or epoch ms); "-": the publish time`)
	fs.StringVar(&c.Lake, "lake", "", "lake root: a local directory or gs://BUCKET/PREFIX (required)")
	fs.IntVar(&c.Shards, "shards", lakewriter.DefaultShards, "files written in parallel per hour partition and pane")
	fs.IntVar(&c.MaxEvents, "max_events", lakewriter.DefaultMaxEvents, "most lines in one lake file; a shard's pane is written when it has this many")
	fs.Int64Var(&c.MaxBytes, "max_bytes", lakewriter.DefaultMaxBytes, "most uncompressed bytes in one lake file (the gzip file is smaller)")
	fs.DurationVar(&c.MaxAge, "max_age", lakewriter.DefaultMaxAge,
		"longest a message waits before its file is written (processing time); must stay well below the subscription's ack deadline")
	fs.DurationVar(&c.StopAfterIdle, "stop_after_idle", 0,
		"end the run once the subscription has been empty this long, after writing and acking everything read, and print the counts (0: run until stopped)")
	fs.StringVar(&c.RunID, "run_id", "", "name of this run in dead letters (default archive-<start time>)")
	c.BQ.Register(fs)
}

// plan is a validated config.
type plan struct {
	Config
	Start time.Time
}

func (c Config) plan(now time.Time) (plan, error) {
	var errs []error
	p := plan{Config: c, Start: now.UTC()}
	if _, _, ok := pubsubsource.ProjectAndID(c.Subscription); !ok {
		errs = append(errs, fmt.Errorf("--subscription %q is not projects/PROJECT/subscriptions/NAME", c.Subscription))
	}
	if c.Lake == "" {
		errs = append(errs, errors.New("--lake is required (a local directory or gs://BUCKET/PREFIX)"))
	}
	if c.Shards < 1 {
		errs = append(errs, fmt.Errorf("--shards %d: want at least 1", c.Shards))
	}
	if c.MaxEvents < 1 {
		errs = append(errs, fmt.Errorf("--max_events %d: want at least 1", c.MaxEvents))
	}
	if c.MaxBytes < 1 {
		errs = append(errs, fmt.Errorf("--max_bytes %d: want at least 1", c.MaxBytes))
	}
	if c.MaxAge < time.Millisecond {
		errs = append(errs, fmt.Errorf("--max_age %v: want at least 1ms", c.MaxAge))
	} else if need := requiredAckDeadline(c.MaxAge); need > 600*time.Second {
		errs = append(errs, fmt.Errorf("--max_age %v needs an ack deadline of %v, above Pub/Sub's maximum of 600s: lower it to 295s or less", c.MaxAge, need))
	}
	if c.StopAfterIdle < 0 {
		errs = append(errs, fmt.Errorf("--stop_after_idle %v is negative", c.StopAfterIdle))
	}
	if p.RunID == "" {
		p.RunID = "archive-" + p.Start.Format("20060102T150405.000Z")
	}
	if err := errors.Join(errs...); err != nil {
		return p, err
	}
	if c.Lake != "" {
		if err := p.writerConfig().Validate(); err != nil {
			return p, err
		}
	}
	return p, nil
}

// requiredAckDeadline is the least subscription ack deadline for a max age.
func requiredAckDeadline(maxAge time.Duration) time.Duration {
	return 2*maxAge + AckDeadlineMargin
}

func (p plan) sourceConfig() pubsubsource.Config {
	return pubsubsource.Config{
		Subscription: p.Subscription, Endpoint: p.PubSubEndpoint, EventTimeAttribute: p.EventTimeAttribute,
		AckMode: pubsubsource.AckByCaller, StopAfterIdle: p.StopAfterIdle, Pipeline: pipelineName,
	}
}

func (p plan) writerConfig() lakewriter.Config {
	return lakewriter.Config{
		Root: p.Lake, Shards: p.Shards, MaxEvents: p.MaxEvents, MaxBytes: p.MaxBytes, MaxAge: p.MaxAge,
		AckIDAttribute: pubsubsource.AckIDAttribute, Pipeline: pipelineName, RunID: p.RunID,
	}
}

// build constructs the archive pipeline: subscription → lake files → acks
// of the messages whose files are durable.
func (p plan) build() *beam.Pipeline {
	pipeline, s := beam.NewPipelineWithRoot()
	src := p.sourceConfig()
	raws := runners.ReadPubSub(s, src)
	res := lakewriter.Write(s, p.writerConfig(), raws)
	// On Dataflow its own source acks once its checkpoint holds a message
	// (durable before the write); elsewhere the acks follow the files.
	runners.AcknowledgePubSub(s, src, res.AckIDs)
	if p.BQ.Project != "" {
		// A copy for ops.dead_letters; the durable record, and what the
		// ack waits for, is the lake's _dead_letters file.
		bqsink.AppendDeadLetters(s, bqsink.AppendConfig{Config: bqsink.Config{
			Project: p.BQ.Project, Endpoint: p.BQ.Endpoint, Table: p.BQ.Catalog().TableID(catalog.TableDeadLetters),
			Pipeline: pipelineName, RunID: p.RunID,
		}}, beam.ParDo(s, bqsink.DeadLetterInsertID, res.DeadLetters))
	}
	return pipeline
}

// CheckSubscription fails when the subscription does not exist or its ack
// deadline is too short for maxAge (see the package doc). When the caller
// may not read the subscription's settings it only warns on w.
func CheckSubscription(ctx context.Context, subscription, endpoint string, maxAge time.Duration, w io.Writer) error {
	project, _, ok := pubsubsource.ProjectAndID(subscription)
	if !ok {
		return fmt.Errorf("subscription %q is not projects/PROJECT/subscriptions/NAME", subscription)
	}
	client, err := gcpclient.Config{Project: project, PubSubEndpoint: endpoint}.PubSub(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sub, err := client.SubscriptionAdminClient.GetSubscription(cctx, &pubsubpb.GetSubscriptionRequest{Subscription: subscription})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound:
		return fmt.Errorf("subscription %s does not exist", subscription)
	case codes.PermissionDenied:
		fmt.Fprintf(w, "warning: cannot read the settings of %s (%v): make sure its ack deadline is at least %v\n",
			subscription, err, requiredAckDeadline(maxAge))
		return nil
	default:
		return fmt.Errorf("reading subscription %s: %w", subscription, err)
	}
	deadline := time.Duration(sub.GetAckDeadlineSeconds()) * time.Second
	if need := requiredAckDeadline(maxAge); deadline < need {
		return fmt.Errorf("subscription %s has an ack deadline of %v, but --max_age=%v needs at least %v (2 × max_age + %v): "+
			"messages are acked only after their lake file is written, and would be redelivered and written again; "+
			"raise it (gcloud pubsub subscriptions update %s --ack-deadline=%d) or lower --max_age",
			subscription, deadline, maxAge, need, AckDeadlineMargin, subscriptionID(subscription), int(min(600, max(need.Seconds(), 60))))
	}
	return nil
}

func subscriptionID(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// Report is the account of a bounded run, from the job's counters.
type Report struct {
	RunID string
	// Read is the messages pulled; Received those that reached the
	// writer.
	Read, Received int64
	// LinesWritten are lines in game_events files, DeadLettered the
	// messages written to _dead_letters instead.
	LinesWritten, DeadLettered  int64
	Files, Bytes, FilesExisting int64
	Acked                       int64
	Elapsed                     time.Duration
	Problems                    []string
}

func reportOf(runID string, c map[string]int64, elapsed time.Duration) Report {
	r := Report{
		RunID:         runID,
		Read:          c[pubsubsource.MetricPulled],
		Received:      c[lakewriter.MetricLinesReceived],
		LinesWritten:  c[lakewriter.MetricLinesWritten],
		DeadLettered:  c[lakewriter.MetricDeadLettersWritten],
		Files:         c[lakewriter.MetricFilesWritten],
		Bytes:         c[lakewriter.MetricBytesWritten],
		FilesExisting: c[lakewriter.MetricFilesExisting],
		Acked:         c[pubsubsource.MetricAcked],
		Elapsed:       elapsed,
	}
	if r.Read != r.LinesWritten+r.DeadLettered {
		r.Problems = append(r.Problems, fmt.Sprintf("read %d != written %d + dead-lettered %d", r.Read, r.LinesWritten, r.DeadLettered))
	}
	if r.Received != r.Read {
		r.Problems = append(r.Problems, fmt.Sprintf("the writer received %d of %d messages read", r.Received, r.Read))
	}
	return r
}

// OK reports whether the counts reconcile.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Print writes the account.
func (r Report) Print(w io.Writer) {
	mark := "ok"
	if r.Read != r.LinesWritten+r.DeadLettered {
		mark = "MISMATCH"
	}
	fmt.Fprintf(w, "read    %d = written %d + dead-lettered %d  %s\n", r.Read, r.LinesWritten, r.DeadLettered, mark)
	fmt.Fprintf(w, "files   %d (%d bytes stored; %d found already written)\n", r.Files, r.Bytes, r.FilesExisting)
	fmt.Fprintf(w, "acked   %d\n", r.Acked)
	if secs := r.Elapsed.Seconds(); secs > 0 {
		fmt.Fprintf(w, "rate    %.0f messages/s over %s\n", float64(r.Read)/secs, r.Elapsed.Round(time.Millisecond))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "RECONCILIATION FAILED: %s\n", p)
	}
}

// Run executes the job on the runner the flags select. It returns when the
// context is cancelled (an error) or, with StopAfterIdle, once the drained
// run's account has been printed to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (Report, error) {
	p, err := cfg.plan(time.Now())
	if err != nil {
		return Report{}, err
	}
	fmt.Fprintf(out, "archive run %s: %s → %s/%s (shards %d, max %d events / %d bytes / %v per file), runner %s\n",
		p.RunID, p.Subscription, strings.TrimRight(p.Lake, "/"), catalog.LakeGameEvents, p.Shards, p.MaxEvents, p.MaxBytes, p.MaxAge, runners.RunnerName())
	if runners.DryRun() {
		// Neither the lake nor the subscription is checked: nothing is read.
		if _, err := runners.Run(ctx, p.build(), runners.Streaming); err != nil {
			return Report{RunID: p.RunID}, fmt.Errorf("archive run %s (dry run): %w", p.RunID, err)
		}
		fmt.Fprintf(out, "archive run %s: dry run, the job was printed and not run: nothing read or written\n", p.RunID)
		return Report{RunID: p.RunID}, nil
	}
	if err := lakewriter.CheckRoot(ctx, p.Lake); err != nil {
		return Report{}, err
	}
	if err := CheckSubscription(ctx, p.Subscription, p.PubSubEndpoint, p.MaxAge, out); err != nil {
		return Report{}, err
	}
	start := time.Now()
	res, runErr := runners.Run(ctx, p.build(), runners.Streaming)
	if runErr != nil {
		// A cancelled universal-runner result has no metrics (its
		// Metrics() dereferences nil).
		return Report{RunID: p.RunID}, fmt.Errorf("archive run %s: %w", p.RunID, runErr)
	}
	rep := reportOf(p.RunID, reconcile.Counters(res), time.Since(start))
	rep.Print(out)
	if !rep.OK() {
		return rep, fmt.Errorf("archive run %s did not reconcile: %s", p.RunID, strings.Join(rep.Problems, "; "))
	}
	fmt.Fprintf(out, "archive run %s drained after %s\n", p.RunID, time.Since(p.Start).Round(time.Millisecond))
	return rep, nil
}
