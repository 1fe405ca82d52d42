package duckviews

import (
	"fmt"
	"strings"
)

// goSpace are the characters Go's bytes.TrimSpace removes (unicode.IsSpace),
// as a DuckDB string literal body.
const goSpace = " \t\n\v\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

// goQuoteMacro is a DuckDB macro that quotes a string as Go's encoding/json
// does (HTML-safe escaping, \b \f \n \r \t, other control characters as
// \u00XX, U+2028 and U+2029 escaped), so that MarshalLine can be rebuilt
// in SQL.
func goQuoteMacro() string {
	expr := "s"
	rep := func(from rune, to string) {
		expr = fmt.Sprintf("replace(%s, chr(%d), %s)", expr, from, sqlString(to))
	}
	rep('\\', `\\`)
	rep('"', `\"`)
	for c := 0; c < 0x20; c++ {
		var to string
		switch c {
		case '\b':
			to = `\b`
		case '\f':
			to = `\f`
		case '\n':
			to = `\n`
		case '\r':
			to = `\r`
		case '\t':
			to = `\t`
		default:
			to = fmt.Sprintf(`\u%04x`, c)
		}
		rep(rune(c), to)
	}
	rep('<', `\u003c`)
	rep('>', `\u003e`)
	rep('&', `\u0026`)
	rep('\u2028', `\u2028`)
	rep('\u2029', `\u2029`)
	return "CREATE OR REPLACE TEMP MACRO ry_goquote(s) AS '\"' || " + expr + " || '\"'"
}

// sqlString is s as a DuckDB string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// sqlList is a DuckDB list literal of strings.
func sqlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = sqlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Helper macros.
var macros = []string{
	// Floor division (DuckDB's // truncates towards zero).
	`CREATE OR REPLACE TEMP MACRO ry_floordiv(a, b) AS (a - (((a % b) + b) % b)) // b`,
	// Go's bytes.TrimSpace.
	`CREATE OR REPLACE TEMP MACRO ry_trim(s) AS trim(s, ` + sqlString(goSpace) + `)`,
	// The type of a JSON value given as text: NULL, VARCHAR, BOOLEAN,
	// OBJECT, ARRAY, INTEGER (an integer literal) or NUMBER (any other).
	`CREATE OR REPLACE TEMP MACRO ry_kind(x) AS CASE
	  WHEN x IS NULL THEN NULL
	  WHEN left(x, 1) = '"' THEN 'VARCHAR' WHEN left(x, 1) = 'n' THEN 'NULL'
	  WHEN left(x, 1) IN ('t', 'f') THEN 'BOOLEAN' WHEN left(x, 1) = '{' THEN 'OBJECT' WHEN left(x, 1) = '[' THEN 'ARRAY'
	  WHEN contains(x, '.') OR contains(x, 'e') OR contains(x, 'E') THEN 'NUMBER' ELSE 'INTEGER' END`,
	// The value of a JSON string given as text.
	`CREATE OR REPLACE TEMP MACRO ry_str(x) AS CASE WHEN left(x, 1) <> '"' THEN NULL
	  WHEN contains(x, '\') THEN json_extract_string(x, '$') ELSE substr(x, 2, length(x) - 2) END`,
	// A decimal integer as strconv.ParseInt accepts it (sign, digits).
	`CREATE OR REPLACE TEMP MACRO ry_intlike(s) AS regexp_full_match(s, '[+-]?[0-9]+')`,
	// schemas.GameEvent.MarshalLine: encoding/json's field order and
	// escaping, RFC 3339 event time in UTC without trailing zeros,
	// platform omitted when empty. ry_goquote must exist.
	`CREATE OR REPLACE TEMP MACRO ry_marshal(event_id, "user", team, score, secs, ns, platform, sv) AS
	  '{"event_id":' || ry_goquote(event_id) || ',"user":' || ry_goquote("user") || ',"team":' || ry_goquote(team)
	  || ',"score":' || score::VARCHAR
	  || ',"event_time":"' || strftime(make_timestamp(secs * 1000000), '%Y-%m-%dT%H:%M:%S')
	  || CASE WHEN ns = 0 THEN '' ELSE '.' || rtrim(lpad(ns::VARCHAR, 9, '0'), '0') END || 'Z"'
	  || CASE WHEN platform = '' THEN '' ELSE ',"platform":' || ry_goquote(platform) END
	  || ',"schema_version":' || sv::VARCHAR || '}'`,
}

