package pubsubsource

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/railyard-dev/railyard/internal/gcpclient"
)

// maxAckBatch is the most ack IDs sent in one Acknowledge or
// ModifyAckDeadline call (Pub/Sub caps a request at 512 KB; real ack IDs
// are a few hundred bytes).
const maxAckBatch = 1000

// Retry of Acknowledge and ModifyAckDeadline on transient errors, on top
// of the client library's own retry of UNAVAILABLE.
const (
	retryInitial = 100 * time.Millisecond
	retryMax     = 5 * time.Second
	retryBudget  = time.Minute
)

// subscriber is a shared Pub/Sub client for the unary subscriber calls.
type subscriber struct {
	admin *vkit.SubscriptionAdminClient
	key   string
	refs  int
	close func() error
}

// Clients are shared by every DoFn instance of a process that talks to the
// same endpoint and project: a gRPC connection serves many callers, and
// the Go harness may create a DoFn instance per bundle that awaits
// finalization.
var (
	clientsMu sync.Mutex
	clients   = map[string]*subscriber{}
)

// acquireSubscriber returns the shared client for cfg's endpoint and
// project; release it with releaseSubscriber.
func acquireSubscriber(ctx context.Context, cfg Config) (*subscriber, error) {
	key := cfg.Endpoint + "|" + cfg.project()
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if s, ok := clients[key]; ok {
		s.refs++
		return s, nil
	}
	c, err := gcpclient.Config{Project: cfg.project(), PubSubEndpoint: cfg.Endpoint}.PubSub(ctx)
	if err != nil {
		return nil, fmt.Errorf("pubsubsource: %w", err)
	}
	s := &subscriber{admin: c.SubscriptionAdminClient, key: key, refs: 1, close: c.Close}
	clients[key] = s
	return s, nil
}

func releaseSubscriber(s *subscriber) {
	if s == nil {
		return
	}
	clientsMu.Lock()
	defer clientsMu.Unlock()
	s.refs--
	if s.refs > 0 {
		return
	}
	if clients[s.key] == s {
		delete(clients, s.key)
	}
	_ = s.close()
}

// acknowledge acks ids in batches of at most maxAckBatch, retrying
// transient errors. It returns how many ids were acked and the first
// error.
func (s *subscriber) acknowledge(ctx context.Context, subscription string, ids []string) (int, error) {
	done := 0
	for len(ids) > 0 {
		n := min(len(ids), maxAckBatch)
		batch := ids[:n]
		err := retryTransient(ctx, func(ctx context.Context) error {
			return s.admin.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: subscription, AckIds: batch})
		})
		if err != nil {
			return done, fmt.Errorf("pubsubsource: acknowledge %d message(s) on %s: %w", n, subscription, err)
		}
		done += n
		ids = ids[n:]
	}
	return done, nil
}

// modifyAckDeadline sets the ack deadline of ids to deadline from now
// (0 nacks them: Pub/Sub redelivers them at once), in batches, retrying
// transient errors.
func (s *subscriber) modifyAckDeadline(ctx context.Context, subscription string, ids []string, deadline time.Duration) (int, error) {
	done := 0
	secs := int32(deadline / time.Second)
	for len(ids) > 0 {
		n := min(len(ids), maxAckBatch)
		batch := ids[:n]
		err := retryTransient(ctx, func(ctx context.Context) error {
			return s.admin.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{
				Subscription: subscription, AckIds: batch, AckDeadlineSeconds: secs})
		})
		if err != nil {
			return done, fmt.Errorf("pubsubsource: modify ack deadline of %d message(s) on %s to %ds: %w", n, subscription, secs, err)
		}
		done += n
		ids = ids[n:]
	}
	return done, nil
}

// retryTransient calls op until it succeeds, fails with a permanent error,
// ctx ends or retryBudget is spent, backing off exponentially.
func retryTransient(ctx context.Context, op func(context.Context) error) error {
	deadline := time.Now().Add(retryBudget)
	wait := retryInitial
	for {
		err := op(ctx)
		if err == nil || !isTransient(err) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(wait*2, retryMax)
	}
}

// isTransient reports whether a Pub/Sub error is worth retrying.
func isTransient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}
