package pubsubsource

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event times outside [minEventTime, maxEventTime) are refused: RFC 3339
// cannot write them, and they would sit at the edges of Beam's timestamp
// range (the end of the global window) where windowing breaks.
var (
	minEventTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxAttributeInError bounds how many bytes of a bad attribute value an
// error quotes (escaped, a byte can take 4 characters).
const maxAttributeInError = 32

// EventTimeOf returns the event time of a message: the value of attribute
// in attrs, or publishTime when attribute is "-" (PublishTimeOnly) or
// absent from attrs. An empty attribute name means the default,
// "event_time".
//
// The attribute holds an RFC 3339 timestamp, with or without a fraction of
// a second ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00.123+01:00"), or
// the milliseconds since the Unix epoch as a decimal integer
// ("1761991200000"). Any other value, and a time outside the years
// 0001–9999, is an error; the returned time is then publishTime, so callers
// can fall back to it and still report the error. Times are returned in
// UTC.
func EventTimeOf(attrs map[string]string, attribute string, publishTime time.Time) (time.Time, error) {
	if attribute == "" {
		attribute = DefaultEventTimeAttribute
	}
	if attribute == PublishTimeOnly {
		return publishTime.UTC(), nil
	}
	v, ok := attrs[attribute]
	if !ok {
		return publishTime.UTC(), nil
	}
	t, err := parseEventTime(v)
	if err != nil {
		return publishTime.UTC(), fmt.Errorf("pubsubsource: attribute %s=%s: %w", attribute, quote(v), err)
	}
	return t, nil
}

func parseEventTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("empty; want an RFC 3339 timestamp or epoch milliseconds")
	}
	var t time.Time
	if isMillis(v) {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("epoch milliseconds out of range")
		}
		t = time.UnixMilli(ms).UTC()
	} else {
		var err error
		// RFC3339Nano parses timestamps with and without a fraction.
		t, err = time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("neither an RFC 3339 timestamp nor epoch milliseconds")
		}
		t = t.UTC()
	}
	if t.Before(minEventTime) || !t.Before(maxEventTime) {
		return time.Time{}, fmt.Errorf("%s is outside the years 0001-9999", t.Format(time.RFC3339Nano))
	}
	return t, nil
}

// isMillis reports whether v is an optionally negative decimal integer.
func isMillis(v string) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

func quote(v string) string {
	if len(v) <= maxAttributeInError {
		return strconv.Quote(v)
	}
	cut := maxAttributeInError
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return strconv.Quote(v[:cut]) + "…"
}
