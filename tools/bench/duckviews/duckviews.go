// Package duckviews computes railyard's batch views with DuckDB SQL over the
// lake's *.jsonl.gz files: what a user would pick instead of a Beam pipeline
// on one machine, and a second independent implementation to check
// internal/reference against.
//
// Lines are read raw (read_csv with one VARCHAR column and no quoting), then
// decoded and validated in SQL with DuckDB's JSON functions, mirroring
// schemas.DecodeLine rule by rule and reason by reason, for JSON and for
// Beam's CSV lines. Deduplication, the range check and the three views follow
// internal/reference's package doc (the definitions of transforms/gaming):
// GROUP BY and joins, a LAG window for sessions, and exact integer arithmetic
// for the spammer test and the session-length sums.
//
// # Rules SQL does not mirror exactly
//
// DuckDB's JSON parser (yyjson) and CSV reader differ from encoding/json and
// railyard's line reader in corner cases that generated data never hits:
//
//   - JSON keys: encoding/json matches keys case-insensitively ("Event_ID"
//     fills event_id) and keeps the last of duplicate keys; json_extract
//     matches exactly and returns the first.
//   - Invalid UTF-8: DuckDB refuses such lines at read time; they are counted
//     as invalid_utf8. railyard rejects a CSV line with invalid UTF-8 in a
//     field with that reason too, but only after its score and timestamp
//     checks (a line with both a bad score and bad bytes is
//     score_not_integer there), and a JSON line with invalid UTF-8 inside a
//     string is valid for encoding/json (the bytes become U+FFFD).
//   - Lone UTF-16 surrogate escapes ("\ud800") are invalid JSON for yyjson
//     (malformed_json); encoding/json accepts them as U+FFFD.
//   - yyjson accepts trailing commas and NaN/Infinity, encoding/json does not;
//     the SQL looks for them outside string literals and reports
//     malformed_json, which is exact for well-formed string literals.
//   - Line endings: DuckDB's CSV reader also ends a line at a lone "\r" and,
//     in a file that mixes "\n" and "\r\n", may report an extra blank line.
//     Lines longer than read_csv's max_line_size (2 MB) are rejected (counted
//     as malformed_json or malformed_csv). A line containing the byte
//     sequence 01 02 03 04 (the column delimiter used to read whole lines)
//     is rejected as well.
//   - String values containing NUL ("\u0000") may be cut at the NUL by DuckDB.
//
// Everything else — reasons and their order, field lengths in bytes, scores
// and schema versions as JSON integers (including out-of-range literals),
// RFC 3339 parsing as time.Parse does it (one-digit hours, comma fractions,
// more than nine fraction digits truncated, zone offsets, day-of-month
// checks, nanosecond precision), the zero time, the too-old and future
// limits, CSV event ids (SHA-256 of the trimmed line), and MarshalLine
// (Go's JSON string escaping and RFC 3339 formatting) for choosing among
// differing copies — is mirrored. TestClassificationMatchesDecodeLine
// checks a table of corner cases against schemas.DecodeLine.
package duckviews

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/railyard-dev/railyard/internal/reference"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// Options tune Compute. The zero value is ready to use.
type Options struct {
	// Threads is DuckDB's thread count; 0 keeps its default (all cores).
	Threads int
	// MemoryLimit is DuckDB's memory_limit, e.g. "2GB"; "" keeps its
	// default (80% of RAM).
	MemoryLimit string
	// Lake is the lake dataset; the zero value means game_events.
	Lake catalog.Lake
}

// Timings are the wall times of Compute's stages.
type Timings struct {
	// Parse reads, decodes and validates every line; Dedupe builds the
	// unique events and the range filter; Views runs the three views and
	// fetches their rows; Total includes listing the files and setup.
	Parse, Dedupe, Views, Total time.Duration
}

