package bqsink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/schemas"
)

// stagedRow is one row on its way to BigQuery, in the form insertAll sends
// it.
type stagedRow struct {
	// ID is, for ReplacePartitions, the hash of the row's table and content
	// (the write step makes it unique per copy); for Append, the caller's
	// insert ID.
	ID string `beam:"id"`
	// Partition is the row's day, "YYYY-MM-DD" (ReplacePartitions only).
	Partition string `beam:"partition"`
	// JSON is the row as the JSON object insertAll sends, exactly what the
	// BigQuery client would send for the original Go value.
	JSON []byte `beam:"json"`
}

// rowEncoder turns Go row values into insertAll JSON, caching the inferred
// schema per type.
type rowEncoder struct {
	mu      sync.Mutex
	schemas map[reflect.Type]bigquery.Schema
}

func (e *rowEncoder) schemaFor(row any) (bigquery.Schema, error) {
	t := reflect.TypeOf(row)
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.schemas[t]; ok {
		return s, nil
	}
	s, err := bigquery.InferSchema(row)
	if err != nil {
		return nil, err
	}
	if e.schemas == nil {
		e.schemas = map[reflect.Type]bigquery.Schema{}
	}
	e.schemas[t] = s
	return s, nil
}

// encode returns the row's column values (as bigquery.StructSaver gives
// them) and its insertAll JSON object.
func (e *rowEncoder) encode(row any) (map[string]bigquery.Value, []byte, error) {
	if row == nil {
		return nil, nil, fmt.Errorf("nil row")
	}
	schema, err := e.schemaFor(row)
	if err != nil {
		return nil, nil, fmt.Errorf("inferring the BigQuery schema of %T: %w", row, err)
	}
	values, _, err := (&bigquery.StructSaver{Schema: schema, Struct: row}).Save()
	if err != nil {
		return nil, nil, fmt.Errorf("converting %T: %w", row, err)
	}
	b, err := json.Marshal(values)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding %T as JSON: %w", row, err)
	}
	return values, b, nil
}

// partitionOf returns the day ("YYYY-MM-DD", UTC) of a DATE, TIMESTAMP or
// DATETIME column value, or false for NULL and other types.
func partitionOf(v bigquery.Value) (string, bool) {
	switch v := v.(type) {
	case civil.Date:
		return v.String(), v.IsValid()
	case bigquery.NullDate:
		return v.Date.String(), v.Valid && v.Date.IsValid()
	case time.Time:
		return v.UTC().Format(time.DateOnly), !v.IsZero()
	case bigquery.NullTimestamp:
		return v.Timestamp.UTC().Format(time.DateOnly), v.Valid
	case civil.DateTime:
		return v.Date.String(), v.IsValid()
	case bigquery.NullDateTime:
		return v.DateTime.Date.String(), v.Valid
	}
	return "", false
}

// contentID is the ID ReplacePartitions gives a row: 32 hex digits of the
// SHA-256 of the table ID and the row's JSON. Identical rows get the same
// content ID; the write step numbers the copies.
func contentID(table string, rowJSON []byte) string {
	h := sha256.New()
	h.Write([]byte(table))
	h.Write([]byte{0})
	h.Write(rowJSON)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// shardOf spreads IDs over n shards.
func shardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// InsertID returns a deterministic insertAll insert ID for a row identified
// by parts, for example table, key, window and pane index: the hex SHA-256
// of the parts, each length-prefixed so that ("ab","c") and ("a","bc")
// differ. BigQuery drops a row whose insert ID it saw in the last minute or
// so (best effort); goccy's emulator keeps every copy.
func InsertID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DeadLetterInsertID keys a dead letter by its insert ID for Append into
// ops.dead_letters: beam.ParDo(s, bqsink.DeadLetterInsertID, deadLetters).
// The ID covers what was rejected, where, by whom and why (pipeline, run,
// stage, reason, source, payload, attributes) but not Time or Detail, which
// may differ when a retried bundle rejects the same input again.
func DeadLetterInsertID(d schemas.DeadLetter) (string, schemas.DeadLetter) {
	return InsertID("dead_letter", d.Pipeline, d.RunID, d.Stage, d.Reason, d.Source, string(d.Payload), d.Attributes), d
}

// deadLetter builds the dead letter of a row this package could not write.
func deadLetter(c Config, reason, detail, source string, payload []byte, attrs map[string]string) schemas.DeadLetter {
	a := "{}"
	if len(attrs) > 0 {
		if b, err := json.Marshal(attrs); err == nil {
			a = string(b)
		}
	}
	return schemas.DeadLetter{
		Time:       time.Now().UTC(),
		Pipeline:   c.Pipeline,
		RunID:      c.RunID,
		Stage:      Stage,
		Reason:     reason,
		Detail:     detail,
		Source:     source,
		Payload:    payload,
		Attributes: a,
	}
}

// payloadOf is the best JSON rendering of a row that could not be
// converted: its own JSON encoding, or Go's %+v of it.
func payloadOf(row any) []byte {
	if b, err := json.Marshal(row); err == nil {
		return b
	}
	return fmt.Appendf(nil, "%+v", row)
}

// partitionSource names a partition as BigQuery's decorator does:
// "dataset.table$YYYYMMDD".
func partitionSource(table, day string) string {
	if day == "" {
		return table
	}
	return table + "$" + strings.ReplaceAll(day, "-", "")
}

// rowErrorDetail renders BigQuery's per-row errors as one line.
func rowErrorDetail(errs bigquery.MultiError) string {
	var parts []string
	for _, e := range errs {
		if be, ok := e.(*bigquery.Error); ok {
			s := be.Reason + ": " + be.Message
			if be.Location != "" {
				s += " (at " + be.Location + ")"
			}
			parts = append(parts, s)
			continue
		}
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}
