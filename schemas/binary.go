package schemas

import (
	"encoding/binary"
	"errors"
	"time"
)

// AppendEvent appends a compact binary encoding of e to b: length-prefixed
// strings, varint integers and the event time as Unix nanoseconds. It is the
// wire form of GameEvent inside Beam (see register.go) and of the
// accumulators that carry events, several times smaller and faster than a
// schema row with a time.Time logical type.
func AppendEvent(b []byte, e GameEvent) []byte {
	for _, s := range [...]string{e.EventID, e.User, e.Team, e.Platform} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, e.Score)
	b = binary.AppendVarint(b, e.EventTime.UnixNano())
	return binary.AppendVarint(b, e.SchemaVersion)
}

var errCorruptEvent = errors.New("schemas: corrupt binary GameEvent")

// ReadEvent decodes an event written by AppendEvent from the front of b and
// returns the rest.
func ReadEvent(b []byte) (GameEvent, []byte, error) {
	var e GameEvent
	var fields [4]string
	for i := range fields {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return GameEvent{}, nil, errCorruptEvent
		}
		fields[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	e.EventID, e.User, e.Team, e.Platform = fields[0], fields[1], fields[2], fields[3]
	var ints [3]int64
	for i := range ints {
		v, w := binary.Varint(b)
		if w <= 0 {
			return GameEvent{}, nil, errCorruptEvent
		}
		ints[i] = v
		b = b[w:]
	}
	e.Score, e.SchemaVersion = ints[0], ints[2]
	e.EventTime = time.Unix(0, ints[1]).UTC()
	return e, b, nil
}

func encodeEvent(e GameEvent) []byte { return AppendEvent(nil, e) }

func decodeEvent(b []byte) (GameEvent, error) {
	e, rest, err := ReadEvent(b)
	if err == nil && len(rest) != 0 {
		err = errCorruptEvent
	}
	return e, err
}
