package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/schemas"
)

// Format is how a request body or an MQTT payload encodes its events.
type Format uint8

const (
	// FormatJSON is one JSON object, or a JSON array of objects.
	FormatJSON Format = iota + 1
	// FormatNDJSON is one JSON object per line.
	FormatNDJSON
	// FormatCSV is one line of Beam's mobile-gaming CSV per event
	// (user,team,score,timestamp_ms[,readable_time]); events are published
	// as normalised JSON.
	FormatCSV
)

// The media types POST /v1/events accepts (parameters such as charset are
// ignored).
const (
	MediaTypeJSON   = "application/json"
	MediaTypeNDJSON = "application/x-ndjson"
	MediaTypeCSV    = "text/csv"
)

func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatNDJSON:
		return "ndjson"
	case FormatCSV:
		return "csv"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// FormatOf maps a Content-Type header to a Format; any other media type,
// or none, is a 415.
func FormatOf(contentType string) (Format, *RequestError) {
	if strings.TrimSpace(contentType) == "" {
		return 0, &RequestError{Status: http.StatusUnsupportedMediaType, Reason: ReasonUnsupportedMediaType,
			Message: "Content-Type is missing; send " + MediaTypeJSON + ", " + MediaTypeNDJSON + " or " + MediaTypeCSV}
	}
	if f := formatOfMediaType(contentType); f != 0 {
		return f, nil
	}
	return 0, &RequestError{Status: http.StatusUnsupportedMediaType, Reason: ReasonUnsupportedMediaType,
		Message: fmt.Sprintf("Content-Type %q is not %s, %s or %s", truncate(contentType), MediaTypeJSON, MediaTypeNDJSON, MediaTypeCSV)}
}

// formatOfMediaType maps a media type to a Format, 0 if none. Only the
// type/subtype matters: malformed parameters do not make a body unreadable.
func formatOfMediaType(contentType string) Format {
	mt, _, _ := strings.Cut(contentType, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case MediaTypeJSON:
		return FormatJSON
	case MediaTypeNDJSON:
		return FormatNDJSON
	case MediaTypeCSV:
		return FormatCSV
	}
	return 0
}

// SniffFormat guesses the format of an MQTT payload, which carries no
// content type in MQTT 3.1.1: a JSON array or a single (possibly
// pretty-printed) JSON object is FormatJSON, other text starting with "{"
// is NDJSON, anything else CSV.
func SniffFormat(payload []byte) Format {
	t := bytes.TrimLeft(payload, " \t\r\n")
	switch {
	case len(t) == 0, t[0] == '[':
		return FormatJSON
	case t[0] == '{':
		if json.Valid(t) || !bytes.Contains(t, []byte{'\n'}) {
			return FormatJSON
		}
		return FormatNDJSON
	}
	return FormatCSV
}

// Item is one event of a request, decoded and validated.
type Item struct {
	// Index is the event's 0-based position in the request: the array
	// element, or the line among the non-blank lines.
	Index int
	// Raw is the event as received (without surrounding white space).
	Raw []byte
	// Payload is what is published for a valid event: Raw for JSON input,
	// the normalised JSON line for CSV input.
	Payload []byte
	// Event is the decoded event; valid only when Err is nil.
	Event schemas.GameEvent
	// Err is why the event was rejected; nil for a valid event.
	Err *schemas.ValidationError
}

// ParseBody splits a body into its events and decodes and validates each
// with the shared schemas code; now is the time of processing. A body that
// holds no event at all is a *RequestError (empty_body). A JSON body that
// is not well-formed as a whole (an unterminated array, say) is one
// rejected item holding the whole body, so that it is dead-lettered rather
// than lost; a malformed element inside a well-formed array is rejected on
// its own.
func ParseBody(format Format, body []byte, now time.Time) ([]Item, *RequestError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errEmptyBody()
	}
	var items []Item
	switch format {
	case FormatJSON:
		if trimmed[0] != '[' {
			return []Item{decodeItem(0, trimmed, false, now)}, nil
		}
		elems, err := splitJSONArray(trimmed)
		if err != nil {
			return []Item{{Index: 0, Raw: trimmed, Err: &schemas.ValidationError{
				Reason: schemas.ReasonMalformedJSON, Detail: "request body is not a well-formed JSON array: " + err.Error()}}}, nil
		}
		items = make([]Item, len(elems))
		for i, e := range elems {
			items[i] = decodeItem(i, e, false, now)
		}
	case FormatNDJSON, FormatCSV:
		items = make([]Item, 0, bytes.Count(trimmed, []byte{'\n'})+1)
		for rest := trimmed; len(rest) > 0; {
			var line []byte
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				line, rest = rest[:i], rest[i+1:]
			} else {
				line, rest = rest, nil
			}
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			items = append(items, decodeItem(len(items), line, format == FormatCSV, now))
		}
	default:
		return nil, &RequestError{Status: http.StatusUnsupportedMediaType, Reason: ReasonUnsupportedMediaType, Message: "unknown format " + format.String()}
	}
	if len(items) == 0 {
		return nil, errEmptyBody()
	}
	return items, nil
}

