package bqsink

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/schemas"
)

// Append streams rows into cfg.Table with insertAll, sharded over
// cfg.Shards keys and batched, each row under the insert ID the caller
// chose. keyed is a PCollection of KV<string, T>: (insert ID, row), where T
// is a registered row struct with bigquery tags. Derive the ID from what
// identifies the row (table, key, window, pane: see InsertID and
// DeadLetterInsertID), never from processing time, so that a retried
// bundle sends the same IDs. BigQuery drops rows whose insert ID it saw in
// the last minute or so (best effort); goccy's emulator does not.
//
// Written gets, per shard and pane, the rows appended (Partition empty).
// Rows go through a GroupByKey: give an unbounded input a window or
// trigger that fires. It panics on an invalid cfg; TryAppend returns the
// error instead.
func Append(s beam.Scope, cfg AppendConfig, keyed beam.PCollection) Result {
	r, err := TryAppend(s, cfg, keyed)
	if err != nil {
		panic(err)
	}
	return r
}

// TryAppend is Append returning an invalid configuration as an error.
func TryAppend(s beam.Scope, cfg AppendConfig, keyed beam.PCollection) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	c := cfg.Config.withDefaults()
	s = s.Scope("bqsink.Append(" + cfg.Table + ")")
	sharded, dead1 := beam.ParDo2(s, &encodeAppendFn{Config: c}, keyed)
	written, dead2 := beam.ParDo2(s, &appendShardFn{Config: c}, beam.GroupByKey(s, sharded))
	return Result{Written: written, DeadLetters: beam.Flatten(s, dead1, dead2)}, nil
}

// encodeAppendFn converts rows to insertAll JSON and keys them by the shard
// of their insert ID.
type encodeAppendFn struct {
	Config Config `json:"config"`
	enc    rowEncoder
}

func (f *encodeAppendFn) ProcessElement(ctx context.Context, id string, row beam.T, emit func(int, stagedRow), dead func(schemas.DeadLetter)) {
	c := f.Config
	attrs := map[string]string{"insert_id": id}
	_, js, err := f.enc.encode(row)
	switch {
	case err != nil:
		rowErrors.Inc(ctx, 1)
		dead(deadLetter(c, ReasonUnconvertible, err.Error(), c.Table, payloadOf(row), attrs))
	case id == "":
		rowErrors.Inc(ctx, 1)
		dead(deadLetter(c, ReasonUnconvertible, "empty insert ID", c.Table, js, attrs))
	case len(id) > 128:
		rowErrors.Inc(ctx, 1)
		dead(deadLetter(c, ReasonUnconvertible, fmt.Sprintf("insert ID is %d bytes; BigQuery allows 128", len(id)), c.Table, js, attrs))
	case len(js) > c.MaxRowBytes:
		rowErrors.Inc(ctx, 1)
		dead(deadLetter(c, ReasonRowTooLarge, fmt.Sprintf("row JSON is %d bytes; the limit is %d", len(js), c.MaxRowBytes), c.Table, js, attrs))
	default:
		emit(shardOf(id, c.Shards), stagedRow{ID: id, JSON: js})
	}
}

// appendShardFn inserts one shard's rows in batches.
type appendShardFn struct {
	Config Config `json:"config"`
	w      *writer
}

func (f *appendShardFn) Setup(ctx context.Context) error {
	var err error
	f.w, err = openWriter(ctx, f.Config)
	return err
}

func (f *appendShardFn) Teardown() error { return f.w.close() }

func (f *appendShardFn) ProcessElement(ctx context.Context, shard int, rows func(*stagedRow) bool, emit func(PartitionCount), dead func(schemas.DeadLetter)) error {
	c := f.w.cfg
	ds, table, err := splitTable(c.Table)
	if err != nil {
		return err
	}
	var written int64
	b := &batcher{maxRows: c.BatchRows, maxBytes: c.BatchBytes}
	var cur []stagedRow
	flush := func() error {
		batch := b.take()
		inBatch := cur
		cur = nil
		failed, err := f.w.insertBatch(ctx, ds, table, batch)
		if err != nil {
			return fmt.Errorf("bqsink: shard %d: %w", shard, err)
		}
		for _, fl := range failed {
			r := inBatch[fl.ref]
			rowErrors.Inc(ctx, 1)
			dead(deadLetter(c, ReasonRowError, fl.detail, c.Table, r.JSON, map[string]string{"insert_id": r.ID}))
		}
		n := int64(len(batch) - len(failed))
		written += n
		rowsWritten.Inc(ctx, n)
		return nil
	}
	var r stagedRow
	for rows(&r) {
		p, err := newPendingRow(len(cur), r.ID, r.JSON, nil)
		if err != nil {
			rowErrors.Inc(ctx, 1)
			dead(deadLetter(c, ReasonUnconvertible, err.Error(), c.Table, r.JSON, map[string]string{"insert_id": r.ID}))
			r = stagedRow{}
			continue
		}
		if b.full(p) {
			if err := flush(); err != nil {
				return err
			}
			p.ref = 0
		}
		b.add(p)
		cur = append(cur, r)
		r = stagedRow{}
	}
	if err := flush(); err != nil {
		return err
	}
	emit(PartitionCount{Table: c.Table, Rows: written})
	return nil
}

func init() {
	register.DoFn5x0[context.Context, string, beam.T, func(int, stagedRow), func(schemas.DeadLetter)](&encodeAppendFn{})
	register.DoFn5x1[context.Context, int, func(*stagedRow) bool, func(PartitionCount), func(schemas.DeadLetter), error](&appendShardFn{})
	register.Function1x2[schemas.DeadLetter, string, schemas.DeadLetter](DeadLetterInsertID)
}