// Compute computes the batch views of the lake under root (a local
// directory) for the event dates from through to, with now as the time of
// processing, in a fresh in-memory DuckDB database. The result has the
// same form as internal/reference's, rows sorted the same way.
func (o Options) Compute(ctx context.Context, root string, from, to civil.Date, now time.Time) (reference.Result, Timings, error) {
	start := time.Now()
	var tm Timings
	if strings.Contains(root, "://") {
		return reference.Result{}, tm, fmt.Errorf("duckviews: lake root %q: only local directories are supported", root)
	}
	files, err := reference.Options{Lake: o.Lake}.Files(ctx, root, from, to)
	if err != nil {
		return reference.Result{}, tm, err
	}
	res := reference.Result{
		From: from, To: to,
		Counts: reference.Counts{InvalidByReason: map[schemas.Reason]int64{}},
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return reference.Result{}, tm, err
		}
		res.Counts.Files++
		res.Counts.Bytes += st.Size()
	}
	if len(files) == 0 {
		tm.Total = time.Since(start)
		return res, tm, nil
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		return reference.Result{}, tm, err
	}
	defer db.Close()
	// Temporary tables and macros belong to one connection.
	conn, err := db.Conn(ctx)
	if err != nil {
		return reference.Result{}, tm, err
	}
	defer conn.Close()
	if err := o.setup(ctx, conn); err != nil {
		return reference.Result{}, tm, err
	}

	// Parse.
	t0 := time.Now()
	limit := now.Add(schemas.MaxClockSkew)
	if _, err := conn.ExecContext(ctx, parseSQL(files), limit.Unix(), int64(limit.Nanosecond())); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: parse: %w", err)
	}
	tm.Parse = time.Since(t0)
	if err := readCounts(ctx, conn, &res.Counts); err != nil {
		return reference.Result{}, tm, err
	}

	// Dedupe and range.
	t0 = time.Now()
	if _, err := conn.ExecContext(ctx, dedupeSQL); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: dedupe: %w", err)
	}
	fromDay := from.In(time.UTC).Unix() / 86400
	toDay := to.In(time.UTC).Unix() / 86400
	if _, err := conn.ExecContext(ctx, eventsSQL, fromDay, toDay); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: events: %w", err)
	}
	tm.Dedupe = time.Since(t0)
	c := &res.Counts
	if err := conn.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE conflicted) FROM ry_unique`).Scan(&c.Unique, &c.ConflictingIDs); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: count unique: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM ry_events`).Scan(&c.Events); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: count events: %w", err)
	}
	c.Duplicates = c.Valid - c.Unique
	c.OutsidePartition = c.Unique - c.Events

	// Views.
	t0 = time.Now()
	if res.UserScoresDaily, err = queryRows(ctx, conn, userScoresSQL, func(r *sql.Rows) (schemas.UserScoreDaily, error) {
		var row schemas.UserScoreDaily
		var day time.Time
		err := r.Scan(&day, &row.User, &row.Team, &row.Score, &row.Events)
		row.Day = civil.DateOf(day.UTC())
		return row, err
	}); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: user_scores_daily: %w", err)
	}
	if res.TeamScoresHourly, err = queryRows(ctx, conn, teamScoresSQL, func(r *sql.Rows) (schemas.TeamScore, error) {
		var row schemas.TeamScore
		var startSec int64
		err := r.Scan(&startSec, &row.Team, &row.Score, &row.Events)
		row.WindowStart = time.Unix(startSec, 0).UTC()
		row.WindowEnd = row.WindowStart.Add(time.Hour)
		row.Timing, row.PaneIndex, row.IsLast, row.ProcessingTime = schemas.TimingOnTime, 0, true, row.WindowEnd
		return row, err
	}); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: team_scores_hourly: %w", err)
	}
	if res.GameStatsDaily, err = queryRows(ctx, conn, gameStatsSQL, func(r *sql.Rows) (schemas.GameStatsDaily, error) {
		var row schemas.GameStatsDaily
		var day time.Time
		err := r.Scan(&day, &row.Team, &row.Score, &row.Events, &row.SpammerUsers, &row.Sessions, &row.MeanSessionMinutes)
		row.Day = civil.DateOf(day.UTC())
		return row, err
	}); err != nil {
		return reference.Result{}, tm, fmt.Errorf("duckviews: game_stats_daily: %w", err)
	}
	tm.Views = time.Since(t0)
	tm.Total = time.Since(start)
	return res, tm, nil
}

// setup applies the options to a connection and creates the macros.
func (o Options) setup(ctx context.Context, conn *sql.Conn) error {
	stmts := []string{"SET preserve_insertion_order = false", goQuoteMacro()}
	if o.Threads > 0 {
		stmts = append(stmts, fmt.Sprintf("SET threads = %d", o.Threads))
	}
	if o.MemoryLimit != "" {
		stmts = append(stmts, "SET memory_limit = "+sqlString(o.MemoryLimit))
	}
	stmts = append(stmts, macros...)
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("duckviews: %s: %w", firstLine(q), err)
		}
	}
	return nil
}

// readCounts fills the line counts from ry_parsed and the lines the CSV
// reader rejected.
func readCounts(ctx context.Context, conn *sql.Conn, c *reference.Counts) error {
	rows, err := conn.QueryContext(ctx, `SELECT blank, coalesce(reason, ''), count(*) FROM ry_parsed GROUP BY ALL`)
	if err != nil {
		return fmt.Errorf("duckviews: counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var blank bool
		var reason string
		var n int64
		if err := rows.Scan(&blank, &reason, &n); err != nil {
			return err
		}
		switch {
		case blank:
			c.BlankLines += n
		case reason == "":
			c.Read += n
			c.Valid += n
		default:
			c.Read += n
			c.Invalid += n
			c.InvalidByReason[schemas.Reason(reason)] += n
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Lines the CSV reader refused: invalid UTF-8 (or longer than
	// max_line_size, or containing the delimiter).
	rej, err := conn.QueryContext(ctx, `
		SELECT CASE WHEN error_type = 'INVALID ENCODING' THEN 'invalid_utf8'
		            WHEN starts_with(ltrim(coalesce(csv_line, '')), '{') THEN 'malformed_json'
		            ELSE 'malformed_csv' END, count(*)
		FROM ry_rejects GROUP BY ALL`)
	if err != nil {
		return fmt.Errorf("duckviews: rejects: %w", err)
	}
	defer rej.Close()
	for rej.Next() {
		var reason string
		var n int64
		if err := rej.Scan(&reason, &n); err != nil {
			return err
		}
		c.Read += n
		c.Invalid += n
		c.InvalidByReason[schemas.Reason(reason)] += n
	}
	return rej.Err()
}

func queryRows[T any](ctx context.Context, conn *sql.Conn, q string, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		q = q[:i]
	}
	if len(q) > 80 {
		q = q[:80] + "…"
	}
	return q
}