// rfc3339 matches what time.Parse(time.RFC3339Nano, s) accepts: its strict
// fast path and the general parser it falls back to (one-digit hours, a
// comma before the fraction, any number of fraction digits, zone offsets
// up to 24:60).
const rfc3339 = `^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?(Z|([+-])([0-9]{2}):([0-9]{2}))$`

// parseSQL builds the table ry_parsed: one row per line read, with the
// line's validation reason (NULL when valid) and, for valid lines, the
// decoded event. Rows of blank lines have blank = true.
//
// limitS and limitNS are the latest accepted event time (now + 1 h) as
// Unix seconds and nanoseconds; they are the query's parameters $1, $2.
func parseSQL(files []string) string {
	return `
CREATE OR REPLACE TEMP TABLE ry_parsed AS
WITH src AS (
  SELECT line
  FROM read_csv(` + sqlList(files) + `,
    columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
    delim = E'\x01\x02\x03\x04', quote = '', escape = '', strict_mode = false,
    ignore_errors = true, store_rejects = true,
    rejects_table = 'ry_rejects', rejects_scan = 'ry_rejects_scan')
),
lines AS (
  SELECT line IS NULL AS blank, coalesce(line, '') AS raw FROM src
),
-- Go trims the line (bytes.TrimSpace) before anything else. A line that
-- already is a JSON object needs no trimming: only JSON whitespace can
-- surround it, and trimming that changes nothing. The rest is trimmed.
fast AS (
  SELECT raw, starts_with(raw, '{') AND json_valid(raw) AS fast FROM lines WHERE NOT blank
),
trimmed AS (
  SELECT fast, CASE WHEN fast THEN raw ELSE ry_trim(raw) END AS s FROM fast
),

-- JSON lines: schemas.DecodeJSON, field by field in its order.
js AS (
  SELECT s,
    -- yyjson accepts trailing commas and NaN/Infinity; encoding/json does
    -- not. Look for them outside string literals, in the (few) lines where
    -- a cheap test finds a candidate. (CASE, unlike AND in a projection,
    -- evaluates each branch only for its rows.)
    CASE
      WHEN NOT fast AND NOT json_valid(s) THEN false
      WHEN regexp_matches(s, '[,:\[]\s*[-+]?[nNiI}\]]')
        THEN NOT regexp_matches(regexp_replace(s, '"(?:[^"\\]|\\.)*"', '""', 'g'), ',\s*[}\]]|[:,\[]\s*[-+]?([nN][aA]|[iI])')
      ELSE true
    END AS ok
  FROM trimmed WHERE fast OR starts_with(s, '{')
),
jf AS (
  SELECT ok,
    CASE WHEN ok THEN json_extract(s, ['$.event_id', '$.user', '$.team', '$.score', '$.event_time', '$.platform', '$.schema_version'])::VARCHAR[] END AS f
  FROM js
),
-- The values as JSON text (NULL when the key is absent). The first
-- character tells the type: '"' string, 'n' null, 't'/'f' boolean, '{'
-- object, '[' array, else a number; a number is an integer literal unless
-- it has '.', 'e' or 'E' (yyjson keeps the digits of integers beyond 64
-- bits). Strings without escapes are unquoted by slicing.
jt AS (
  SELECT ok,
    ry_kind(f[1]) AS id_t, ry_str(f[1]) AS id_s,
    ry_kind(f[2]) AS us_t, ry_str(f[2]) AS us_s,
    ry_kind(f[3]) AS tm_t, ry_str(f[3]) AS tm_s,
    ry_kind(f[4]) AS sc_t, f[4] AS sc_s,
    ry_kind(f[5]) AS et_t, ry_str(f[5]) AS et_s,
    ry_kind(f[6]) AS pf_t, ry_str(f[6]) AS pf_s,
    ry_kind(f[7]) AS sv_t, f[7] AS sv_s
  FROM jf
),
jm AS (
  SELECT *,
    CASE WHEN sc_t = 'INTEGER' THEN TRY_CAST(sc_s AS BIGINT) END AS score,
    -- The usual event time, "YYYY-MM-DDTHH:MM:SS[.fff]Z", is converted by a
    -- cast; anything else goes through the full regular expression.
    et_t = 'VARCHAR' AND regexp_full_match(et_s, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?Z') AS tfast
  FROM jt
),
jr AS (
  SELECT *,
    CASE WHEN et_t = 'VARCHAR' AND NOT tfast THEN
      regexp_extract(et_s, '` + rfc3339 + `', ['y', 'mo', 'd', 'h', 'mi', 'se', 'fr', 'tz', 'sg', 'oh', 'om'])
    END AS m,
    -- DuckDB's cast accepts 24:00:00, Go does not.
    CASE WHEN tfast AND substr(et_s, 12, 2) <= '23' THEN TRY_CAST(left(et_s, 19) AS TIMESTAMP) END AS ts
  FROM jm
),
jd AS (
  SELECT *,
    try(make_date(TRY_CAST(m.y AS INTEGER), TRY_CAST(m.mo AS INTEGER), TRY_CAST(m.d AS INTEGER))) AS date,
    TRY_CAST(m.h AS BIGINT) AS hh, TRY_CAST(m.mi AS BIGINT) AS mi, TRY_CAST(m.se AS BIGINT) AS se,
    TRY_CAST(m.oh AS BIGINT) AS oh, TRY_CAST(m.om AS BIGINT) AS om
  FROM jr
),
jx AS (
  SELECT *,
    CASE WHEN tfast THEN ts IS NOT NULL
      ELSE date IS NOT NULL AND hh <= 23 AND mi <= 59 AND se <= 59 AND (m.tz = 'Z' OR (oh <= 24 AND om <= 60))
    END AS time_ok,
    CASE WHEN tfast THEN epoch_ms(ts) // 1000
      ELSE (date - DATE '1970-01-01')::BIGINT * 86400 + hh * 3600 + mi * 60 + se
        - CASE m.sg WHEN '+' THEN oh * 3600 + om * 60 WHEN '-' THEN -(oh * 3600 + om * 60) ELSE 0 END
    END AS secs,
    CASE WHEN tfast THEN CASE WHEN length(et_s) > 20 THEN rpad(left(substr(et_s, 21, length(et_s) - 21), 9), 9, '0')::BIGINT ELSE 0 END
      WHEN m.fr = '' THEN 0 ELSE rpad(left(m.fr, 9), 9, '0')::BIGINT
    END AS ns
  FROM jd
),
jv AS (
  SELECT
    CASE
      WHEN NOT ok THEN 'malformed_json'
      WHEN id_t IS NULL OR id_t = 'NULL' THEN 'missing_field'
      WHEN id_t <> 'VARCHAR' THEN 'invalid_type'
      WHEN us_t IS NULL OR us_t = 'NULL' THEN 'missing_field'
      WHEN us_t <> 'VARCHAR' THEN 'invalid_type'
      WHEN tm_t IS NULL OR tm_t = 'NULL' THEN 'missing_field'
      WHEN tm_t <> 'VARCHAR' THEN 'invalid_type'
      WHEN sc_t IS NULL OR sc_t = 'NULL' THEN 'missing_field'
      WHEN sc_t <> 'INTEGER' THEN 'score_not_integer'
      WHEN score IS NULL THEN 'score_out_of_range'
      WHEN et_t IS NULL OR et_t = 'NULL' THEN 'missing_field'
      WHEN et_t <> 'VARCHAR' THEN 'event_time_unparseable'
      WHEN et_s = '' THEN 'missing_field'
      WHEN NOT time_ok THEN 'event_time_unparseable'
      WHEN pf_t IS NOT NULL AND pf_t NOT IN ('NULL', 'VARCHAR') THEN 'invalid_type'
      WHEN sv_t IS NOT NULL AND sv_t <> 'NULL' AND (sv_t <> 'INTEGER' OR TRY_CAST(sv_s AS BIGINT) IS NULL) THEN 'unknown_schema_version'
    END AS pre,
    id_s AS event_id, us_s AS "user", tm_s AS team, score, secs, ns,
    CASE WHEN pf_t = 'VARCHAR' THEN pf_s ELSE '' END AS platform,
    CASE WHEN sv_t IS NULL OR sv_t = 'NULL' THEN 1 ELSE TRY_CAST(sv_s AS BIGINT) END AS sv
  FROM jx
),

-- CSV lines: schemas.DecodeCSV.
cs AS (
  SELECT s, string_split(s, ',') AS p FROM trimmed WHERE NOT fast AND NOT starts_with(s, '{')
),
cf AS (
  SELECT s, len(p) AS n, ry_trim(p[1]) AS u, ry_trim(p[2]) AS t, ry_trim(p[3]) AS sc_s, ry_trim(p[4]) AS ts_s FROM cs
),
cm AS (
  SELECT *,
    CASE WHEN ry_intlike(sc_s) THEN TRY_CAST(sc_s AS BIGINT) END AS score,
    CASE WHEN ry_intlike(ts_s) THEN TRY_CAST(ts_s AS BIGINT) END AS ms
  FROM cf
),
cv AS (
  SELECT
    CASE
      WHEN n < 4 OR n > 5 THEN 'malformed_csv'
      WHEN NOT ry_intlike(sc_s) THEN 'score_not_integer'
      WHEN score IS NULL THEN 'score_out_of_range'
      WHEN ms IS NULL THEN 'event_time_unparseable'
    END AS pre,
    'csv-' || left(sha256(s), 32) AS event_id, u AS "user", t AS team, score,
    ry_floordiv(ms, 1000) AS secs, (((ms % 1000) + 1000) % 1000) * 1000000 AS ns,
    '' AS platform, 1 AS sv
  FROM cm
),

-- GameEvent.Validate, common to both encodings.
decoded AS (
  SELECT * FROM jv UNION ALL SELECT * FROM cv
)
SELECT false AS blank,
  coalesce(pre, CASE
    WHEN event_id = '' OR "user" = '' OR team = '' THEN 'missing_field'
    WHEN strlen(event_id) > 128 OR strlen("user") > 128 OR strlen(team) > 128 OR strlen(platform) > 128 THEN 'field_too_long'
    WHEN score < 0 OR score > 1000000 THEN 'score_out_of_range'
    WHEN secs = -62135596800 AND ns = 0 THEN 'missing_field'
    WHEN secs < 946684800 THEN 'event_time_too_old'
    WHEN secs > $1 OR (secs = $1 AND ns > $2) THEN 'event_time_in_future'
    WHEN sv <> 1 THEN 'unknown_schema_version'
  END) AS reason,
  event_id, "user", team, score, secs, ns, platform, sv
FROM decoded
UNION ALL
SELECT true, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM lines WHERE blank
`
}

