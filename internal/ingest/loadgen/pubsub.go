package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/railyard-dev/railyard/internal/gen"
)

// servePubSub runs pstest on addr with the given topics (full names) until
// interrupted: the benchmark's Pub/Sub, in a process of its own so that its
// CPU time is measured apart from the gateway's.
func servePubSub(addr string, topics []string) error {
	srv := pstest.NewServerWithAddress(addr)
	defer srv.Close()
	for _, t := range topics {
		if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: t}); err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	fmt.Printf("loadgen: pubsub emulator (pstest) listening on pubsub://%s\n", srv.Addr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// publishRequests builds the Publish requests the gateway would send for
// the bodies of cfg: one request per body, one message per event, with the
// event as payload and the gateway's attributes.
func publishRequests(cfg config, topic string) ([]*pubsubpb.PublishRequest, error) {
	g, err := gen.New(genConfig(cfg))
	if err != nil {
		return nil, err
	}
	out := make([]*pubsubpb.PublishRequest, 0, cfg.requests)
	var cur *pubsubpb.PublishRequest
	for r := range g.Records() {
		if cur == nil {
			cur = &pubsubpb.PublishRequest{Topic: topic, Messages: make([]*pubsubpb.PubsubMessage, 0, cfg.batch)}
		}
		cur.Messages = append(cur.Messages, &pubsubpb.PubsubMessage{Data: r.Line, Attributes: r.Attributes()})
		if len(cur.Messages) == cfg.batch {
			out = append(out, cur)
			cur = nil
		}
	}
	return out, nil
}

// runCeiling publishes the events of cfg straight to the emulator at
// endpoint, one Publish RPC per request of cfg.batch messages from
// cfg.concurrency goroutines, with the bare generated gRPC stub: what
// anything that publishes to this emulator from this machine can reach at
// best, the gateway's ceiling.
func runCeiling(ctx context.Context, cfg config, endpoint, topic string) (result, error) {
	if cfg.requests <= 0 || cfg.concurrency <= 0 || cfg.batch <= 0 {
		return result{}, errors.New("-requests, -concurrency and -batch must be positive")
	}
	reqs, err := publishRequests(cfg, topic)
	if err != nil {
		return result{}, err
	}
	conn, err := grpc.NewClient(strings.TrimPrefix(endpoint, "pubsub://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	stub := pubsubpb.NewPublisherClient(conn)
	// Connection set-up is not in the figures.
	if _, err := stub.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic}); err != nil {
		return result{}, fmt.Errorf("topic %s: %w", topic, err)
	}
	cfg.requests = len(reqs)
	return drive(cfg, func(i int) error {
		resp, err := stub.Publish(ctx, reqs[i])
		if err == nil && len(resp.MessageIds) != len(reqs[i].Messages) {
			err = fmt.Errorf("%d message ids for %d messages", len(resp.MessageIds), len(reqs[i].Messages))
		}
		return err
	}), nil
}
