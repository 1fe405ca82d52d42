package gen

import (
	"strconv"
	"time"

	"github.com/railyard-dev/railyard/schemas"
)

// appendJSON appends e as the normalised JSON line that
// schemas.GameEvent.MarshalLine writes (same keys, order and time format;
// names never need escaping), without reflection.
func (g *Generator) appendJSON(b []byte, id string, e event) []byte {
	b = append(b, `{"event_id":"`...)
	b = append(b, id...)
	b = append(b, `","user":"`...)
	b = appendUserName(b, e.user, g.teamNames[e.team])
	b = append(b, `","team":"`...)
	b = append(b, g.teamNames[e.team]...)
	b = append(b, `","score":`...)
	b = strconv.AppendInt(b, e.score, 10)
	b = append(b, `,"event_time":"`...)
	b = time.UnixMilli(e.eventMs).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.platform != "" {
		b = append(b, `,"platform":"`...)
		b = append(b, e.platform...)
		b = append(b, '"')
	}
	b = append(b, `,"schema_version":`...)
	b = strconv.AppendInt(b, schemas.CurrentSchemaVersion, 10)
	return append(b, '}')
}

// csvReadableLayout is the readable_time of Beam's mobile-gaming CSV
// (yyyy-MM-dd HH:mm:ss.SSS).
const csvReadableLayout = "2006-01-02 15:04:05.000"

// appendCSV appends e as Beam's mobile-gaming CSV line
// "user,team,score,timestamp_ms,readable_time". readable_time has six more
// digits after the milliseconds, a bijection of seq mod 10⁶, so that
// distinct events give distinct lines and therefore distinct
// schemas.CSVEventID values.
func (g *Generator) appendCSV(b []byte, seq int64, e event) []byte {
	b = appendUserName(b, e.user, g.teamNames[e.team])
	b = append(b, ',')
	b = append(b, g.teamNames[e.team]...)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.score, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.eventMs, 10)
	b = append(b, ',')
	b = time.UnixMilli(e.eventMs).UTC().AppendFormat(b, csvReadableLayout)
	// 738197 is coprime with 10⁶, so seq ↦ digits is a bijection mod 10⁶.
	sub := (uint64(seq)%1_000_000*738_197 + g.csvSalt) % 1_000_000
	return appendPadded(b, sub, 6)
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var d [20]byte
	s := strconv.AppendUint(d[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
