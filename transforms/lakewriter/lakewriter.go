package lakewriter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms"
)

// Defaults of Config.
const (
	DefaultShards    = 4
	DefaultMaxEvents = 100_000
	// DefaultMaxBytes bounds a file's uncompressed contents.
	DefaultMaxBytes int64 = 64 << 20
	DefaultMaxAge         = time.Minute
	// DefaultDeadLetterDataset is where inputs that cannot be a line go.
	DefaultDeadLetterDataset = "_dead_letters"
)

// StageLakeWrite is the dead-letter stage of Write.
const StageLakeWrite = "lake_write"

// Dead-letter reasons of Write: inputs that a lake reader could not give
// back unchanged as one line.
const (
	ReasonEmptyPayload        = "empty_payload"
	ReasonLineBreak           = "payload_has_line_break"
	ReasonByteOrderMark       = "payload_starts_with_bom"
	ReasonEventTimeOutOfRange = "event_time_unpartitionable"
)

// Metric names (namespace transforms.MetricsNamespace). After a bounded run
// MetricLinesReceived = MetricLinesWritten + MetricDeadLettersWritten.
const (
	MetricLinesReceived          = "lake_lines_received"
	MetricLinesRejected          = "lake_lines_rejected"
	MetricFilesWritten           = "lake_files_written"
	MetricLinesWritten           = "lake_lines_written"
	MetricBytesWritten           = "lake_bytes_written"
	MetricFilesExisting          = "lake_files_existing"
	MetricDeadLetterFilesWritten = "lake_dead_letter_files_written"
	MetricDeadLettersWritten     = "lake_dead_letters_written"
)

// Config configures Write. Zero fields take the defaults.
type Config struct {
	// Root is the lake root: a local directory (created as needed) or
	// gs://bucket[/prefix] (the bucket must exist).
	Root string
	// Dataset is the lake dataset written, the directory under Root
	// (default catalog.LakeGameEvents).
	Dataset string
	// DeadLetterDataset is the directory under Root that receives the dead
	// letters of inputs that cannot be written as a line (default
	// DefaultDeadLetterDataset).
	DeadLetterDataset string
	// Shards is the number of keys each hour is spread over: the files of
	// an hour written in parallel per pane (default DefaultShards).
	Shards int
	// MaxEvents is the count trigger of a pane and the most lines in one
	// file (default DefaultMaxEvents).
	MaxEvents int
	// MaxBytes is the most uncompressed bytes (lines and their newlines) in
	// one file (default DefaultMaxBytes).
	MaxBytes int64
	// MaxAge is the processing-time trigger: a pane fires at the latest
	// MaxAge after its first line arrived (default DefaultMaxAge). With
	// AckIDAttribute it must stay well below the subscription's ack
	// deadline, or messages are redelivered, and written again, before
	// their file is written.
	MaxAge time.Duration
	// AckIDAttribute, if set, names the input attribute that holds a
	// message's ack ID; Result.AckIDs gets it once the line is durable.
	AckIDAttribute string
	// GzipLevel is the gzip level, 1 (fastest) to 9 (default 6).
	GzipLevel int
	// Pipeline and RunID label the dead letters.
	Pipeline string
	RunID    string
}

func (c Config) withDefaults() Config {
	if c.Dataset == "" {
		c.Dataset = catalog.LakeGameEvents
	}
	if c.DeadLetterDataset == "" {
		c.DeadLetterDataset = DefaultDeadLetterDataset
	}
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.GzipLevel == 0 {
		c.GzipLevel = 6
	}
	return c
}

// Validate reports what Write would reject in c (defaults applied), for
// launchers that check their flags before building a pipeline.
func (c Config) Validate() error {
	_, err := c.withDefaults().validate()
	return err
}

var datasetName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// validate checks a config with defaults applied and returns it with a
// clean root.
func (c Config) validate() (Config, error) {
	var errs []error
	root, err := cleanRoot(c.Root)
	if err != nil {
		errs = append(errs, err)
	}
	c.Root = root
	for _, d := range []string{c.Dataset, c.DeadLetterDataset} {
		if !datasetName.MatchString(d) {
			errs = append(errs, fmt.Errorf("lakewriter: dataset %q: want letters, digits, '_', '.', '-' (one directory name)", d))
		}
	}
	if c.Dataset == c.DeadLetterDataset {
		errs = append(errs, fmt.Errorf("lakewriter: the dataset and the dead-letter dataset are both %q", c.Dataset))
	}
	if c.Shards < 1 || c.Shards > 10_000 {
		errs = append(errs, fmt.Errorf("lakewriter: shards %d: want 1..10000", c.Shards))
	}
	if c.MaxEvents < 1 || c.MaxEvents > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("lakewriter: max events %d: want 1..%d", c.MaxEvents, math.MaxInt32))
	}
	if c.MaxBytes < 1 {
		errs = append(errs, fmt.Errorf("lakewriter: max bytes %d: want at least 1", c.MaxBytes))
	}
	if c.MaxAge < time.Millisecond {
		errs = append(errs, fmt.Errorf("lakewriter: max age %v: want at least 1ms", c.MaxAge))
	}
	if c.GzipLevel < 1 || c.GzipLevel > 9 {
		errs = append(errs, fmt.Errorf("lakewriter: gzip level %d: want 1..9", c.GzipLevel))
	}
	return c, errors.Join(errs...)
}

