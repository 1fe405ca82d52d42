package ingest

import (
	"fmt"
	"time"
)

// Reason codes of answers that concern a whole request (or MQTT message)
// rather than one event; per-event rejections use the schemas.Reason
// values. They are stable: clients, dashboards and alerts key on them.
const (
	ReasonUnsupportedMediaType       = "unsupported_media_type"       // 415: Content-Type missing or not accepted
	ReasonUnsupportedContentEncoding = "unsupported_content_encoding" // 415: Content-Encoding other than gzip
	ReasonBodyTooLarge               = "body_too_large"               // 413: over --max_body_bytes (after decompression)
	ReasonMalformedGzip              = "malformed_gzip"               // 400: Content-Encoding gzip, body is not gzip
	ReasonBodyUnreadable             = "body_unreadable"              // 400: reading the body failed
	ReasonEmptyBody                  = "empty_body"                   // 400: no events in the body
	ReasonNoValidEvents              = "no_valid_events"              // 400: every event rejected, for more than one reason
	ReasonMissingToken               = "missing_token"                // 401: no Authorization header
	ReasonMalformedAuthorization     = "malformed_authorization"      // 401: Authorization is not "Bearer <token>"
	ReasonInvalidToken               = "invalid_token"                // 403: the token is not one of the configured ones
	ReasonOverloaded                 = "overloaded"                   // 429: outstanding publishes at their limit
	ReasonPublishFailed              = "publish_failed"               // 503: Pub/Sub refused or failed a publish
	ReasonPublishTimeout             = "publish_timeout"              // 503: Pub/Sub did not confirm within --publish_timeout
	ReasonShuttingDown               = "shutting_down"                // 503: the gateway is draining
	ReasonMethodNotAllowed           = "method_not_allowed"           // 405
	ReasonNotFound                   = "not_found"                    // 404
	ReasonTopicNotFound              = "topic_not_found"              // /readyz: a topic does not exist
	ReasonPubSubUnreachable          = "pubsub_unreachable"           // /readyz: Pub/Sub did not answer in time
	ReasonInvalidTopic               = "invalid_topic"                // MQTT: topic is not railyard/events/<game>
)

// RequestError is a refusal of a whole request: the HTTP status, a stable
// reason code and a message for humans.
type RequestError struct {
	Status  int
	Reason  string
	Message string
	// RetryAfter, when positive, is sent as the Retry-After header: the
	// refusal is temporary.
	RetryAfter time.Duration
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Reason, e.Message)
}