// dedupeSQL builds ry_unique: one row per event id of the valid lines.
// Identical copies collapse with DISTINCT; for the (rare) ids whose copies
// differ, the copy with the smallest MarshalLine is kept, the line rebuilt
// as encoding/json writes it.
const dedupeSQL = `
CREATE OR REPLACE TEMP TABLE ry_unique AS
WITH d AS (
  SELECT DISTINCT event_id, "user", team, score, secs, ns, platform, sv FROM ry_parsed WHERE NOT blank AND reason IS NULL
),
multi AS (
  SELECT event_id FROM d GROUP BY event_id HAVING count(*) > 1
),
conflicts AS (
  SELECT d.* FROM d SEMI JOIN multi USING (event_id)
  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ry_marshal(event_id, "user", team, score, secs, ns, platform, sv)) = 1
)
SELECT *, false AS conflicted FROM d ANTI JOIN multi USING (event_id)
UNION ALL
SELECT *, true FROM conflicts
`

// eventsSQL builds ry_events, the views' input: the unique events whose
// event date is in [$1, $2] (days since 1970-01-01).
const eventsSQL = `
CREATE OR REPLACE TEMP TABLE ry_events AS
SELECT "user", team, score,
  secs * 1000000000 + ns AS t,
  ry_floordiv(secs, 86400) AS day,
  ry_floordiv(secs, 3600) AS hour
FROM ry_unique
WHERE ry_floordiv(secs, 86400) BETWEEN $1 AND $2
`

