package gcpclient

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TopicName is the full name projects/P/topics/T of topic in project.
func TopicName(project, topic string) string { return "projects/" + project + "/topics/" + topic }

// SubscriptionName is the full name of subscription sub in project.
func SubscriptionName(project, sub string) string {
	return "projects/" + project + "/subscriptions/" + sub
}

// EnsureTopic creates the topic (a full name) unless it exists, and each
// subscription (full names) on it unless it exists, with ackDeadline
// (0: Pub/Sub's default of 10 s). Existing ones are left as they are.
func EnsureTopic(ctx context.Context, client *pubsub.Client, topic string, ackDeadline time.Duration, subscriptions ...string) error {
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	for _, sub := range subscriptions {
		s := &pubsubpb.Subscription{Name: sub, Topic: topic}
		if ackDeadline > 0 {
			s.AckDeadlineSeconds = int32(ackDeadline / time.Second)
		}
		if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, s); err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("creating subscription %s on %s: %w", sub, topic, err)
		}
	}
	return nil
}
