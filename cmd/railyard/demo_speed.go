package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/ingest"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/speedjob"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// demoSpeedLayer posts the generated events to an in-process ingest gateway
// in NDJSON batches, runs the speed job over its subscription until it is
// drained, and prints the day's top teams from the realtime panes next to
// the batch view's.
func demoSpeedLayer(ctx context.Context, out io.Writer, stack *localstack.Stack, bq cliflags.BigQuery, cfg gen.Config, day civil.Date) ([]teamTotal, error) {
	ps, err := stack.GCPConfig().PubSub(ctx)
	if err != nil {
		return nil, err
	}
	defer ps.Close()
	topic := gcpclient.TopicName(stack.Project, ingest.DefaultTopic)
	deadTopic := gcpclient.TopicName(stack.Project, ingest.DefaultDeadLetterTopic)
	sub := gcpclient.SubscriptionName(stack.Project, "speed")
	if err := gcpclient.EnsureTopic(ctx, ps, topic, time.Minute, sub); err != nil {
		return nil, err
	}
	if err := gcpclient.EnsureTopic(ctx, ps, deadTopic, 0); err != nil {
		return nil, err
	}
	gw, err := ingest.New(ingest.Config{Topic: topic, DeadLetterTopic: deadTopic, HTTPAddr: "127.0.0.1:0", Logger: discardLogger()}, ps)
	if err != nil {
		return nil, err
	}
	if err := gw.Start(); err != nil {
		return nil, err
	}
	defer gw.Shutdown(context.Background())

	g, err := gen.New(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	accepted, rejected := 0, 0
	var body bytes.Buffer
	flush := func() error {
		if body.Len() == 0 {
			return nil
		}
		resp, err := http.Post(gw.HTTPURL()+"/v1/events", "application/x-ndjson", bytes.NewReader(body.Bytes()))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var r struct {
			Accepted int               `json:"accepted"`
			Rejected []json.RawMessage `json:"rejected"`
		}
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusBadRequest {
			return fmt.Errorf("demo: gateway answered %s: %s", resp.Status, data)
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("demo: gateway answered %s: %s", resp.Status, data)
		}
		accepted += r.Accepted
		rejected += len(r.Rejected)
		body.Reset()
		return nil
	}
	n := 0
	for r := range g.Records() {
		body.Write(r.Line)
		body.WriteByte('\n')
		if n++; n%100 == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "gateway %s: accepted %d, rejected %d (to %s) in %s\n",
		gw.HTTPURL(), accepted, rejected, deadTopic, time.Since(start).Round(time.Millisecond))

	if _, err := speedjob.Run(ctx, speedjob.Config{
		Subscription: sub, PubSubEndpoint: stack.PubSubEndpoint, BQ: bq,
		StopAfterIdle: 2 * time.Second, FlushDelay: time.Second,
	}, out); err != nil {
		return nil, err
	}
	return printRealtimeTopTeams(ctx, out, bq, day)
}

// printRealtimeTopTeams prints the day's top teams from the latest pane of
// every team window in realtime.team_scores.
func printRealtimeTopTeams(ctx context.Context, out io.Writer, bq cliflags.BigQuery, day civil.Date) ([]teamTotal, error) {
	table := bq.Catalog().TableID(catalog.TableRealtimeTeam)
	sql := fmt.Sprintf("SELECT t.team, SUM(t.score) AS score, SUM(t.events) AS events FROM `%[1]s` t "+
		"JOIN (SELECT team, window_start, MAX(pane_index) AS pane_index FROM `%[1]s` GROUP BY team, window_start) l "+
		"ON t.team = l.team AND t.window_start = l.window_start AND t.pane_index = l.pane_index "+
		"WHERE DATE(t.window_start) = '%[2]s' GROUP BY t.team ORDER BY score DESC, t.team LIMIT 5", table, day)
	return printTeams(ctx, out, bq, fmt.Sprintf("top teams on %s from the realtime panes (latest pane per team and window of %s):", day, table), sql)
}