// File is one file Write wrote.
type File struct {
	// Path is the file's full path or gs:// URL.
	Path string `beam:"path"`
	// Dataset is the lake dataset (or the dead-letter dataset) it is in.
	Dataset string `beam:"dataset"`
	// DeadLetters is true for a file of the dead-letter dataset.
	DeadLetters bool `beam:"dead_letters"`
	// Partition is the hour partition, "dt=YYYY-MM-DD/hr=HH".
	Partition string `beam:"partition"`
	// Shard and Pane say which key and firing the lines came from.
	Shard int   `beam:"shard"`
	Pane  int64 `beam:"pane"`
	// Lines is the number of lines; Bytes the stored (gzip) size.
	Lines int64 `beam:"lines"`
	Bytes int64 `beam:"bytes"`
	// Existed is true when the file was already there with the same
	// contents (a retried bundle or a restarted job): nothing was written.
	Existed bool `beam:"existed"`
}

// Result is what Write produces. All three are in the global window, fired
// with the write's trigger.
type Result struct {
	// Files gets every file once it is durable (PCollection<File>),
	// dead-letter files included (Dataset tells them apart).
	Files beam.PCollection
	// AckIDs gets the ack ID of each input (Config.AckIDAttribute) once
	// its line or its dead letter is durable (PCollection<string>).
	AckIDs beam.PCollection
	// DeadLetters gets each rejected input's dead letter once it is
	// durable in the dead-letter dataset (PCollection<schemas.DeadLetter>).
	DeadLetters beam.PCollection
}

// Write writes lines, a PCollection<transforms.Raw> whose timestamps are
// event times, into the lake (see the package doc). It panics on a config
// TryWrite rejects.
func Write(s beam.Scope, cfg Config, lines beam.PCollection) Result {
	r, err := TryWrite(s, cfg, lines)
	if err != nil {
		panic(err)
	}
	return r
}

// TryWrite is Write returning an invalid config as an error.
func TryWrite(s beam.Scope, cfg Config, lines beam.PCollection) (Result, error) {
	c, err := cfg.withDefaults().validate()
	if err != nil {
		return Result{}, err
	}
	s = s.Scope("lakewriter.Write(" + c.Dataset + ")")
	keyed := beam.ParDo(s, &keyFn{
		Dataset: c.Dataset, DeadLetterDataset: c.DeadLetterDataset, Shards: c.Shards,
		AckIDAttribute: c.AckIDAttribute, Pipeline: c.Pipeline, RunID: c.RunID,
	}, lines)
	keyed = beam.WindowInto(s, window.NewGlobalWindows(), keyed,
		beam.Trigger(trigger.Repeat(trigger.AfterAny([]trigger.Trigger{
			trigger.AfterCount(int32(c.MaxEvents)),
			trigger.AfterProcessingTime().PlusDelay(c.MaxAge),
		}))),
		beam.PanesDiscard())
	files, acks, dead := beam.ParDo3(s, &writeFn{
		Root: c.Root, MaxEvents: c.MaxEvents, MaxBytes: c.MaxBytes, GzipLevel: c.GzipLevel,
		DeadLetterDataset: c.DeadLetterDataset,
	}, beam.GroupByKey(s, keyed))
	beam.ParDo0(s, countFiles, beam.GroupByKey(s, beam.AddFixedKey(s, files)))
	return Result{Files: files, AckIDs: acks, DeadLetters: dead}, nil
}

// pending is one line on its way to a file, with the ack ID to release
// once it is there.
type pending struct {
	Line  []byte `beam:"line"`
	AckID string `beam:"ack_id"`
}

// groupKey is the key lines are grouped by: which dataset, hour and shard.
type groupKey struct {
	Dataset string
	Hour    time.Time
	Shard   int
}

// String encodes the key as "<dataset>|<unix seconds of the hour>|<shard>"
// (dataset names cannot contain '|').
func (k groupKey) String() string {
	return k.Dataset + "|" + strconv.FormatInt(k.Hour.Unix(), 10) + "|" + strconv.Itoa(k.Shard)
}

