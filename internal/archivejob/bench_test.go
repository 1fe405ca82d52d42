package archivejob

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkArchive archives a backlog of generated events (default 100000;
// RAILYARD_ARCHIVE_BENCH_EVENTS overrides) from pstest into fake GCS on
// prism and reports messages per second, with and without the final
// --stop_after_idle wait:
//
//	go test ./internal/archivejob -run '^$' -bench Archive -benchtime 1x
func BenchmarkArchive(b *testing.B) {
	events := int64(100_000)
	if v := os.Getenv("RAILYARD_ARCHIVE_BENCH_EVENTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		events = n
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newArchiveEnv(b, 600)
		g := generator(b, events)
		for r := range g.Records() {
			e.stack.PubSubServer.Publish(e.topic, r.Line, r.Attributes())
		}
		cfg := e.config()
		cfg.Shards, cfg.MaxEvents, cfg.MaxBytes, cfg.MaxAge, cfg.StopAfterIdle = 4, 10_000, 64<<20, 10*time.Second, 2*time.Second
		var out bytes.Buffer
		b.StartTimer()
		rep, err := Run(context.Background(), cfg, &out)
		b.StopTimer()
		b.Logf("%s", out.String())
		if err != nil {
			b.Fatal(err)
		}
		if rep.Read != events || rep.LinesWritten != events {
			b.Fatalf("read %d, wrote %d of %d", rep.Read, rep.LinesWritten, events)
		}
		e.checkAllAcked(b, int(events))
		b.ReportMetric(float64(rep.Read)/rep.Elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(rep.Read)/(rep.Elapsed-cfg.StopAfterIdle).Seconds(), "msgs/s-excl-idle")
		b.ReportMetric(float64(rep.Files), "files")
	}
}
