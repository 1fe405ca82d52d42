package schemas

import (
	"errors"
	"fmt"
)

// Reason classifies why an input was rejected. Reasons are stable identifiers:
// they are stored in ops.dead_letters and used in metrics and HTTP responses.
type Reason string

// The validation reasons. Keep these stable; add new ones rather than renaming.
const (
	ReasonMalformedJSON        Reason = "malformed_json"
	ReasonMalformedCSV         Reason = "malformed_csv"
	ReasonMissingField         Reason = "missing_field"
	ReasonInvalidType          Reason = "invalid_type"
	ReasonFieldTooLong         Reason = "field_too_long"
	ReasonInvalidUTF8          Reason = "invalid_utf8"
	ReasonScoreNotInteger      Reason = "score_not_integer"
	ReasonScoreOutOfRange      Reason = "score_out_of_range"
	ReasonEventTimeUnparseable Reason = "event_time_unparseable"
	ReasonEventTimeTooOld      Reason = "event_time_too_old"
	ReasonEventTimeInFuture    Reason = "event_time_in_future"
	ReasonUnknownSchemaVersion Reason = "unknown_schema_version"
)

// Reasons lists every validation reason, for metrics and documentation.
var Reasons = []Reason{
	ReasonMalformedJSON, ReasonMalformedCSV, ReasonMissingField, ReasonInvalidType,
	ReasonFieldTooLong, ReasonInvalidUTF8, ReasonScoreNotInteger, ReasonScoreOutOfRange,
	ReasonEventTimeUnparseable, ReasonEventTimeTooOld, ReasonEventTimeInFuture,
	ReasonUnknownSchemaVersion,
}

// ValidationError is the error every decoding or validation failure returns.
// Reason is the stable class, Field the offending field (empty when the whole
// input is unreadable) and Detail a human-readable explanation.
type ValidationError struct {
	Reason Reason
	Field  string
	Detail string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", e.Reason, e.Field, e.Detail)
}

func invalid(r Reason, field, format string, args ...any) *ValidationError {
	return &ValidationError{Reason: r, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason of a validation error, or "" for any other error.
func ReasonOf(err error) Reason {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}
