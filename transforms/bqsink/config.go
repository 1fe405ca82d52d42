package bqsink

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/civil"
)

// Defaults for the zero values of Config and Retry.
const (
	DefaultShards         = 8
	DefaultBatchRows      = 500
	DefaultBatchBytes     = 5 << 20 // 5 MiB of row JSON per insertAll request
	DefaultMaxRowBytes    = 5 << 20 // a single row larger than this is dead-lettered unsent
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultAttempts       = 8
	DefaultAttemptTimeout = 60 * time.Second
	DefaultJobTimeout     = 30 * time.Minute
	DefaultStagingTTL     = 48 * time.Hour
)

// Stage is the DeadLetter.Stage of every row this package dead-letters.
const Stage = "bigquery_write"

// Dead-letter reasons.
const (
	// ReasonRowError: BigQuery refused the row (an insertAll per-row error).
	// Detail holds BigQuery's message.
	ReasonRowError = "bigquery_row_error"
	// ReasonUnconvertible: the row could not be turned into a BigQuery row
	// (e.g. a type bigquery.InferSchema does not support).
	ReasonUnconvertible = "bigquery_row_unconvertible"
	// ReasonRowTooLarge: the row's JSON is larger than Config.MaxRowBytes.
	ReasonRowTooLarge = "bigquery_row_too_large"
	// ReasonPartitionNotOwned: ReplacePartitions got a row whose partition
	// is not among ReplaceConfig.Partitions (or has no partition value).
	ReasonPartitionNotOwned = "partition_not_owned"
)

// Metrics, all in the namespace "railyard".
const (
	MetricNamespace = "railyard"
	// MetricRowsWritten counts rows that reached the destination table:
	// rows committed into replaced partitions, or rows appended.
	MetricRowsWritten = "bq_rows_written"
	// MetricRowsStaged counts rows written to a staging table (replace).
	MetricRowsStaged = "bq_rows_staged"
	// MetricRetries counts retried BigQuery calls (after 429, 5xx,
	// timeouts and connection errors) and re-sent rows.
	MetricRetries = "bq_retries"
	// MetricRowErrors counts rows this package sent to its dead-letter
	// output, whatever the reason.
	MetricRowErrors = "bq_row_errors"
	// MetricStagingDuplicates counts staging rows dropped by the commit's
	// de-duplication: copies of a row written more than once (a retried
	// request whose first try had landed after all).
	MetricStagingDuplicates = "bq_staging_duplicates"
	// MetricCleanupFailures counts staging tables that could not be dropped
	// (they expire on their own after ReplaceConfig.StagingTTL).
	MetricCleanupFailures = "bq_staging_cleanup_failures"
)

// Retry tunes how a BigQuery call is retried. Each attempt runs under its
// own deadline (AttemptTimeout), which also bounds the client library's own
// retries inside the attempt (it retries 5xx until its context ends). 429,
// 5xx, the rate-limit and backend-error reasons, attempt timeouts and
// connection errors are retried with jittered exponential backoff; other
// 4xx answers are not.
type Retry struct {
	// Initial is the first backoff (default 100ms); each retry doubles it
	// up to Max (default 10s). The actual pause is drawn uniformly from
	// [b/2, b].
	Initial time.Duration `json:"initial"`
	Max     time.Duration `json:"max"`
	// Attempts bounds the tries of one call, the first included (default 8).
	Attempts int `json:"attempts"`
	// AttemptTimeout is the deadline of one try of an API call such as
	// insertAll or tables.insert (default 60s).
	AttemptTimeout time.Duration `json:"attempt_timeout"`
	// JobTimeout is the deadline of one try of a query job, from
	// jobs.insert until it is done (default 30m).
	JobTimeout time.Duration `json:"job_timeout"`
}

func (r Retry) withDefaults() Retry {
	if r.Initial <= 0 {
		r.Initial = DefaultInitialBackoff
	}
	if r.Max <= 0 {
		r.Max = DefaultMaxBackoff
	}
	if r.Max < r.Initial {
		r.Max = r.Initial
	}
	if r.Attempts <= 0 {
		r.Attempts = DefaultAttempts
	}
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = DefaultAttemptTimeout
	}
	if r.JobTimeout <= 0 {
		r.JobTimeout = DefaultJobTimeout
	}
	return r
}

