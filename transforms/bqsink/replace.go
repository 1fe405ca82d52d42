package bqsink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/schemas"
)

// Extra columns of a staging table.
const (
	// ColRowID holds the row's ID: the hash of its content and the number
	// of its copy among identical rows of the run. The commit keeps one
	// staging row per ID.
	ColRowID = "_railyard_row_id"
	// ColAttempt holds the token of the shard-writer attempt that wrote
	// the row. The commit reads only rows of attempts that succeeded.
	ColAttempt = "_railyard_attempt"
)

// PartitionCount is how many rows a write left in one partition of a table:
// for ReplacePartitions, one element per owned partition (0 for a partition
// emptied), counted in the table after the commit; for Append, the rows one
// shard appended (Partition empty).
type PartitionCount struct {
	// Table is the "dataset.table" ID written.
	Table string `json:"table" beam:"table"`
	// Partition is the day, "YYYY-MM-DD"; empty for Append.
	Partition string `json:"partition" beam:"partition"`
	// Rows is the number of rows written.
	Rows int64 `json:"rows" beam:"rows"`
}

// Result is what a write returns.
type Result struct {
	// Written is a PCollection of PartitionCount.
	Written beam.PCollection
	// DeadLetters is a PCollection of schemas.DeadLetter: every row the
	// sink could not write, with Stage "bigquery_write".
	DeadLetters beam.PCollection
}

// shardCount is what one successful shard-writer attempt staged for one
// partition.
type shardCount struct {
	Partition string `beam:"partition"`
	Attempt   string `beam:"attempt"`
	Rows      int64  `beam:"rows"`
}

// replaceSpec is ReplaceConfig resolved at construction time: what the
// DoFns of one ReplacePartitions carry.
type replaceSpec struct {
	Config          Config        `json:"config"`
	PartitionColumn string        `json:"partition_column"`
	Partitions      []string      `json:"partitions"`
	OnEmulator      bool          `json:"on_emulator"`
	StagingDataset  string        `json:"staging_dataset"`
	StagingTable    string        `json:"staging_table"`
	StagingTTL      time.Duration `json:"staging_ttl"`
}

func (s replaceSpec) stagingID() string { return s.StagingDataset + "." + s.StagingTable }

// ReplacePartitions writes rows (a bounded PCollection of a registered row
// struct with bigquery tags, such as schemas.TeamScore; its windows do not
// matter) so that each partition
// cfg owns ends up holding exactly the run's rows for it, replaced
// atomically: rerunning with the same rows gives the same contents, an
// owned partition without rows ends up empty, and other partitions are not
// touched. It panics on an invalid cfg; TryReplacePartitions returns the
// error instead.
//
// The rows are spread over cfg.Shards keys and written in batches, with
// retries, into a staging table; after every shard finished, one
// multi-statement transaction deletes the owned partitions and inserts the
// staged rows, de-duplicated by row ID. See the package documentation.
func ReplacePartitions(s beam.Scope, cfg ReplaceConfig, rows beam.PCollection) Result {
	r, err := TryReplacePartitions(s, cfg, rows)
	if err != nil {
		panic(err)
	}
	return r
}

// TryReplacePartitions is ReplacePartitions returning an invalid
// configuration as an error.
func TryReplacePartitions(s beam.Scope, cfg ReplaceConfig, rows beam.PCollection) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	ds, table, _ := splitTable(cfg.Table)
	spec := replaceSpec{
		Config:          cfg.Config.withDefaults(),
		PartitionColumn: cfg.PartitionColumn,
		Partitions:      dateStrings(cfg.Partitions),
		OnEmulator:      cfg.OnEmulator,
		StagingDataset:  cfg.StagingDataset,
		StagingTable:    stagingTableName(table),
		StagingTTL:      cfg.StagingTTL,
	}
	if spec.StagingDataset == "" {
		spec.StagingDataset = ds
	}
	if spec.StagingTTL <= 0 {
		spec.StagingTTL = DefaultStagingTTL
	}
	s = s.Scope("bqsink.ReplacePartitions(" + cfg.Table + ")")
	// The commit's side input of shard reports must be visible from the
	// global window of its Impulse-driven main input, whatever windows the
	// rows came in.
	rows = beam.WindowInto(s, window.NewGlobalWindows(), rows)
	staging := beam.ParDo(s, &prepareFn{Spec: spec}, beam.Impulse(s))
	keyed, dead1 := beam.ParDo2(s, &encodeReplaceFn{Spec: spec}, rows)
	counts, dead2 := beam.ParDo2(s, &stageShardFn{Spec: spec}, beam.GroupByKey(s, keyed), beam.SideInput{Input: staging})
	written, done := beam.ParDo2(s, &commitFn{Spec: spec}, staging, beam.SideInput{Input: counts})
	beam.ParDo0(s, &cleanupFn{Spec: spec}, done)
	return Result{Written: written, DeadLetters: beam.Flatten(s, dead1, dead2)}, nil
}

