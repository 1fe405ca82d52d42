package schemas

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// Why this file exists: DecodeJSON runs once per event on the two hot paths of
// the platform, the ingest gateway (every event of every POST) and the batch
// layer (every lake line, via DecodeLine). The reference decoder,
// decodeJSONStd, unmarshals into json.RawMessage fields and then unmarshals
// each string again; encoding/json scans the input twice and allocates per
// field, which costs several microseconds per small event.
//
// decodeJSONFast is a single-pass scanner for the shape nearly every event
// has: one flat object of plain strings and integers. Its guarantee is that it
// either returns exactly the event decodeJSONStd would return successfully, or
// reports ok=false and DecodeJSON falls back to decodeJSONStd. It bails out on
// anything it cannot prove identical: escapes, control characters or invalid
// UTF-8 in any string (encoding/json would rewrite them), keys that match a
// field only case-insensitively (encoding/json folds names), duplicate or null
// known fields, nested values, numbers outside the strict JSON grammar or not
// plain integers where an integer is wanted, trailing data, and any
// validation failure. So every error message comes from decodeJSONStd
// unchanged. FuzzDecodeJSONFastPath (decodefast_test.go) checks this
// differentially against decodeJSONStd.

// Bits of the known fields in decodeJSONFast's seen set.
const (
	seenEventID = 1 << iota
	seenUser
	seenTeam
	seenScore
	seenEventTime
	seenPlatform
	seenSchemaVersion

	// seenRequired are the fields whose absence is an error in decodeJSONStd.
	seenRequired = seenEventID | seenUser | seenTeam | seenScore | seenEventTime
)

// knownKeys are the JSON names of wireEvent's fields. A key equal to one of
// them under bytes.EqualFold (the folding encoding/json applies) but not
// byte-for-byte sends the input to the reference decoder.
var knownKeys = [...][]byte{
	[]byte("event_id"), []byte("user"), []byte("team"), []byte("score"),
	[]byte("event_time"), []byte("platform"), []byte("schema_version"),
}

