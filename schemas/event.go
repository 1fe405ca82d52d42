package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// GameEvent is one scoring event of a mobile game: the lake and wire format,
// one JSON object per line.
type GameEvent struct {
	EventID       string    `json:"event_id" beam:"event_id" bigquery:"event_id" desc:"Unique id of the event; copies with the same id are duplicates."`
	User          string    `json:"user" beam:"user" bigquery:"user" desc:"Player who scored."`
	Team          string    `json:"team" beam:"team" bigquery:"team" desc:"Team the player belonged to when scoring."`
	Score         int64     `json:"score" beam:"score" bigquery:"score" desc:"Points scored, 0..1000000."`
	EventTime     time.Time `json:"event_time" beam:"event_time" bigquery:"event_time" desc:"When the event happened on the device (event time, UTC)."`
	Platform      string    `json:"platform,omitempty" beam:"platform" bigquery:"platform" bqmode:"NULLABLE" desc:"Client platform, if reported."`
	SchemaVersion int64     `json:"schema_version" beam:"schema_version" bigquery:"schema_version" bqmode:"NULLABLE" desc:"Wire schema version of the event; 1 when absent."`
}

// Validation limits. They are part of the contract with game clients.
const (
	MaxStringBytes       = 128
	MinScore             = 0
	MaxScore             = 1_000_000
	CurrentSchemaVersion = 1
	// MaxClockSkew is how far in the future (relative to processing time) an
	// event time may be before the event is rejected.
	MaxClockSkew = time.Hour
)

// EarliestEventTime is the oldest event time accepted.
var EarliestEventTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// SupportedSchemaVersions are the schema_version values this build decodes.
var SupportedSchemaVersions = map[int64]bool{1: true}

// wireEvent defers every field's interpretation so each kind of failure can be
// reported with its own reason instead of one opaque unmarshal error.
type wireEvent struct {
	EventID       json.RawMessage `json:"event_id"`
	User          json.RawMessage `json:"user"`
	Team          json.RawMessage `json:"team"`
	Score         json.RawMessage `json:"score"`
	EventTime     json.RawMessage `json:"event_time"`
	Platform      json.RawMessage `json:"platform"`
	SchemaVersion json.RawMessage `json:"schema_version"`
}

// DecodeLine decodes and validates one input line: a JSON object, or Beam's
// mobile-gaming CSV line `user,team,score,timestamp_ms,readable_time`. now is
// the time of processing, used to reject events from the future. Any failure
// is a *ValidationError.
func DecodeLine(line []byte, now time.Time) (GameEvent, error) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return DecodeJSON(trimmed, now)
	}
	return DecodeCSV(trimmed, now)
}

// DecodeJSON decodes and validates one JSON-encoded GameEvent. Unknown fields
// are allowed so that newer clients can add fields without being rejected.
func DecodeJSON(data []byte, now time.Time) (GameEvent, error) {
	if e, ok := decodeJSONFast(data, now); ok {
		return e, nil
	}
	return decodeJSONStd(data, now)
}

// decodeJSONStd is the reference decoder built on encoding/json. It defines
// DecodeJSON's behaviour: every error and every unusual input is decided here;
// decodeJSONFast (decodefast.go) only short-cuts inputs whose result it can
// prove equal to this function's successful result.
func decodeJSONStd(data []byte, now time.Time) (GameEvent, error) {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return GameEvent{}, invalid(ReasonMalformedJSON, "", "%v", err)
	}
	var (
		e   GameEvent
		err error
	)
	if e.EventID, err = requiredString("event_id", w.EventID); err != nil {
		return GameEvent{}, err
	}
	if e.User, err = requiredString("user", w.User); err != nil {
		return GameEvent{}, err
	}
	if e.Team, err = requiredString("team", w.Team); err != nil {
		return GameEvent{}, err
	}
	if e.Score, err = jsonScore(w.Score); err != nil {
		return GameEvent{}, err
	}
	if e.EventTime, err = jsonEventTime(w.EventTime); err != nil {
		return GameEvent{}, err
	}
	if e.Platform, err = optionalString("platform", w.Platform); err != nil {
		return GameEvent{}, err
	}
	if e.SchemaVersion, err = jsonSchemaVersion(w.SchemaVersion); err != nil {
		return GameEvent{}, err
	}
	return e, e.Validate(now)
}

