package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/internal/archivejob"
	"github.com/railyard-dev/railyard/internal/batchjob"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/ingest"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/transforms/lakewriter"
)

func TestMain(m *testing.M) { ptest.MainWithDefault(m, "prism") }

// ingestResponse is the gateway's 202/400 body.
type ingestResponse struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// postAll posts the lines to the gateway as NDJSON in batches, retrying a
// batch the gateway answers 429 or 503, and returns how many events it
// accepted and rejected.
func postAll(t *testing.T, url string, lines [][]byte, batch int) (accepted, rejected int) {
	t.Helper()
	for i := 0; i < len(lines); i += batch {
		var body bytes.Buffer
		for _, l := range lines[i:min(i+batch, len(lines))] {
			body.Write(l)
			body.WriteByte('\n')
		}
		for attempt := 0; ; attempt++ {
			resp, err := http.Post(url+"/v1/events", "application/x-ndjson", bytes.NewReader(body.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 20 {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("POST batch at line %d: %s %s", i, resp.Status, data)
			}
			var r ingestResponse
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatalf("POST batch at line %d: %s: %v", i, data, err)
			}
			accepted += r.Accepted
			rejected += len(r.Rejected)
			break
		}
	}
	return accepted, rejected
}

// TestIngestArchiveBatch posts generated events (with duplicates, late and
// invalid ones) to the gateway while the archiver runs; the archiver is
// killed mid-stream and started again; then the batch layer reads the lake
// back. Every accepted event is in the lake at least once, and after the
// batch dedupe the counts are exactly the generator's.
func TestIngestArchiveBatch(t *testing.T) {
	ctx := context.Background()
	stack := localstack.StartForTest(t, localstack.Options{PubSub: true, GCS: true, Buckets: []string{"lake"}})
	stack.SetEnvForTest(t)
	ps, err := stack.GCPConfig().PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	topic := gcpclient.TopicName(stack.Project, "game-events")
	deadTopic := gcpclient.TopicName(stack.Project, "game-events-dead-letters")
	sub := gcpclient.SubscriptionName(stack.Project, "archive")
	// The shortest ack deadline the archiver accepts with 2 s files
	// (2 × max_age + 10 s), so that what the killed archiver had pulled
	// but not written comes back soon.
	if err := gcpclient.EnsureTopic(ctx, ps, topic, 15*time.Second, sub); err != nil {
		t.Fatal(err)
	}
	if err := gcpclient.EnsureTopic(ctx, ps, deadTopic, 0); err != nil {
		t.Fatal(err)
	}
	gw, err := ingest.New(ingest.Config{Topic: topic, DeadLetterTopic: deadTopic, HTTPAddr: "127.0.0.1:0"}, ps)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Shutdown(context.Background()) })

	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Seed, cfg.Hours = 6000, 31, 3
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for r := range g.Records() {
		lines = append(lines, r.Line)
	}
	sum := g.Summary()

	const lake = "gs://lake/e2e"
	archive := archivejob.Config{
		Subscription: sub, PubSubEndpoint: stack.PubSubEndpoint, Lake: lake,
		Shards: lakewriter.DefaultShards, MaxEvents: lakewriter.DefaultMaxEvents, MaxBytes: lakewriter.DefaultMaxBytes,
		MaxAge: 2 * time.Second, RunID: "archive-1",
	}
	// The first archiver runs while the first half is posted and is
	// killed (its context cancelled) before it has caught up.
	killCtx, kill := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var out bytes.Buffer
		_, err := archivejob.Run(killCtx, archive, &out)
		t.Logf("first archiver (killed): %v\n%s", err, out.String())
	}()
	half := len(lines) / 2
	acc1, rej1 := postAll(t, gw.HTTPURL(), lines[:half], 100)
	time.Sleep(5 * time.Second)
	kill()
	wg.Wait()
	acc2, rej2 := postAll(t, gw.HTTPURL(), lines[half:], 100)
	accepted, rejected := acc1+acc2, rej1+rej2
	if int64(accepted) != sum.Valid() || int64(rejected) != sum.Invalid {
		t.Fatalf("gateway accepted %d and rejected %d, the generator made %d valid and %d invalid lines", accepted, rejected, sum.Valid(), sum.Invalid)
	}

	// The second archiver drains the subscription, including what the
	// killed one pulled and never acked: it stays idle longer than the
	// ack deadline before it stops.
	archive.RunID, archive.StopAfterIdle = "archive-2", 20*time.Second
	var out bytes.Buffer
	rep, err := archivejob.Run(ctx, archive, &out)
	t.Logf("second archiver:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeadLettered != 0 {
		t.Errorf("archiver dead-lettered %d messages; the gateway publishes only valid events", rep.DeadLettered)
	}

	// The batch layer reads the lake back: nothing accepted is missing,
	// and the dedupe makes the counts exact.
	from := sum.MinEventTime.UTC().Format(time.DateOnly)
	to := sum.MaxEventTime.UTC().Format(time.DateOnly)
	var bout bytes.Buffer
	rec, err := batchjob.Run(ctx, batchjob.Config{Lake: lake, Date: from, To: to, Views: strings.Join(batchjob.ViewNames(), ","), Sink: batchjob.SinkDiscard, RunID: "e2e"}, &bout)
	t.Logf("batch run:\n%s", bout.String())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Invalid != 0 {
		t.Errorf("batch found %d invalid lines in the lake; the gateway accepts only valid events", rec.Invalid)
	}
	if rec.Unique != sum.ValidUnique {
		t.Errorf("batch counted %d unique events, the generator made %d", rec.Unique, sum.ValidUnique)
	}
	if rec.Read < int64(accepted) {
		t.Errorf("the lake holds %d lines, fewer than the %d accepted events: some were lost", rec.Read, accepted)
	}
	if rec.Duplicates != rec.Read-sum.ValidUnique {
		t.Errorf("batch duplicates %d, want read %d - unique %d", rec.Duplicates, rec.Read, sum.ValidUnique)
	}
	t.Logf("accepted %d, rejected %d; lake lines %d (%d rewritten after the kill); unique %d", accepted, rejected, rec.Read, rec.Read-int64(accepted), rec.Unique)
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("test context cancelled")
	}
}
