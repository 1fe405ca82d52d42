package archivejob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/klauspost/compress/gzip"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/lakeio"
	"github.com/railyard-dev/railyard/transforms/lakewriter"
)

func TestMain(m *testing.M) {
	code := ptest.MainRetWithDefault(m, "prism")
	jobServers.Stop()
	os.Exit(code)
}

const bucket = "lake"

// archiveEnv is pstest and fake GCS with a topic, a subscription and a
// lake bucket.
type archiveEnv struct {
	stack  *localstack.Stack
	client *pubsub.Client
	gcs    *storage.Client
	topic  string
	sub    string
	lake   string
}

func newArchiveEnv(t testing.TB, ackDeadlineSeconds int32) *archiveEnv {
	t.Helper()
	ctx := context.Background()
	stack := localstack.StartForTest(t, localstack.Options{PubSub: true, GCS: true, Buckets: []string{bucket}})
	stack.SetEnvForTest(t)
	e := &archiveEnv{
		stack: stack,
		topic: "projects/" + stack.Project + "/topics/game-events",
		sub:   "projects/" + stack.Project + "/subscriptions/archive",
		lake:  "gs://" + bucket + "/lake",
	}
	var err error
	if e.client, err = stack.GCPConfig().PubSub(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.client.Close() })
	if e.gcs, err = stack.GCPConfig().Storage(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.gcs.Close() })
	if err := gcpclient.EnsureTopic(ctx, e.client, e.topic, time.Duration(ackDeadlineSeconds)*time.Second, e.sub); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *archiveEnv) config() Config {
	return Config{
		Subscription: e.sub, PubSubEndpoint: e.stack.PubSubEndpoint, EventTimeAttribute: "event_time",
		Lake: e.lake, Shards: 2, MaxEvents: 500, MaxBytes: 1 << 20, MaxAge: 2 * time.Second,
		StopAfterIdle: 3 * time.Second,
	}
}