func parseGroupKey(s string) (groupKey, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 {
		return groupKey{}, fmt.Errorf("lakewriter: bad group key %q", s)
	}
	sec, err1 := strconv.ParseInt(parts[1], 10, 64)
	shard, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil {
		return groupKey{}, fmt.Errorf("lakewriter: bad group key %q", s)
	}
	return groupKey{Dataset: parts[0], Hour: time.Unix(sec, 0).UTC(), Shard: shard}, nil
}

var (
	linesReceived = beam.NewCounter(transforms.MetricsNamespace, MetricLinesReceived)
	linesRejected = beam.NewCounter(transforms.MetricsNamespace, MetricLinesRejected)
)

// keyFn keys each input by its hour partition and shard, or turns it into
// a dead letter keyed the same way in the dead-letter dataset.
type keyFn struct {
	Dataset           string `json:"dataset"`
	DeadLetterDataset string `json:"dead_letter_dataset"`
	Shards            int    `json:"shards"`
	AckIDAttribute    string `json:"ack_id_attribute"`
	Pipeline          string `json:"pipeline"`
	RunID             string `json:"run_id"`
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func (fn *keyFn) ProcessElement(ctx context.Context, ts beam.EventTime, r transforms.Raw, emit func(string, pending)) error {
	linesReceived.Inc(ctx, 1)
	ackID := ""
	if fn.AckIDAttribute != "" {
		ackID = r.Attributes[fn.AckIDAttribute]
	}
	eventTime := ts.ToTime().UTC()
	reason, detail := "", ""
	switch {
	case eventTime.Year() < 1 || eventTime.Year() > 9999:
		reason, detail = ReasonEventTimeOutOfRange, fmt.Sprintf("event time %s has no dt=YYYY-MM-DD partition (years 0001-9999)", eventTime.Format(time.RFC3339Nano))
	case len(r.Payload) == 0:
		reason, detail = ReasonEmptyPayload, "an empty payload would be an empty line, which lake readers skip"
	case bytes.ContainsAny(r.Payload, "\r\n"):
		i := bytes.IndexAny(r.Payload, "\r\n")
		reason, detail = ReasonLineBreak, fmt.Sprintf("payload has a line break (%q at byte %d): it cannot be one line of a JSON-lines file unchanged", r.Payload[i], i)
	case bytes.HasPrefix(r.Payload, utf8BOM):
		reason, detail = ReasonByteOrderMark, "payload starts with a UTF-8 byte order mark, which lake readers strip at the start of a file"
	}
	if reason == "" {
		emit(groupKey{Dataset: fn.Dataset, Hour: eventTime.Truncate(time.Hour), Shard: shardOf(r, fn.Shards)}.String(),
			pending{Line: r.Payload, AckID: ackID})
		return nil
	}
	linesRejected.Inc(ctx, 1)
	now := time.Now().UTC()
	attrs := r.Attributes
	if _, ok := attrs[fn.AckIDAttribute]; ok && fn.AckIDAttribute != "" {
		// An ack ID means nothing once the message is acked: not kept.
		attrs = make(map[string]string, len(r.Attributes))
		for k, v := range r.Attributes {
			if k != fn.AckIDAttribute {
				attrs[k] = v
			}
		}
	}
	d := schemas.DeadLetter{
		Time: now, Pipeline: fn.Pipeline, RunID: fn.RunID, Stage: StageLakeWrite,
		Reason: reason, Detail: detail, Source: r.Source, Payload: r.Payload,
		Attributes: transforms.AttributesJSON(attrs),
	}
	line, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("lakewriter: encoding the dead letter of %s: %w", r.Source, err)
	}
	hour := eventTime
	if reason == ReasonEventTimeOutOfRange {
		hour = now
	}
	emit(groupKey{Dataset: fn.DeadLetterDataset, Hour: hour.Truncate(time.Hour), Shard: shardOf(r, fn.Shards)}.String(),
		pending{Line: line, AckID: ackID})
	return nil
}

// shardOf spreads inputs over shards by what identifies them, so that a
// redelivered message goes to the same shard.
func shardOf(r transforms.Raw, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	if r.Source != "" {
		h.Write([]byte(r.Source))
	} else {
		h.Write(r.Payload)
	}
	return int(h.Sum32() % uint32(n))
}

func init() {
	beam.RegisterType(reflect.TypeOf((*pending)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*File)(nil)).Elem())
	register.DoFn4x1[context.Context, beam.EventTime, transforms.Raw, func(string, pending), error](&keyFn{})
	register.Emitter2[string, pending]()
}