// Config is what both write modes share: the destination, how to reach it,
// how to shard and batch, and how dead letters are labelled.
type Config struct {
	// Project is the Google Cloud project that holds Table (required with
	// an Endpoint; empty against production means "detect").
	Project string `json:"project"`
	// Endpoint is the BigQuery REST base URL of an emulator, e.g.
	// "http://127.0.0.1:9050"; empty means Google's (cliflags --bq_endpoint).
	Endpoint string `json:"endpoint"`
	// Table is the destination as a BigQuery "dataset.table" ID, with any
	// dataset prefix applied (catalog.TableID).
	Table string `json:"table"`
	// Shards is the number of shard keys rows are spread over (default 8);
	// shards are written in parallel as far as the runner parallelises
	// the keys of a GroupByKey.
	Shards int `json:"shards"`
	// BatchRows and BatchBytes bound one insertAll request (defaults 500
	// rows, 5 MiB of row JSON).
	BatchRows  int `json:"batch_rows"`
	BatchBytes int `json:"batch_bytes"`
	// MaxRowBytes: larger rows are dead-lettered without being sent
	// (default 5 MiB; BigQuery's limit for a whole request is 10 MB).
	MaxRowBytes int `json:"max_row_bytes"`
	// Retry tunes retries; the zero value means the defaults.
	Retry Retry `json:"retry"`
	// Pipeline and RunID label the dead letters (schemas.DeadLetter
	// Pipeline and RunID).
	Pipeline string `json:"pipeline"`
	RunID    string `json:"run_id"`
}

func (c Config) withDefaults() Config {
	if c.Shards <= 0 {
		c.Shards = DefaultShards
	}
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.MaxRowBytes <= 0 {
		c.MaxRowBytes = DefaultMaxRowBytes
	}
	c.Retry = c.Retry.withDefaults()
	return c
}

// bqName matches a dataset or table ID part that railyard writes to.
var bqName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func (c Config) validate() error {
	if c.Endpoint != "" && c.Project == "" {
		return fmt.Errorf("bqsink: endpoint %q needs a project", c.Endpoint)
	}
	if _, _, err := splitTable(c.Table); err != nil {
		return err
	}
	return nil
}

// splitTable splits "dataset.table".
func splitTable(id string) (dataset, table string, err error) {
	ds, t, ok := strings.Cut(id, ".")
	if !ok || !bqName.MatchString(ds) || !bqName.MatchString(t) {
		return "", "", fmt.Errorf("bqsink: table %q is not a BigQuery \"dataset.table\" ID", id)
	}
	return ds, t, nil
}

// ReplaceConfig configures ReplacePartitions.
type ReplaceConfig struct {
	Config
	// PartitionColumn is the table's day-partitioning column: a DATE
	// (e.g. "day") or a TIMESTAMP (e.g. "window_start", days in UTC).
	PartitionColumn string
	// Partitions are the days the run owns. After the run each of them
	// holds exactly the run's rows for it, and nothing else; an owned day
	// without rows ends up empty. Rows of other days are dead-lettered
	// (ReasonPartitionNotOwned), and other partitions are not touched.
	Partitions []civil.Date
	// OnEmulator selects the emulator variant of the commit: before the
	// commit script runs for real, it is run once as a dry run, which
	// goccy's emulator executes and rolls back. The emulator commits the
	// statements of a failed script that ran before the failing one (it
	// does not roll back on error), so the dry run is what keeps a failing
	// commit from emptying partitions there. Set it from
	// cliflags.BigQuery.OnEmulator(); never needed against BigQuery, which
	// rolls the transaction back itself.
	OnEmulator bool
	// StagingDataset holds the run's staging table; default Table's
	// dataset.
	StagingDataset string
	// StagingTTL is the staging table's expiration (default 48h), so that
	// the table of a run that died before its cleanup goes away on its
	// own. The emulator ignores expirations.
	StagingTTL time.Duration
}

func (c ReplaceConfig) validate() error {
	if err := c.Config.validate(); err != nil {
		return err
	}
	if !bqName.MatchString(c.PartitionColumn) {
		return fmt.Errorf("bqsink: partition column %q is not a column name", c.PartitionColumn)
	}
	if len(c.Partitions) == 0 {
		return errors.New("bqsink: ReplaceConfig.Partitions is empty: a replace must own at least one partition")
	}
	for _, d := range c.Partitions {
		if !d.IsValid() {
			return fmt.Errorf("bqsink: invalid partition date %v", d)
		}
	}
	if c.StagingDataset != "" && !bqName.MatchString(c.StagingDataset) {
		return fmt.Errorf("bqsink: staging dataset %q is not a dataset ID", c.StagingDataset)
	}
	return nil
}

// AppendConfig configures Append.
type AppendConfig struct {
	Config
}

func (c AppendConfig) validate() error { return c.Config.validate() }
