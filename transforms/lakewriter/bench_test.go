package lakewriter

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/transforms"
)

// genRawsFn emits a generator's lines as Raws at their event times, as the
// Pub/Sub source would, inside the pipeline.
type genRawsFn struct {
	Events int64 `json:"events"`
}

func (fn *genRawsFn) ProcessElement(_ []byte, emit func(beam.EventTime, transforms.Raw)) error {
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Hours = fn.Events, 6
	g, err := gen.New(cfg)
	if err != nil {
		return err
	}
	for r := range g.Records() {
		emit(beam.EventTime(r.PartitionTime().UnixMilli()), transforms.Raw{
			Source: "bench/" + strconv.FormatInt(r.Seq, 10), Payload: r.Line,
			Attributes: map[string]string{testAckAttr: strconv.FormatInt(r.Seq, 10)},
		})
	}
	return nil
}

func init() {
	register.DoFn2x1[[]byte, func(beam.EventTime, transforms.Raw), error](&genRawsFn{})
	register.Emitter2[beam.EventTime, transforms.Raw]()
}

// BenchmarkWrite measures the writer alone on prism (no Pub/Sub): lines
// per second into a local directory and into fake GCS. Events default to
// 100000 (RAILYARD_LAKEWRITER_BENCH_EVENTS overrides):
//
//	go test ./transforms/lakewriter -run '^$' -bench Write -benchtime 1x
func BenchmarkWrite(b *testing.B) {
	events := int64(100_000)
	if v := os.Getenv("RAILYARD_LAKEWRITER_BENCH_EVENTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		events = n
	}
	run := func(b *testing.B, root string) {
		for i := 0; i < b.N; i++ {
			p, s := beam.NewPipelineWithRoot()
			raws := beam.ParDo(s, &genRawsFn{Events: events}, beam.Impulse(s))
			Write(s, Config{Root: root + "/" + strconv.Itoa(i), Shards: 4, MaxEvents: 10_000, MaxAge: 10 * time.Second, AckIDAttribute: testAckAttr}, raws)
			start := time.Now()
			res, err := ptest.RunWithMetrics(p)
			if err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			if got := counter(b, res, MetricLinesWritten); got != events {
				b.Fatalf("wrote %d lines of %d", got, events)
			}
			b.ReportMetric(float64(events)/elapsed.Seconds(), "lines/s")
			b.ReportMetric(float64(counter(b, res, MetricFilesWritten)), "files")
		}
	}
	b.Run("local", func(b *testing.B) { run(b, b.TempDir()) })
	b.Run("gcs", func(b *testing.B) {
		stack := localstack.StartForTest(b, localstack.Options{GCS: true, Buckets: []string{"bench"}})
		stack.SetEnvForTest(b)
		run(b, "gs://bench/lake")
	})
}