func errEmptyBody() *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Reason: ReasonEmptyBody, Message: "the body holds no events"}
}

func decodeItem(index int, raw []byte, csv bool, now time.Time) Item {
	it := Item{Index: index, Raw: raw}
	var (
		e   schemas.GameEvent
		err error
	)
	if csv {
		e, err = schemas.DecodeCSV(raw, now)
	} else {
		e, err = schemas.DecodeJSON(raw, now)
	}
	if err != nil {
		var ve *schemas.ValidationError
		if !errors.As(err, &ve) {
			// The decoders promise *ValidationError; keep the event anyway.
			ve = &schemas.ValidationError{Reason: schemas.ReasonMalformedJSON, Detail: err.Error()}
		}
		it.Err = ve
		return it
	}
	it.Event = e
	if csv {
		it.Payload = e.MarshalLine()
	} else {
		it.Payload = raw
	}
	return it
}

// splitJSONArray returns the raw elements of the JSON array b (which starts
// with '[' and has no surrounding white space) without decoding them: it
// tracks strings and nesting only, so that each element can be validated,
// and rejected, on its own.
func splitJSONArray(b []byte) ([][]byte, error) {
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		if j := skipSpace(b, i+1); j != len(b) {
			return nil, fmt.Errorf("data after the closing ']' at byte %d", j)
		}
		return nil, nil
	}
	var elems [][]byte
	for {
		start := i
		depth := 0
	scan:
		for {
			if i >= len(b) {
				return nil, errors.New("the array is not closed with ']'")
			}
			switch b[i] {
			case '"':
				end, ok := stringEnd(b, i+1)
				if !ok {
					return nil, fmt.Errorf("unterminated string starting at byte %d", i)
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}':
				depth--
				if depth < 0 {
					return nil, fmt.Errorf("unbalanced '}' at byte %d", i)
				}
			case ']':
				if depth == 0 {
					break scan
				}
				depth--
			case ',':
				if depth == 0 {
					break scan
				}
			}
			i++
		}
		elem := bytes.TrimSpace(b[start:i])
		if len(elem) == 0 {
			return nil, fmt.Errorf("empty array element at byte %d", start)
		}
		elems = append(elems, elem)
		if b[i] == ']' {
			if j := skipSpace(b, i+1); j != len(b) {
				return nil, fmt.Errorf("data after the closing ']' at byte %d", j)
			}
			return elems, nil
		}
		i++ // the comma
	}
}

// stringEnd returns the index just after the closing quote of the JSON
// string whose contents start at i.
func stringEnd(b []byte, i int) (int, bool) {
	for {
		j := bytes.IndexAny(b[i:], `"\`)
		if j < 0 {
			return 0, false
		}
		i += j
		if b[i] == '"' {
			return i + 1, true
		}
		i += 2 // a backslash escapes the next byte
		if i > len(b) {
			return 0, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// ReadBody reads a request body into dst, undoing a gzip Content-Encoding.
// limit bounds the bytes after decompression (the caller bounds the bytes on
// the wire): more is a 413.
func ReadBody(r io.Reader, contentEncoding string, limit int64, dst *bytes.Buffer) *RequestError {
	gz := false
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
	case "gzip", "x-gzip":
		gz = true
	default:
		return &RequestError{Status: http.StatusUnsupportedMediaType, Reason: ReasonUnsupportedContentEncoding,
			Message: fmt.Sprintf("Content-Encoding %q is not supported; send gzip or none", truncate(contentEncoding))}
	}
	src := r
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errEmptyBody()
			}
			return readError(err, limit, true)
		}
		defer zr.Close()
		src = zr
	}
	n, err := dst.ReadFrom(io.LimitReader(src, limit+1))
	if err != nil {
		return readError(err, limit, gz)
	}
	if n > limit {
		return errTooLarge(limit)
	}
	return nil
}

func readError(err error, limit int64, gz bool) *RequestError {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errTooLarge(limit)
	}
	if gz {
		return &RequestError{Status: http.StatusBadRequest, Reason: ReasonMalformedGzip,
			Message: "the body is not valid gzip: " + err.Error()}
	}
	return &RequestError{Status: http.StatusBadRequest, Reason: ReasonBodyUnreadable,
		Message: "reading the body failed: " + err.Error()}
}

func errTooLarge(limit int64) *RequestError {
	return &RequestError{Status: http.StatusRequestEntityTooLarge, Reason: ReasonBodyTooLarge,
		Message: fmt.Sprintf("the body is larger than %d bytes (after decompression); split it into smaller requests", limit)}
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