const userScoresSQL = `
SELECT DATE '1970-01-01' + day::INTEGER AS day, "user", team, sum(score)::BIGINT AS score, count(*) AS events
FROM ry_events GROUP BY day, "user", team
ORDER BY day, "user", team
`

const teamScoresSQL = `
SELECT hour * 3600 AS window_start, team, sum(score)::BIGINT AS score, count(*) AS events
FROM ry_events GROUP BY hour, team
ORDER BY hour, team
`

// gameStatsSQL: spammers per hour in exact integer arithmetic
// (2·s·N > 5·S ⇔ s > 2.5 × S/N), scores without spammers' events,
// sessions with a 5-minute gap (LAG), each on the day of its first event.
const gameStatsSQL = `
WITH uh AS (
  SELECT hour, "user", sum(score) AS s FROM ry_events GROUP BY hour, "user"
),
h AS (
  SELECT hour, sum(s) AS total, count(*) AS n FROM uh GROUP BY hour
),
spam AS (
  SELECT uh.hour, uh."user" FROM uh JOIN h USING (hour)
  WHERE 2::HUGEINT * uh.s * h.n > 5::HUGEINT * h.total
),
flagged AS (
  SELECT e.day, e.team, e."user", e.score, spam."user" IS NOT NULL AS spammer
  FROM ry_events e LEFT JOIN spam ON e.hour = spam.hour AND e."user" = spam."user"
),
agg AS (
  SELECT day, team,
    coalesce(sum(score) FILTER (WHERE NOT spammer), 0)::BIGINT AS score,
    count(*) FILTER (WHERE NOT spammer) AS events,
    count(DISTINCT "user") FILTER (WHERE spammer) AS spammer_users
  FROM flagged GROUP BY day, team
),
gaps AS (
  SELECT team, "user", t,
    CASE WHEN t - lag(t) OVER (PARTITION BY team, "user" ORDER BY t) < 300000000000 THEN 0 ELSE 1 END AS starts
  FROM ry_events
),
numbered AS (
  -- RANGE frame (the default): events at the same instant share a number.
  SELECT team, "user", t, sum(starts) OVER (PARTITION BY team, "user" ORDER BY t) AS session FROM gaps
),
sessions AS (
  SELECT team, "user", session, min(t) AS first, max(t) AS last FROM numbered GROUP BY team, "user", session
),
sagg AS (
  SELECT ry_floordiv(first, 86400000000000) AS day, team, count(*) AS sessions,
    sum((last - first + 300000000000)::HUGEINT) AS length_ns
  FROM sessions GROUP BY 1, team
)
SELECT DATE '1970-01-01' + agg.day::INTEGER AS day, agg.team, agg.score, agg.events, agg.spammer_users,
  coalesce(sagg.sessions, 0) AS sessions,
  CASE WHEN sagg.sessions > 0 THEN sagg.length_ns::DOUBLE / sagg.sessions::DOUBLE / 60000000000.0 ELSE 0 END AS mean_session_minutes
FROM agg LEFT JOIN sagg ON agg.day = sagg.day AND agg.team = sagg.team
ORDER BY agg.day, agg.team
`