// generator returns a generator of events over 6 hours with duplicates,
// invalid and late lines.
func generator(t testing.TB, events int64) *gen.Generator {
	t.Helper()
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed, cfg.Hours = events, 11, 6
	cfg.InvalidRate = 0.03
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// publish publishes the generator's lines as the ingest gateway would and
// returns the summary and the lines sent.
func (e *archiveEnv) publish(t testing.TB, g *gen.Generator, rate float64) (gen.Summary, []string) {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	pub := e.client.Publisher(e.topic)
	defer pub.Stop()
	sum, err := gen.Publish(context.Background(), g, pub, gen.PublishOptions{Rate: rate, OnPublish: func(r gen.Record, _ time.Time) {
		mu.Lock()
		lines = append(lines, string(r.Line))
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	return sum, lines
}

// lakeLines reads every file under the lake's dataset directory (e.g.
// game_events or _dead_letters) with the storage client and returns the
// lines, and the number of files.
func (e *archiveEnv) lakeLines(t testing.TB, dataset string) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	prefix := strings.TrimPrefix(e.lake, "gs://"+bucket+"/") + "/" + dataset + "/"
	it := e.gcs.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	var lines []string
	files := 0
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return lines, files
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(a.Name, "/.") {
			t.Errorf("hidden object in the lake: %s", a.Name)
		}
		r, err := e.gcs.Bucket(bucket).Object(a.Name).NewReader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		b, err := io.ReadAll(zr)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		files++
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
}

// checkAllAcked checks with pstest that every message was acked and that a
// pull finds nothing.
func (e *archiveEnv) checkAllAcked(t testing.TB, published int) {
	t.Helper()
	msgs := e.stack.PubSubServer.Messages()
	unacked := 0
	for _, m := range msgs {
		if m.Acks == 0 {
			unacked++
		}
	}
	if len(msgs) != published || unacked != 0 {
		t.Errorf("pstest holds %d messages (%d published), %d never acked", len(msgs), published, unacked)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := e.client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: e.sub, MaxMessages: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetReceivedMessages()); n != 0 {
		t.Errorf("a pull after the run got %d messages", n)
	}
}

func counts(lines []string) map[string]int {
	m := map[string]int{}
	for _, l := range lines {
		m[l]++
	}
	return m
}

// batchCounts runs the batch layer's reader, Parse and Dedupe over the
// lake's dates and returns its counters.
func batchCounts(t testing.TB, root string, dates []civil.Date) map[string]int64 {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	raws := lakeio.Read(s, root, dates)
	events, _ := transforms.Parse(s, raws, transforms.ParseOptions{Pipeline: "archive-test"})
	transforms.Dedupe(s, events)
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("batch read of the lake: %v", err)
	}
	out := map[string]int64{}
	for _, name := range []string{transforms.MetricRead, transforms.MetricValid, transforms.MetricInvalid, transforms.MetricUnique, transforms.MetricDuplicates} {
		q := res.Metrics().Query(func(r metrics.SingleResult) bool {
			return r.Namespace() == transforms.MetricsNamespace && r.Name() == name
		})
		for _, c := range q.Counters() {
			out[name] += c.Result()
		}
	}
	return out
}

// lakeDates are the event dates of a summary's lines and every date from
// since (taken before publishing) to now: lines without an event_time
// attribute are filed under their publish time, and a run that crosses
// midnight UTC files them under two dates.
func lakeDates(s gen.Summary, since time.Time) []civil.Date {
	from := civil.DateOf(s.MinEventTime.UTC())
	to := civil.DateOf(s.LastArrival.UTC())
	if m := civil.DateOf(s.MaxEventTime.UTC()); m.After(to) {
		to = m
	}
	dates, _ := lakeio.Dates(from, to)
	published, _ := lakeio.Dates(civil.DateOf(since.UTC()), civil.DateOf(time.Now().UTC()))
	return append(dates, published...)
}

// TestArchiveEndToEnd publishes generated events (duplicates, invalid and
// late lines) and messages that cannot be lines, archives them in a
// bounded run, and checks the lake against what was published: every line
// exactly once in the right partition, the batch layer's counts equal the
// generator's summary, the rejects dead-lettered, every message acked.
func TestArchiveEndToEnd(t *testing.T) {
	testArchiveEndToEnd(t, newArchiveEnv(t, 60))
}

// testArchiveEndToEnd drains generated events plus two messages that cannot
// be lake lines through one run on the runner the flags select: the lake
// holds exactly the published lines, the rejects are dead letters with
// their reasons, the batch layer reads back the generator's figures and
// every message was acked.
func testArchiveEndToEnd(t *testing.T, e *archiveEnv) {
	start := time.Now()
	sum, lines := e.publish(t, generator(t, 6000), 0)
	// Messages that cannot be a line unchanged.
	bad := map[string]string{"a\nb": lakewriter.ReasonLineBreak, "": lakewriter.ReasonEmptyPayload}
	for payload := range bad {
		e.stack.PubSubServer.Publish(e.topic, []byte(payload), map[string]string{"event_time": "2026-11-01T03:00:00.000Z", "k": "v"})
	}
	var out bytes.Buffer
	rep, err := Run(context.Background(), e.config(), &out)
	t.Logf("archive run:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != sum.Lines+2 || rep.LinesWritten != sum.Lines || rep.DeadLettered != 2 || rep.Files == 0 || rep.Bytes == 0 {
		t.Errorf("report %+v; want read %d, written %d, dead-lettered 2", rep, sum.Lines+2, sum.Lines)
	}
	wantLine := fmt.Sprintf("read    %d = written %d + dead-lettered 2  ok", sum.Lines+2, sum.Lines)
	if !strings.Contains(out.String(), wantLine) {
		t.Errorf("output lacks %q", wantLine)
	}

	got, files := e.lakeLines(t, "game_events")
	if !maps.Equal(counts(got), counts(lines)) || len(got) != len(lines) {
		t.Errorf("lake holds %d lines in %d files; %d published: not the same multiset", len(got), files, len(lines))
	}
	if int64(files) != rep.Files {
		t.Errorf("lake holds %d files, report says %d", files, rep.Files)
	}

	// The batch layer reads back exactly the generator's figures.
	c := batchCounts(t, e.lake, lakeDates(sum, start))
	for name, want := range map[string]int64{
		transforms.MetricRead: sum.Lines, transforms.MetricValid: sum.Valid(), transforms.MetricInvalid: sum.Invalid,
		transforms.MetricUnique: sum.ValidUnique, transforms.MetricDuplicates: sum.Duplicates,
	} {
		if c[name] != want {
			t.Errorf("batch %s = %d, want %d (generator: %s)", name, c[name], want, sum)
		}
	}

	// The rejects, with their reasons, in _dead_letters.
	dl, _ := e.lakeLines(t, lakewriter.DefaultDeadLetterDataset)
	if len(dl) != len(bad) {
		t.Fatalf("%d dead letters in the lake, want %d", len(dl), len(bad))
	}
	for _, l := range dl {
		var d schemas.DeadLetter
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		if want, ok := bad[string(d.Payload)]; !ok || d.Reason != want || d.Pipeline != "archive" || d.Stage != lakewriter.StageLakeWrite ||
			!strings.HasPrefix(d.Source, e.sub+"/messages/") || d.Attributes != `{"event_time":"2026-11-01T03:00:00.000Z","k":"v"}` {
			t.Errorf("dead letter %+v", d)
		}
	}
	e.checkAllAcked(t, len(lines)+len(bad))
}

// TestArchiveCrashAndRestart stops a run in the middle of a stream
// (cancelling it while messages are still being published), then starts
// the job again: every published line is in the lake at least once,
// every message ends up acked, and after the batch dedupe the unique
// events are exactly the generator's.
func TestArchiveCrashAndRestart(t *testing.T) {
	// An ack deadline just long enough for --max_age=1s, so that what the
	// stopped run held comes back soon.
	testArchiveCrashAndRestart(t, newArchiveEnv(t, 12))
}

func testArchiveCrashAndRestart(t *testing.T, e *archiveEnv) {
	start := time.Now()
	cfg := e.config()
	cfg.MaxAge, cfg.MaxEvents, cfg.StopAfterIdle = time.Second, 200, 0

	g := generator(t, 20000)
	type published struct {
		sum   gen.Summary
		lines []string
	}
	done := make(chan published, 1)
	go func() {
		sum, lines := e.publish(t, g, 4000) // about 5 s of stream
		done <- published{sum, lines}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg, io.Discard)
		runErr <- err
	}()
	// Stop it once it has written a few files.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, files := e.lakeLines(t, "game_events"); files >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run wrote no files in 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-runErr; err == nil {
		t.Fatal("the cancelled run returned no error")
	}
	atStop, filesAtStop := e.lakeLines(t, "game_events")
	acked := 0
	for _, m := range e.stack.PubSubServer.Messages() {
		if m.Acks > 0 {
			acked++
		}
	}
	t.Logf("first run stopped with %d lines in %d files, %d messages acked", len(atStop), filesAtStop, acked)

	pub := <-done
	if acked >= len(pub.lines) {
		t.Fatalf("the first run acked all %d messages before it was stopped: nothing was interrupted", acked)
	}
	// The restart drains the subscription: it waits longer than the ack
	// deadline for what the first run held.
	cfg.StopAfterIdle = 15 * time.Second
	var out bytes.Buffer
	rep, err := Run(context.Background(), cfg, &out)
	t.Logf("restart:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}

	got, _ := e.lakeLines(t, "game_events")
	have := counts(got)
	missing := 0
	for l, n := range counts(pub.lines) {
		if have[l] < n {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d distinct published lines are missing from the lake (or have fewer copies)", missing)
	}
	if len(have) != len(counts(pub.lines)) {
		t.Errorf("the lake holds %d distinct lines, %d were published", len(have), len(counts(pub.lines)))
	}
	t.Logf("lake: %d lines for %d published (%d written twice after the stop); restart report %+v", len(got), len(pub.lines), len(got)-len(pub.lines), rep)

	c := batchCounts(t, e.lake, lakeDates(pub.sum, start))
	if c[transforms.MetricUnique] != pub.sum.ValidUnique || c[transforms.MetricRead] != int64(len(got)) ||
		c[transforms.MetricValid] != c[transforms.MetricUnique]+c[transforms.MetricDuplicates] {
		t.Errorf("batch counts %v; want unique %d and read %d", c, pub.sum.ValidUnique, len(got))
	}
	e.checkAllAcked(t, len(pub.lines))
}

// TestArchiveDeadLettersToBigQuery: with BigQuery flags the rejects are
// also appended to ops.dead_letters.
func TestArchiveDeadLettersToBigQuery(t *testing.T) {
	e := newArchiveEnv(t, 60)
	bqStack := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	ctx := context.Background()
	bq := cliflags.BigQuery{Project: bqStack.Project, Endpoint: bqStack.BigQueryEndpoint, DatasetPrefix: "arch_"}
	client, err := bq.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := bq.Catalog()
	plan, err := c.Plan(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, client, plan, catalog.ApplyOptions{RecreateOnEmulator: true}); err != nil {
		t.Fatal(err)
	}
	for i, payload := range []string{`{"event_id":"ok-1"}`, "two\nlines", "", `{"event_id":"ok-2"}`, "\ufeff{}"} {
		e.stack.PubSubServer.Publish(e.topic, []byte(payload), map[string]string{"event_time": fmt.Sprintf("2026-11-01T0%d:00:00Z", i)})
	}
	cfg := e.config()
	cfg.BQ, cfg.RunID = bq, "archive-bq-test"
	var out bytes.Buffer
	rep, err := Run(ctx, cfg, &out)
	t.Logf("archive run:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.LinesWritten != 2 || rep.DeadLettered != 3 {
		t.Errorf("report %+v, want 2 written and 3 dead-lettered", rep)
	}
	it, err := client.Query(fmt.Sprintf("SELECT reason, pipeline, run_id, stage FROM `%s` ORDER BY reason", c.TableID(catalog.TableDeadLetters))).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		var row struct {
			Reason, Pipeline, Stage string
			RunID                   string `bigquery:"run_id"`
		}
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", row.Reason, row.Pipeline, row.RunID, row.Stage))
	}
	want := []string{
		"empty_payload archive archive-bq-test lake_write",
		"payload_has_line_break archive archive-bq-test lake_write",
		"payload_starts_with_bom archive archive-bq-test lake_write",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ops.dead_letters holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	e.checkAllAcked(t, 5)
}

func TestPlanErrors(t *testing.T) {
	_, err := Config{Subscription: "nope", Shards: 0, MaxEvents: 0, MaxBytes: 0, MaxAge: 10 * time.Minute}.plan(time.Now())
	for _, want := range []string{`--subscription "nope"`, "--lake is required", "--shards 0", "--max_events 0", "--max_bytes 0", "above Pub/Sub's maximum of 600s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("plan error %v lacks %q", err, want)
		}
	}
	_, err = Config{Subscription: "projects/p/subscriptions/s", Lake: "s3://x", Shards: 1, MaxEvents: 1, MaxBytes: 1, MaxAge: time.Second}.plan(time.Now())
	if err == nil || !strings.Contains(err.Error(), "only local directories and gs://") {
		t.Errorf("plan of an s3:// lake: %v", err)
	}
}

// TestCheckSubscription: a missing subscription and one whose ack deadline
// is too short for --max_age are refused before anything runs.
func TestCheckSubscription(t *testing.T) {
	e := newArchiveEnv(t, 10)
	ctx := context.Background()
	if err := CheckSubscription(ctx, e.sub, e.stack.PubSubEndpoint, 0, io.Discard); err != nil {
		t.Errorf("ack deadline 10s, max_age 0: %v", err)
	}
	err := CheckSubscription(ctx, e.sub, e.stack.PubSubEndpoint, time.Minute, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "has an ack deadline of 10s, but --max_age=1m0s needs at least 2m10s") ||
		!strings.Contains(err.Error(), "--ack-deadline=130") {
		t.Errorf("short ack deadline: %v", err)
	}
	err = CheckSubscription(ctx, "projects/"+e.stack.Project+"/subscriptions/nope", e.stack.PubSubEndpoint, time.Second, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing subscription: %v", err)
	}
	cfg := e.config()
	cfg.MaxAge = time.Minute
	if _, err := Run(ctx, cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "ack deadline") {
		t.Errorf("Run with a short ack deadline: %v", err)
	}
}