// decodeJSONFast decodes the common, well-formed, valid event shape in one
// pass. ok=false means "not certain", never "invalid": the caller must then
// use decodeJSONStd, which decides.
func decodeJSONFast(data []byte, now time.Time) (GameEvent, bool) {
	var (
		e    GameEvent
		seen int
	)
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return GameEvent{}, false
	}
	i = skipJSONSpace(data, i+1)
	for {
		if i >= len(data) || data[i] != '"' {
			// Includes "{}": missing required fields are the std path's error.
			return GameEvent{}, false
		}
		key, next, ok := scanPlainString(data, i)
		if !ok {
			return GameEvent{}, false
		}
		i = skipJSONSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return GameEvent{}, false
		}
		i = skipJSONSpace(data, i+1)
		if i >= len(data) {
			return GameEvent{}, false
		}

		var bit int
		switch string(key) {
		case "event_id":
			bit = seenEventID
			e.EventID, i, ok = fastStringValue(data, i)
		case "user":
			bit = seenUser
			e.User, i, ok = fastStringValue(data, i)
		case "team":
			bit = seenTeam
			e.Team, i, ok = fastStringValue(data, i)
		case "platform":
			bit = seenPlatform
			e.Platform, i, ok = fastStringValue(data, i)
		case "score":
			bit = seenScore
			e.Score, i, ok = fastIntValue(data, i)
		case "schema_version":
			bit = seenSchemaVersion
			e.SchemaVersion, i, ok = fastIntValue(data, i)
		case "event_time":
			bit = seenEventTime
			e.EventTime, i, ok = fastTimeValue(data, i)
		default:
			if foldsToKnownKey(key) {
				return GameEvent{}, false
			}
			i, ok = skipScalar(data, i)
		}
		if !ok || seen&bit != 0 {
			return GameEvent{}, false
		}
		seen |= bit

		i = skipJSONSpace(data, i)
		if i >= len(data) {
			return GameEvent{}, false
		}
		if data[i] == '}' {
			i++
			break
		}
		if data[i] != ',' {
			return GameEvent{}, false
		}
		i = skipJSONSpace(data, i+1)
	}
	if skipJSONSpace(data, i) != len(data) || seen&seenRequired != seenRequired {
		return GameEvent{}, false
	}
	if seen&seenSchemaVersion == 0 {
		e.SchemaVersion = CurrentSchemaVersion
	}
	if e.Validate(now) != nil {
		return GameEvent{}, false
	}
	return e, true
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanPlainString scans the JSON string starting at data[i] == '"' and returns
// its contents and the index after the closing quote. It refuses strings whose
// decoded value could differ from their bytes: escapes, control characters and
// invalid UTF-8 (which encoding/json replaces with U+FFFD).
func scanPlainString(data []byte, i int) (s []byte, next int, ok bool) {
	start := i + 1
	ascii := true
	for j := start; j < len(data); j++ {
		c := data[j]
		switch {
		case c == '"':
			s = data[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// scanNumber scans a number at data[i] following the JSON grammar exactly:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. integer reports that it had
// neither fraction nor exponent. Whatever follows the number is checked by the
// caller, which expects whitespace, ',' or '}' (so "01" and "1x" fail there).
func scanNumber(data []byte, i int) (next int, integer, ok bool) {
	j := i
	if j < len(data) && data[j] == '-' {
		j++
	}
	switch {
	case j >= len(data):
		return 0, false, false
	case data[j] == '0':
		j++
	case '1' <= data[j] && data[j] <= '9':
		j = skipDigits(data, j+1)
	default:
		return 0, false, false
	}
	integer = true
	if j < len(data) && data[j] == '.' {
		integer = false
		k := skipDigits(data, j+1)
		if k == j+1 {
			return 0, false, false
		}
		j = k
	}
	if j < len(data) && (data[j] == 'e' || data[j] == 'E') {
		integer = false
		j++
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			j++
		}
		k := skipDigits(data, j)
		if k == j {
			return 0, false, false
		}
		j = k
	}
	return j, integer, true
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// skipScalar skips the value of an unknown field. Only scalars are accepted;
// objects and arrays go to the reference decoder.
func skipScalar(data []byte, i int) (next int, ok bool) {
	switch c := data[i]; {
	case c == '"':
		_, next, ok = scanPlainString(data, i)
		return next, ok
	case c == '-' || ('0' <= c && c <= '9'):
		next, _, ok = scanNumber(data, i)
		return next, ok
	case bytes.HasPrefix(data[i:], []byte("true")):
		return i + len("true"), true
	case bytes.HasPrefix(data[i:], []byte("false")):
		return i + len("false"), true
	case bytes.HasPrefix(data[i:], []byte("null")):
		return i + len("null"), true
	}
	return 0, false
}

func foldsToKnownKey(key []byte) bool {
	for _, k := range knownKeys {
		if bytes.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// fastStringValue reads a string field. null and other types go to the
// reference decoder (it reports the error or applies the default).
func fastStringValue(data []byte, i int) (string, int, bool) {
	if data[i] != '"' {
		return "", 0, false
	}
	s, next, ok := scanPlainString(data, i)
	if !ok {
		return "", 0, false
	}
	return string(s), next, true
}

// fastIntValue reads score or schema_version the way jsonScore and
// jsonSchemaVersion do (strconv.ParseInt of the literal), but only for
// literals that are JSON integers and parse without any error.
func fastIntValue(data []byte, i int) (int64, int, bool) {
	next, integer, ok := scanNumber(data, i)
	if !ok || !integer {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(string(data[i:next]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return n, next, true
}

// fastTimeValue reads event_time exactly as jsonEventTime does.
func fastTimeValue(data []byte, i int) (time.Time, int, bool) {
	if data[i] != '"' {
		return time.Time{}, 0, false
	}
	s, next, ok := scanPlainString(data, i)
	if !ok || len(s) == 0 {
		return time.Time{}, 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return time.Time{}, 0, false
	}
	return t.UTC(), next, true
}
