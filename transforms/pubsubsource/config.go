package pubsubsource

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/railyard-dev/railyard/schemas"
)

// AckMode says who acknowledges the messages the source reads.
type AckMode int

const (
	// AckOnFinalize acks each bundle's messages in the bundle's
	// finalization callback, that is once the runner has committed the
	// bundle's output. The default.
	AckOnFinalize AckMode = iota
	// AckByCaller never acks: every Raw carries its ack ID in
	// Attributes[AckIDAttribute] and the pipeline acks with Acknowledge once
	// it has made the message durable itself (the lake archiver does this
	// after the file holding the message is written).
	AckByCaller
)

// String returns "AckOnFinalize" or "AckByCaller".
func (m AckMode) String() string {
	switch m {
	case AckOnFinalize:
		return "AckOnFinalize"
	case AckByCaller:
		return "AckByCaller"
	default:
		return fmt.Sprintf("AckMode(%d)", int(m))
	}
}

// AckIDAttribute is the attribute under which the source puts a message's
// ack ID in AckByCaller mode.
const AckIDAttribute = "railyard.ack_id"

// Defaults applied to zero Config fields.
const (
	DefaultEventTimeAttribute = schemas.AttrEventTime
	DefaultMaxMessages        = 5000
	DefaultIdleAdvance        = 5 * time.Second
	DefaultAckDeadline        = 60 * time.Second
)

// PublishTimeOnly as Config.EventTimeAttribute makes the publish time the
// event time of every message.
const PublishTimeOnly = "-"

// Limits of the Pub/Sub API that Config is checked against.
const (
	maxAckDeadline = 600 * time.Second // ModifyAckDeadline's upper bound
	minAckDeadline = time.Second
	maxMaxMessages = 10000
)

// Config configures Read and Acknowledge.
type Config struct {
	// Subscription is the full subscription name,
	// "projects/P/subscriptions/S" (required).
	Subscription string
	// Endpoint is the gRPC host:port of a Pub/Sub emulator (pstest).
	// Empty: Google's endpoint, or PUBSUB_EMULATOR_HOST when that is set in
	// the worker's environment.
	Endpoint string
	// EventTimeAttribute names the message attribute holding the event time
	// (RFC 3339, with or without fraction, or epoch milliseconds as a
	// decimal string). Default "event_time"; "-" means always the publish
	// time. Messages without it, or with an unparsable value, get their
	// publish time.
	EventTimeAttribute string
	// MaxMessages is the maximum number of messages per Pull; default
	// DefaultMaxMessages (5000). Pub/Sub returns what it has, up to this;
	// fewer, larger Pulls matter most on pstest, whose Pull scans every
	// message the subscription holds (unacked and in flight): with a
	// backlog of 100k messages a plain Pull-and-ack loop drained 31k
	// messages/s at 1000 per Pull and 92k/s at 5000 in one run of
	// BenchmarkPullAckBaseline.
	MaxMessages int
	// IdleAdvance is how long the subscription must have been empty
	// (processing time) before the watermark advances to wall-clock now
	// minus a small allowance, so that windows close on a quiet
	// subscription. Default 5s.
	IdleAdvance time.Duration
	// AckDeadline is the deadline in-flight messages (pulled, not yet
	// finalized) are extended to, in AckOnFinalize mode. Default 60s; at
	// most 600s.
	AckDeadline time.Duration
	// AckMode says who acks; default AckOnFinalize.
	AckMode AckMode
	// StopAfterIdle, when > 0, stops the read (sdf.StopProcessing, the
	// watermark goes to +inf and the pipeline can finish) once the
	// subscription has been empty this long: for bounded tests, benchmarks
	// and draining a subscription. 0 runs forever.
	StopAfterIdle time.Duration
	// Pipeline labels log lines (and dead letters downstream).
	Pipeline string
}

var subscriptionRE = regexp.MustCompile(`^projects/([^/]+)/subscriptions/([^/]+)$`)

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.EventTimeAttribute == "" {
		c.EventTimeAttribute = DefaultEventTimeAttribute
	}
	if c.MaxMessages == 0 {
		c.MaxMessages = DefaultMaxMessages
	}
	if c.IdleAdvance == 0 {
		c.IdleAdvance = DefaultIdleAdvance
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = DefaultAckDeadline
	}
	return c
}

// Validate reports what is wrong with c (after defaults), the error
// TryRead returns.
func (c Config) Validate() error { return c.withDefaults().validate() }

// validate checks a Config that has its defaults applied.
func (c Config) validate() error {
	var errs []string
	if c.Subscription == "" {
		errs = append(errs, "Subscription is required")
	} else if !subscriptionRE.MatchString(c.Subscription) {
		errs = append(errs, fmt.Sprintf("Subscription %q is not of the form projects/P/subscriptions/S", c.Subscription))
	}
	if c.MaxMessages < 1 || c.MaxMessages > maxMaxMessages {
		errs = append(errs, fmt.Sprintf("MaxMessages %d is outside 1..%d", c.MaxMessages, maxMaxMessages))
	}
	if c.IdleAdvance < 0 {
		errs = append(errs, fmt.Sprintf("IdleAdvance %v is negative", c.IdleAdvance))
	}
	if c.AckDeadline < minAckDeadline || c.AckDeadline > maxAckDeadline || c.AckDeadline%time.Second != 0 {
		errs = append(errs, fmt.Sprintf("AckDeadline %v must be whole seconds within %v..%v (Pub/Sub's ModifyAckDeadline range)",
			c.AckDeadline, minAckDeadline, maxAckDeadline))
	}
	if c.AckMode != AckOnFinalize && c.AckMode != AckByCaller {
		errs = append(errs, fmt.Sprintf("unknown AckMode %d", int(c.AckMode)))
	}
	if c.StopAfterIdle < 0 {
		errs = append(errs, fmt.Sprintf("StopAfterIdle %v is negative", c.StopAfterIdle))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("pubsubsource: invalid Config: " + strings.Join(errs, "; "))
}

// project returns P of "projects/P/subscriptions/S".
func (c Config) project() string {
	m := subscriptionRE.FindStringSubmatch(c.Subscription)
	if m == nil {
		return ""
	}
	return m[1]
}

// ProjectAndID splits "projects/P/subscriptions/S" into P and S; ok is
// false for any other form.
func ProjectAndID(subscription string) (project, id string, ok bool) {
	m := subscriptionRE.FindStringSubmatch(subscription)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// MessageSource is the transforms.Raw Source of a message: the
// subscription and the message ID,
// "projects/P/subscriptions/S/messages/<id>".
func MessageSource(subscription, messageID string) string {
	return subscription + "/messages/" + messageID
}