func dateStrings(ds []civil.Date) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// stagingTableName is unique per pipeline construction, so that a new run
// never reads rows a failed earlier run left behind.
func stagingTableName(table string) string {
	return fmt.Sprintf("railyard_staging_%s_%s_%s", table, time.Now().UTC().Format("20060102T150405Z"), nonce())
}

// nonce returns 16 random hex digits.
func nonce() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func isHTTPCode(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

// partitionExpr checks that the target is day-partitioned on col (or not
// partitioned) and returns the SQL expression of a row's day.
func partitionExpr(md *bigquery.TableMetadata, col string) (string, error) {
	var field *bigquery.FieldSchema
	for _, f := range md.Schema {
		if f.Name == col {
			field = f
		}
	}
	if field == nil {
		return "", fmt.Errorf("the table has no column %q", col)
	}
	if tp := md.TimePartitioning; tp != nil {
		if tp.Field == "" {
			return "", fmt.Errorf("the table is partitioned by ingestion time, not on %q", col)
		}
		if tp.Field != col {
			return "", fmt.Errorf("the table is partitioned on %q, not on %q", tp.Field, col)
		}
		if tp.Type != "" && tp.Type != bigquery.DayPartitioningType {
			return "", fmt.Errorf("the table is partitioned by %s; only DAY partitions can be replaced", tp.Type)
		}
	}
	if field.Repeated {
		return "", fmt.Errorf("partition column %q is REPEATED", col)
	}
	switch field.Type {
	case bigquery.DateFieldType:
		return quoteIdent(col), nil
	case bigquery.TimestampFieldType, bigquery.DateTimeFieldType:
		return "DATE(" + quoteIdent(col) + ")", nil
	}
	return "", fmt.Errorf("partition column %q has type %s; want DATE, TIMESTAMP or DATETIME", col, field.Type)
}

func quoteIdent(s string) string { return "`" + s + "`" }

// prepareFn checks the target table and creates the run's staging table:
// the target's columns plus ColRowID and ColAttempt, unpartitioned,
// expiring after StagingTTL. It emits the staging table's ID.
type prepareFn struct {
	Spec replaceSpec `json:"spec"`
	w    *writer
}

func (f *prepareFn) Setup(ctx context.Context) error {
	var err error
	f.w, err = openWriter(ctx, f.Spec.Config)
	return err
}

func (f *prepareFn) Teardown() error { return f.w.close() }

func (f *prepareFn) ProcessElement(ctx context.Context, _ []byte, emit func(string)) error {
	md, err := targetMetadata(ctx, f.w, f.Spec.Config.Table)
	if err != nil {
		return err
	}
	if _, err := partitionExpr(md, f.Spec.PartitionColumn); err != nil {
		return fmt.Errorf("bqsink: cannot replace partitions of %s: %w", f.Spec.Config.Table, err)
	}
	schema := append(bigquery.Schema{}, md.Schema...)
	schema = append(schema,
		&bigquery.FieldSchema{Name: ColRowID, Type: bigquery.StringFieldType, Description: "railyard: row ID (content hash and copy number)"},
		&bigquery.FieldSchema{Name: ColAttempt, Type: bigquery.StringFieldType, Description: "railyard: token of the shard-writer attempt"},
	)
	smd := &bigquery.TableMetadata{
		Schema:         schema,
		Description:    fmt.Sprintf("railyard staging of a partition replace of %s (partitions %s); dropped after the commit", f.Spec.Config.Table, strings.Join(f.Spec.Partitions, ", ")),
		ExpirationTime: time.Now().Add(f.Spec.StagingTTL),
		Labels:         map[string]string{"railyard": "staging"},
	}
	tbl := f.w.client.Dataset(f.Spec.StagingDataset).Table(f.Spec.StagingTable)
	err = f.w.call(ctx, "create staging table "+f.Spec.stagingID(), func(ctx context.Context) error {
		err := tbl.Create(ctx, smd)
		if isHTTPCode(err, http.StatusConflict) {
			return nil // an earlier try of ours created it (the name is unique to this run)
		}
		return err
	})
	if err != nil {
		return err
	}
	log.Infof(ctx, "bqsink: staging %s for %s partitions %v", f.Spec.stagingID(), f.Spec.Config.Table, f.Spec.Partitions)
	emit(f.Spec.stagingID())
	return nil
}

func targetMetadata(ctx context.Context, w *writer, tableID string) (*bigquery.TableMetadata, error) {
	ds, t, err := splitTable(tableID)
	if err != nil {
		return nil, err
	}
	var md *bigquery.TableMetadata
	err = w.call(ctx, "reading table "+tableID, func(ctx context.Context) error {
		var err error
		md, err = w.client.Dataset(ds).Table(t).Metadata(ctx)
		return err
	})
	return md, err
}

// encodeReplaceFn converts rows to insertAll JSON, checks their partition
// and keys them by shard. Identical rows go to the same shard, where the
// copies are numbered.
type encodeReplaceFn struct {
	Spec  replaceSpec `json:"spec"`
	enc   rowEncoder
	owned map[string]bool
}

func (f *encodeReplaceFn) Setup() {
	f.owned = map[string]bool{}
	for _, p := range f.Spec.Partitions {
		f.owned[p] = true
	}
}

func (f *encodeReplaceFn) ProcessElement(ctx context.Context, row beam.T, emit func(int, stagedRow), dead func(schemas.DeadLetter)) {
	c := f.Spec.Config
	values, js, err := f.enc.encode(row)
	if err != nil {
		rowErrors.Inc(ctx, 1)
		dead(deadLetter(c, ReasonUnconvertible, err.Error(), c.Table, payloadOf(row), nil))
		return
	}
	day, ok := partitionOf(values[f.Spec.PartitionColumn])
	if !ok || !f.owned[day] {
		rowErrors.Inc(ctx, 1)
		detail := fmt.Sprintf("%s = %v is not one of the partitions this run owns (%s)", f.Spec.PartitionColumn, values[f.Spec.PartitionColumn], strings.Join(f.Spec.Partitions, ", "))
		src := c.Table
		if ok {
			src = partitionSource(c.Table, day)
		}
		dead(deadLetter(c, ReasonPartitionNotOwned, detail, src, js, nil))
		return
	}
	if len(js) > c.MaxRowBytes {
		rowErrors.Inc(ctx, 1)
		dead(deadLetter(c, ReasonRowTooLarge, fmt.Sprintf("row JSON is %d bytes; the limit is %d", len(js), c.MaxRowBytes), partitionSource(c.Table, day), js, nil))
		return
	}
	id := contentID(c.Table, js)
	emit(shardOf(id, c.Shards), stagedRow{ID: id, Partition: day, JSON: js})
}

// stageShardFn writes one shard's rows into the staging table in batches.
// Each attempt (each call) gets a fresh token written with every row; it
// emits, per partition, the rows it staged under that token.
type stageShardFn struct {
	Spec replaceSpec `json:"spec"`
	w    *writer
}

func (f *stageShardFn) Setup(ctx context.Context) error {
	var err error
	f.w, err = openWriter(ctx, f.Spec.Config)
	return err
}

func (f *stageShardFn) Teardown() error { return f.w.close() }

func (f *stageShardFn) ProcessElement(ctx context.Context, shard int, rows func(*stagedRow) bool, staging string, emit func(shardCount), dead func(schemas.DeadLetter)) error {
	c := f.w.cfg
	stDS, stTable, err := splitTable(staging)
	if err != nil {
		return err
	}
	attempt := nonce()
	copies := map[string]int{}
	counts := map[string]int64{}
	b := &batcher{maxRows: c.BatchRows, maxBytes: c.BatchBytes}
	// cur and curIDs are the rows of the batch being filled, by
	// pendingRow.ref.
	var cur []stagedRow
	var curIDs []string
	flush := func() error {
		batch := b.take()
		inBatch, ids := cur, curIDs
		cur, curIDs = nil, nil
		failed, err := f.w.insertBatch(ctx, stDS, stTable, batch)
		if err != nil {
			return fmt.Errorf("bqsink: shard %d: %w", shard, err)
		}
		bad := map[int]bool{}
		for _, fl := range failed {
			bad[fl.ref] = true
			r := inBatch[fl.ref]
			rowErrors.Inc(ctx, 1)
			dead(deadLetter(c, ReasonRowError, fl.detail, partitionSource(c.Table, r.Partition), r.JSON,
				map[string]string{"row_id": ids[fl.ref], "staging_table": staging}))
		}
		for _, p := range batch {
			if !bad[p.ref] {
				counts[inBatch[p.ref].Partition]++
			}
		}
		rowsStaged.Inc(ctx, int64(len(batch)-len(failed)))
		return nil
	}
	var r stagedRow
	for rows(&r) {
		n := copies[r.ID]
		copies[r.ID] = n + 1
		rowID := fmt.Sprintf("%s-%d", r.ID, n)
		p, err := newPendingRow(len(cur), rowID+"."+attempt, r.JSON, map[string]string{ColRowID: rowID, ColAttempt: attempt})
		if err != nil {
			rowErrors.Inc(ctx, 1)
			dead(deadLetter(c, ReasonUnconvertible, err.Error(), partitionSource(c.Table, r.Partition), r.JSON, nil))
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
		curIDs = append(curIDs, rowID)
		r = stagedRow{}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, p := range sortedKeys(counts) {
		emit(shardCount{Partition: p, Attempt: attempt, Rows: counts[p]})
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// commitFn runs once, after every shard finished: it checks the staging
// table against what the shards reported, replaces the owned partitions in
// one transaction, counts the result and emits it, and passes the staging
// table on to cleanupFn.
type commitFn struct {
	Spec replaceSpec `json:"spec"`
	w    *writer
}

func (f *commitFn) Setup(ctx context.Context) error {
	var err error
	f.w, err = openWriter(ctx, f.Spec.Config)
	return err
}

func (f *commitFn) Teardown() error { return f.w.close() }

func (f *commitFn) ProcessElement(ctx context.Context, staging string, counts func(*shardCount) bool, emit func(PartitionCount), done func(string)) error {
	c := f.w.cfg
	want := map[string]int64{}
	for _, p := range f.Spec.Partitions {
		want[p] = 0
	}
	var attempts []string
	var sc shardCount
	for counts(&sc) {
		if _, ok := want[sc.Partition]; !ok {
			return fmt.Errorf("bqsink: a shard staged rows for partition %s, which the run does not own", sc.Partition)
		}
		want[sc.Partition] += sc.Rows
		attempts = append(attempts, sc.Attempt)
	}
	slices.Sort(attempts)
	attempts = slices.Compact(attempts)

	md, err := targetMetadata(ctx, f.w, c.Table)
	if err != nil {
		return err
	}
	pexpr, err := partitionExpr(md, f.Spec.PartitionColumn)
	if err != nil {
		return fmt.Errorf("bqsink: cannot replace partitions of %s: %w", c.Table, err)
	}
	project := f.w.client.Project()
	target := fmt.Sprintf("`%s.%s`", project, c.Table)
	stagingRef := fmt.Sprintf("`%s.%s`", project, staging)
	days := make([]civil.Date, 0, len(f.Spec.Partitions))
	for _, p := range f.Spec.Partitions {
		d, err := civil.ParseDate(p)
		if err != nil {
			return err
		}
		days = append(days, d)
	}
	params := []bigquery.QueryParameter{{Name: "partitions", Value: days}}
	// No successful attempt staged anything: the commit only deletes. (An
	// empty ARRAY query parameter hangs goccy's emulator, so none is sent.)
	staged, copies := map[string]int64{}, int64(0)
	if len(attempts) > 0 {
		params = append(params, bigquery.QueryParameter{Name: "attempts", Value: attempts})
		// 1. The staging table must hold exactly the rows the successful
		// attempts reported, once de-duplicated.
		staged, copies, err = f.countStaging(ctx, stagingRef, pexpr, params)
		if err != nil {
			return err
		}
	}
	var distinct int64
	for p, n := range staged {
		distinct += n
		if _, ok := want[p]; !ok {
			return fmt.Errorf("bqsink: staging %s holds rows of partition %s, which the run does not own", staging, p)
		}
	}
	for _, p := range sortedKeys(want) {
		if staged[p] != want[p] {
			return fmt.Errorf("bqsink: staging %s holds %d distinct rows for partition %s; the shards reported %d", staging, staged[p], p, want[p])
		}
	}
	if dup := copies - distinct; dup > 0 {
		stagingDuplicates.Inc(ctx, dup)
		log.Infof(ctx, "bqsink: staging %s holds %d duplicate row copies (retried requests that had landed); the commit keeps one of each", staging, dup)
	}

	// 2. Replace the owned partitions in one transaction.
	script := commitScript(target, stagingRef, md.Schema, pexpr, len(attempts) > 0)
	if f.Spec.OnEmulator {
		if err := f.preflight(ctx, script, params); err != nil {
			return err
		}
	}
	if err := f.runJob(ctx, "commit "+c.Table, script, params); err != nil {
		return err
	}

	// 3. Count what the partitions hold now.
	got, err := f.countTarget(ctx, target, pexpr, params)
	if err != nil {
		return err
	}
	var total int64
	for _, p := range sortedKeys(want) {
		if got[p] != want[p] {
			return fmt.Errorf("bqsink: after the commit, %s partition %s holds %d rows; the run wrote %d (a concurrent writer?)", c.Table, p, got[p], want[p])
		}
		total += got[p]
		emit(PartitionCount{Table: c.Table, Partition: p, Rows: got[p]})
	}
	rowsWritten.Inc(ctx, total)
	log.Infof(ctx, "bqsink: replaced %d partition(s) of %s with %d rows", len(want), c.Table, total)
	done(staging)
	return nil
}

// commitScript deletes the owned partitions and inserts one copy of each
// staged row of a successful attempt, in one transaction. Without staged
// rows it only deletes.
func commitScript(target, staging string, schema bigquery.Schema, pexpr string, insert bool) string {
	del := "DELETE FROM " + target + " WHERE " + pexpr + " IN UNNEST(@partitions);\n"
	if !insert {
		return "BEGIN TRANSACTION;\n" + del + "COMMIT TRANSACTION;"
	}
	var cols, anys []string
	for _, f := range schema {
		q := quoteIdent(f.Name)
		cols = append(cols, q)
		anys = append(anys, "ANY_VALUE("+q+") AS "+q)
	}
	return "BEGIN TRANSACTION;\n" + del +
		"INSERT INTO " + target + " (" + strings.Join(cols, ", ") + ")\n" +
		"SELECT " + strings.Join(anys, ", ") + "\n" +
		"FROM " + staging + "\n" +
		"WHERE " + quoteIdent(ColAttempt) + " IN UNNEST(@attempts) AND " + pexpr + " IN UNNEST(@partitions)\n" +
		"GROUP BY " + quoteIdent(ColRowID) + ";\n" +
		"COMMIT TRANSACTION;"
}

// runJob runs a query job to completion, with retries; the script is
// idempotent, so a try that timed out but ran after all does no harm.
func (f *commitFn) runJob(ctx context.Context, op, sql string, params []bigquery.QueryParameter) error {
	return f.w.retry.do(ctx, op, f.w.cfg.Retry.JobTimeout, func(ctx context.Context) error {
		q := f.w.client.Query(sql)
		q.Parameters = params
		job, err := q.Run(ctx)
		if err != nil {
			return err
		}
		st, err := job.Wait(ctx)
		if err != nil {
			return err
		}
		return st.Err()
	})
}

// preflight runs the script as a dry run. goccy's emulator executes a dry
// run and rolls it back, so a script that would fail halfway — after the
// DELETE, which the emulator would keep — fails here without effect.
func (f *commitFn) preflight(ctx context.Context, sql string, params []bigquery.QueryParameter) error {
	return f.w.retry.do(ctx, "dry run of the commit of "+f.w.cfg.Table, f.w.cfg.Retry.JobTimeout, func(ctx context.Context) error {
		q := f.w.client.Query(sql)
		q.Parameters = params
		q.DryRun = true
		job, err := q.Run(ctx)
		if err != nil {
			return err
		}
		if st := job.LastStatus(); st != nil && st.Err() != nil {
			return permanent(fmt.Errorf("the commit script fails: %w", st.Err()))
		}
		return nil
	})
}

// countStaging returns, per partition, the distinct row IDs staged by
// successful attempts, and the number of staging rows they span.
func (f *commitFn) countStaging(ctx context.Context, staging, pexpr string, params []bigquery.QueryParameter) (map[string]int64, int64, error) {
	sql := "SELECT CAST(" + pexpr + " AS STRING) AS p, COUNT(DISTINCT " + quoteIdent(ColRowID) + ") AS n, COUNT(*) AS copies\n" +
		"FROM " + staging + "\nWHERE " + quoteIdent(ColAttempt) + " IN UNNEST(@attempts)\nGROUP BY p"
	rows, err := f.query(ctx, "counting staged rows", sql, params)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]int64{}
	var copies int64
	for _, r := range rows {
		p, n, cp, err := countRow(r, 3)
		if err != nil {
			return nil, 0, err
		}
		out[p] += n
		copies += cp
	}
	return out, copies, nil
}

// countTarget returns the rows per owned partition of the target.
func (f *commitFn) countTarget(ctx context.Context, target, pexpr string, params []bigquery.QueryParameter) (map[string]int64, error) {
	sql := "SELECT CAST(" + pexpr + " AS STRING) AS p, COUNT(*) AS n\nFROM " + target + "\nWHERE " + pexpr + " IN UNNEST(@partitions)\nGROUP BY p"
	rows, err := f.query(ctx, "counting replaced rows", sql, params[:1])
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		p, n, _, err := countRow(r, 2)
		if err != nil {
			return nil, err
		}
		out[p] += n
	}
	return out, nil
}

func countRow(r []bigquery.Value, width int) (string, int64, int64, error) {
	if len(r) != width {
		return "", 0, 0, fmt.Errorf("bqsink: count query returned %d columns, want %d", len(r), width)
	}
	p, ok := r[0].(string)
	if !ok {
		return "", 0, 0, fmt.Errorf("bqsink: count query returned partition %v (%T)", r[0], r[0])
	}
	var n [2]int64
	for i := 1; i < width; i++ {
		v, ok := r[i].(int64)
		if !ok {
			return "", 0, 0, fmt.Errorf("bqsink: count query returned count %v (%T)", r[i], r[i])
		}
		n[i-1] = v
	}
	return p, n[0], n[1], nil
}

// query runs a read-only query with retries and returns all its rows.
func (f *commitFn) query(ctx context.Context, op, sql string, params []bigquery.QueryParameter) ([][]bigquery.Value, error) {
	var out [][]bigquery.Value
	err := f.w.retry.do(ctx, op, f.w.cfg.Retry.JobTimeout, func(ctx context.Context) error {
		out = nil
		q := f.w.client.Query(sql)
		q.Parameters = params
		it, err := q.Read(ctx)
		if err != nil {
			return err
		}
		for {
			var r []bigquery.Value
			err := it.Next(&r)
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, r)
		}
	})
	return out, err
}

// cleanupFn drops the staging table after a successful commit. A failure
// is logged and counted, not fatal: the rows are committed, and the table
// expires on its own.
type cleanupFn struct {
	Spec replaceSpec `json:"spec"`
	w    *writer
}

func (f *cleanupFn) Setup(ctx context.Context) error {
	var err error
	f.w, err = openWriter(ctx, f.Spec.Config)
	return err
}

func (f *cleanupFn) Teardown() error { return f.w.close() }

func (f *cleanupFn) ProcessElement(ctx context.Context, staging string) {
	ds, t, err := splitTable(staging)
	if err == nil {
		err = f.w.call(ctx, "dropping staging table "+staging, func(ctx context.Context) error {
			err := f.w.client.Dataset(ds).Table(t).Delete(ctx)
			if isHTTPCode(err, http.StatusNotFound) {
				return nil
			}
			return err
		})
	}
	if err != nil {
		cleanupFailures.Inc(ctx, 1)
		log.Warnf(ctx, "bqsink: staging table %s left behind (it expires after %s): %v", staging, f.Spec.StagingTTL, err)
	}
}

func init() {
	beam.RegisterType(reflect.TypeOf((*stagedRow)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*shardCount)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*PartitionCount)(nil)).Elem())
	register.DoFn3x1[context.Context, []byte, func(string), error](&prepareFn{})
	register.DoFn4x0[context.Context, beam.T, func(int, stagedRow), func(schemas.DeadLetter)](&encodeReplaceFn{})
	register.DoFn6x1[context.Context, int, func(*stagedRow) bool, string, func(shardCount), func(schemas.DeadLetter), error](&stageShardFn{})
	register.DoFn5x1[context.Context, string, func(*shardCount) bool, func(PartitionCount), func(string), error](&commitFn{})
	register.DoFn2x0[context.Context, string](&cleanupFn{})
	register.Emitter1[string]()
	register.Emitter2[int, stagedRow]()
	register.Emitter1[schemas.DeadLetter]()
	register.Emitter1[shardCount]()
	register.Emitter1[PartitionCount]()
	register.Iter1[stagedRow]()
	register.Iter1[shardCount]()
}