// Validate checks the rules that do not depend on the encoding. Decoders call
// it; code that builds events by hand (generators, tests) can call it too.
func (e GameEvent) Validate(now time.Time) error {
	for _, f := range []struct{ name, value string }{
		{"event_id", e.EventID}, {"user", e.User}, {"team", e.Team},
	} {
		if f.value == "" {
			return invalid(ReasonMissingField, f.name, "must be a non-empty string")
		}
	}
	for _, f := range []struct{ name, value string }{
		{"event_id", e.EventID}, {"user", e.User}, {"team", e.Team}, {"platform", e.Platform},
	} {
		if len(f.value) > MaxStringBytes {
			return invalid(ReasonFieldTooLong, f.name, "is %d bytes, longer than %d", len(f.value), MaxStringBytes)
		}
		// JSON decoding already replaced invalid UTF-8; CSV input did not, and
		// BigQuery rejects STRING values that are not UTF-8.
		if !utf8.ValidString(f.value) {
			return invalid(ReasonInvalidUTF8, f.name, "is not valid UTF-8")
		}
	}
	if e.Score < MinScore || e.Score > MaxScore {
		return invalid(ReasonScoreOutOfRange, "score", "%d is outside %d..%d", e.Score, MinScore, MaxScore)
	}
	if e.EventTime.IsZero() {
		return invalid(ReasonMissingField, "event_time", "is required")
	}
	if e.EventTime.Before(EarliestEventTime) {
		return invalid(ReasonEventTimeTooOld, "event_time", "%s is before %s", e.EventTime.Format(time.RFC3339), EarliestEventTime.Format(time.RFC3339))
	}
	if limit := now.Add(MaxClockSkew); e.EventTime.After(limit) {
		return invalid(ReasonEventTimeInFuture, "event_time", "%s is more than %s after processing time %s", e.EventTime.Format(time.RFC3339), MaxClockSkew, now.UTC().Format(time.RFC3339))
	}
	if !SupportedSchemaVersions[e.SchemaVersion] {
		return invalid(ReasonUnknownSchemaVersion, "schema_version", "%d is not supported", e.SchemaVersion)
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func requiredString(field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", invalid(ReasonMissingField, field, "is required")
	}
	return optionalString(field, raw)
}

func optionalString(field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", invalid(ReasonInvalidType, field, "must be a string, got %s", truncate(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalid(ReasonInvalidType, field, "%v", err)
	}
	return s, nil
}

func jsonScore(raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return 0, invalid(ReasonMissingField, "score", "is required")
	}
	if raw[0] == '"' || raw[0] == '{' || raw[0] == '[' || raw[0] == 't' || raw[0] == 'f' {
		return 0, invalid(ReasonScoreNotInteger, "score", "must be a JSON integer, got %s", truncate(raw))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, invalid(ReasonScoreOutOfRange, "score", "%s is outside %d..%d", truncate(raw), MinScore, MaxScore)
		}
		return 0, invalid(ReasonScoreNotInteger, "score", "must be a JSON integer, got %s", truncate(raw))
	}
	return n, nil
}

func jsonEventTime(raw json.RawMessage) (time.Time, error) {
	if isNull(raw) {
		return time.Time{}, invalid(ReasonMissingField, "event_time", "is required")
	}
	if raw[0] != '"' {
		return time.Time{}, invalid(ReasonEventTimeUnparseable, "event_time", "must be an RFC 3339 string, got %s", truncate(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, invalid(ReasonEventTimeUnparseable, "event_time", "%v", err)
	}
	if s == "" {
		return time.Time{}, invalid(ReasonMissingField, "event_time", "is empty")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid(ReasonEventTimeUnparseable, "event_time", "%q is not an RFC 3339 timestamp", truncateString(s))
	}
	return t.UTC(), nil
}

func jsonSchemaVersion(raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return CurrentSchemaVersion, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, invalid(ReasonUnknownSchemaVersion, "schema_version", "%s is not a known version", truncate(raw))
	}
	return n, nil
}

// DecodeCSV decodes and validates Beam's mobile-gaming CSV line
// `user,team,score,timestamp_ms[,readable_time]`. The event id is a stable
// hash of the line, so re-reading the same file yields the same ids.
func DecodeCSV(line []byte, now time.Time) (GameEvent, error) {
	line = bytes.TrimRight(line, "\r\n")
	fields := bytes.Split(line, []byte{','})
	if len(fields) < 4 || len(fields) > 5 {
		return GameEvent{}, invalid(ReasonMalformedCSV, "", "want 4 or 5 comma-separated fields (user,team,score,timestamp_ms[,readable_time]), got %d", len(fields))
	}
	e := GameEvent{
		EventID:       CSVEventID(line),
		User:          string(bytes.TrimSpace(fields[0])),
		Team:          string(bytes.TrimSpace(fields[1])),
		SchemaVersion: CurrentSchemaVersion,
	}
	score, err := strconv.ParseInt(string(bytes.TrimSpace(fields[2])), 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return GameEvent{}, invalid(ReasonScoreOutOfRange, "score", "%q is outside %d..%d", truncate(fields[2]), MinScore, MaxScore)
		}
		return GameEvent{}, invalid(ReasonScoreNotInteger, "score", "%q is not an integer", truncate(fields[2]))
	}
	e.Score = score
	ms, err := strconv.ParseInt(string(bytes.TrimSpace(fields[3])), 10, 64)
	if err != nil {
		return GameEvent{}, invalid(ReasonEventTimeUnparseable, "event_time", "timestamp_ms %q is not an integer", truncate(fields[3]))
	}
	e.EventTime = time.UnixMilli(ms).UTC()
	return e, e.Validate(now)
}

// CSVEventID is the event id given to a CSV line: the first 16 bytes of the
// SHA-256 of the line (without its line ending), hex-encoded.
func CSVEventID(line []byte) string {
	sum := sha256.Sum256(bytes.TrimRight(line, "\r\n"))
	return "csv-" + hex.EncodeToString(sum[:16])
}

// MarshalLine returns the event as one normalised JSON line (no trailing
// newline), the form the lake and Pub/Sub carry.
func (e GameEvent) MarshalLine() []byte {
	e.EventTime = e.EventTime.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		// Only unsupported types make json.Marshal fail; GameEvent has none.
		panic("schemas: marshal GameEvent: " + err.Error())
	}
	return b
}

func truncate(b []byte) string { return truncateString(string(b)) }

func truncateString(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
