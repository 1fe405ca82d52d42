package lakewriter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/klauspost/compress/gzip"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/testkit"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/lakeio"
)

// toRaw turns a test line "<id> <payload>" into a Raw as the Pub/Sub source
// makes it: Source names the message, the ack ID is an attribute.
func toRaw(line string) transforms.Raw {
	id, payload, _ := strings.Cut(line, " ")
	return transforms.Raw{
		Source:     "projects/p/subscriptions/s/messages/" + id,
		Payload:    []byte(payload),
		Attributes: map[string]string{testAckAttr: "ack-" + id, "origin": "test"},
	}
}

const testAckAttr = "test.ack_id"

func init() {
	register.Function1x1(toRaw)
	register.Function1x1(payloadOf)
}

var base = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(h, m int) time.Time {
	return base.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// input is one test message.
type input struct {
	ID      string
	Payload string
	Time    time.Time
}

func (in input) line() string { return in.ID + " " + in.Payload }

// event makes a valid input whose payload names its hour.
func event(id string, t time.Time) input {
	return input{ID: id, Time: t, Payload: fmt.Sprintf(`{"event_id":%q,"hour":%q}`, id, t.Format("2006-01-02T15"))}
}

func events(prefix string, n int, t time.Time) []input {
	out := make([]input, n)
	for i := range out {
		out[i] = event(fmt.Sprintf("%s-%02d", prefix, i), t)
	}
	return out
}

// step is one TestStream event: inputs at one time, or a watermark or
// processing-time advance.
type step struct {
	add       []input
	watermark time.Time
	procTime  time.Duration
}

type runOutput struct {
	files []File
	acks  []string
	dead  []schemas.DeadLetter
	res   beam.PipelineResult
}

// runWrite runs Write over a TestStream of steps and returns its outputs.
func runWrite(t *testing.T, cfg Config, steps []step) runOutput {
	t.Helper()
	ts := teststream.NewConfig()
	for _, st := range steps {
		switch {
		case len(st.add) > 0:
			var lines []any
			for _, in := range st.add {
				if !in.Time.Equal(st.add[0].Time) {
					t.Fatalf("a step's inputs share one time")
				}
				lines = append(lines, in.line())
			}
			if err := ts.AddElements(st.add[0].Time.UnixMilli(), lines...); err != nil {
				t.Fatal(err)
			}
		case !st.watermark.IsZero():
			if err := ts.AdvanceWatermark(st.watermark.UnixMilli()); err != nil {
				t.Fatal(err)
			}
		case st.procTime > 0:
			ts.AdvanceProcessingTime(st.procTime.Milliseconds())
		}
	}
	if err := ts.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	raws := beam.ParDo(s, toRaw, teststream.Create(s, ts))
	r := Write(s, cfg, raws)
	key := t.Name()
	testkit.Collect(s, key+"/files", r.Files)
	testkit.Collect(s, key+"/acks", r.AckIDs)
	testkit.Collect(s, key+"/dead", r.DeadLetters)
	res, err := ptest.RunWithMetrics(p)
	out := runOutput{
		files: testkit.Take[File](t, key+"/files"),
		acks:  testkit.Take[string](t, key+"/acks"),
		dead:  testkit.Take[schemas.DeadLetter](t, key+"/dead"),
		res:   res,
	}
	if err != nil {
		t.Fatalf("pipeline failed: %v", err)
	}
	return out
}

func counter(t testing.TB, res beam.PipelineResult, name string) int64 {
	t.Helper()
	q := res.Metrics().Query(func(r metrics.SingleResult) bool {
		return r.Namespace() == transforms.MetricsNamespace && r.Name() == name
	})
	var v int64
	for _, c := range q.Counters() {
		v += c.Result()
	}
	return v
}

// lakeFiles returns every file under root (local or gs://) with its stored
// bytes, by path.
func lakeFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if isGCS(root) {
		ctx := context.Background()
		c, err := storage.NewClient(ctx, option.WithoutAuthentication())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		bucket, prefix := splitGCS(root)
		it := c.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix + "/"})
		for {
			a, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Bucket(bucket).Object(a.Name).ReadCompressed(true).NewReader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			out["gs://"+bucket+"/"+a.Name] = b
		}
		return out
	}
	err := filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gunzipLines(t *testing.T, path string, b []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	content, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(content) == 0 || content[len(content)-1] != '\n' {
		t.Fatalf("%s: contents do not end with a newline", path)
	}
	return strings.Split(string(content[:len(content)-1]), "\n")
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func payloads(ins []input) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.Payload)
	}
	return out
}

// checkLake checks the lake under root against the valid inputs: every
// line is there exactly as often as it was sent, in its hour's partition,
// and the Files output describes exactly the files there. It returns the
// lines of each game_events file by path.
func checkLake(t *testing.T, root string, out runOutput, valid []input) map[string][]string {
	t.Helper()
	stored := lakeFiles(t, root)
	byPath := map[string][]string{}
	var all []string
	for path, b := range stored {
		name := path[strings.LastIndexAny(path, "/\\")+1:]
		if strings.HasPrefix(name, ".") {
			t.Errorf("temporary file left behind: %s", path)
			continue
		}
		if !strings.Contains(filepath.ToSlash(path), "/game_events/") {
			continue
		}
		lines := gunzipLines(t, path, b)
		byPath[path] = lines
		all = append(all, lines...)
		for _, l := range lines {
			var e struct{ Hour string }
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%s: line %q: %v", path, l, err)
			}
			h, _ := time.Parse("2006-01-02T15", e.Hour)
			if want := "/game_events/" + fmt.Sprintf("dt=%s/hr=%02d/", h.Format(time.DateOnly), h.Hour()); !strings.Contains(filepath.ToSlash(path), want) {
				t.Errorf("%s holds %s, which belongs under %s", path, l, want)
			}
		}
	}
	if got, want := sorted(all), sorted(payloads(valid)); !slices.Equal(got, want) {
		t.Errorf("lake lines differ from the input:\n got %q\nwant %q", got, want)
	}
	reported := map[string]File{}
	for _, f := range out.files {
		if f.Dataset != "game_events" {
			continue
		}
		if _, dup := reported[f.Path]; dup {
			t.Errorf("file %s reported twice", f.Path)
		}
		reported[f.Path] = f
		if lines, ok := byPath[f.Path]; !ok {
			t.Errorf("reported file %s is not in the lake", f.Path)
		} else if int64(len(lines)) != f.Lines || int64(len(stored[f.Path])) != f.Bytes || f.Existed {
			t.Errorf("file %+v: the lake holds %d lines, %d bytes", f, len(lines), len(stored[f.Path]))
		}
	}
	if len(reported) != len(byPath) {
		t.Errorf("%d files reported, %d in the lake", len(reported), len(byPath))
	}
	return byPath
}

func testAcks(ins ...[]input) []string {
	var out []string
	for _, s := range ins {
		for _, in := range s {
			out = append(out, "ack-"+in.ID)
		}
	}
	return sorted(out)
}

// TestWriteLocal: several hours, a pane rolled into several files by
// count, late events after the watermark passed their hour (a new file in
// their own hour, the first file untouched), inputs that cannot be a line
// dead-lettered, ack IDs released for everything; then a second run into
// the same lake adds files and changes none.
func TestWriteLocal(t *testing.T) {
	start := time.Now().UTC()
	root := t.TempDir()
	cfg := Config{Root: root, Shards: 1, MaxEvents: 4, MaxAge: time.Minute, AckIDAttribute: testAckAttr, Pipeline: "test", RunID: "r1"}
	hour9 := events("h9", 10, at(9, 10))
	early10 := events("h10", 4, at(10, 5))
	hour11 := events("h11", 2, at(11, 30))
	late10 := events("late10", 3, at(10, 20))
	bad := []input{
		{ID: "bad-empty", Payload: "", Time: at(11, 0)},
		{ID: "bad-nl", Payload: "{\"a\":1}\n{\"b\":2}", Time: at(11, 0)},
		{ID: "bad-cr", Payload: "{\"a\":1}\r", Time: at(11, 0)},
		{ID: "bad-bom", Payload: "\ufeff{\"a\":1}", Time: at(11, 0)},
	}
	future := input{ID: "bad-year", Payload: `{"year":10000}`, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	out := runWrite(t, cfg, []step{
		{watermark: at(9, 0)},
		{add: hour9},
		{add: early10},
		{add: hour11},
		{watermark: at(12, 30)},
		{add: late10}, // behind the watermark: late
		{add: bad},
		{add: []input{future}},
		{procTime: 2 * time.Minute},
	})
	valid := slices.Concat(hour9, early10, hour11, late10)
	byPath := checkLake(t, root, out, valid)

	// Rolling by count: no file over MaxEvents lines; hour 9 needed three.
	hourFiles := map[string][]File{}
	for _, f := range out.files {
		if f.Lines > 4 {
			t.Errorf("%s has %d lines, more than MaxEvents 4", f.Path, f.Lines)
		}
		hourFiles[f.Dataset+"/"+f.Partition] = append(hourFiles[f.Dataset+"/"+f.Partition], f)
	}
	if n := len(hourFiles["game_events/dt=2026-11-01/hr=09"]); n < 3 {
		t.Errorf("hour 9 (10 lines, MaxEvents 4) has %d files, want at least 3", n)
	}
	// The late events are a later pane of hour 10: new files, and the
	// first pane's file holds exactly the on-time events.
	var pane0, later []string
	for _, f := range hourFiles["game_events/dt=2026-11-01/hr=10"] {
		if f.Pane == 0 {
			pane0 = append(pane0, byPath[f.Path]...)
		} else {
			later = append(later, byPath[f.Path]...)
		}
		if !strings.Contains(f.Path, fmt.Sprintf("-p%d-s0-", f.Pane)) {
			t.Errorf("%s does not name its pane %d and shard 0", f.Path, f.Pane)
		}
	}
	if !slices.Equal(sorted(pane0), sorted(payloads(early10))) || !slices.Equal(sorted(later), sorted(payloads(late10))) {
		t.Errorf("hour 10: first pane holds %q, later panes %q; want the on-time events, then the late ones", pane0, later)
	}

	// Dead letters: in the lake's _dead_letters dataset and on the output,
	// payload and attributes kept, the ack ID not.
	wantReasons := map[string]string{
		"bad-empty": ReasonEmptyPayload, "bad-nl": ReasonLineBreak, "bad-cr": ReasonLineBreak,
		"bad-bom": ReasonByteOrderMark, "bad-year": ReasonEventTimeOutOfRange,
	}
	sent := map[string]string{}
	for _, in := range append(slices.Clone(bad), future) {
		sent["projects/p/subscriptions/s/messages/"+in.ID] = in.Payload
	}
	var stored []schemas.DeadLetter
	for path, b := range lakeFiles(t, root) {
		if !strings.Contains(filepath.ToSlash(path), "/_dead_letters/") {
			continue
		}
		for _, l := range gunzipLines(t, path, b) {
			var d schemas.DeadLetter
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			stored = append(stored, d)
			wantDir := "/_dead_letters/dt=2026-11-01/hr=11/"
			if d.Reason == ReasonEventTimeOutOfRange {
				// Filed under the time it was written: the test's day, or
				// the next one when the test crosses midnight UTC.
				wantDir = "/_dead_letters/dt=" + start.Format(time.DateOnly) + "/"
				if end := time.Now().UTC().Format(time.DateOnly); strings.Contains(filepath.ToSlash(path), "/_dead_letters/dt="+end+"/") {
					wantDir = "/_dead_letters/dt=" + end + "/"
				}
			}
			if !strings.Contains(filepath.ToSlash(path), wantDir) {
				t.Errorf("dead letter %s (%s) is in %s, want under %s", d.Source, d.Reason, path, wantDir)
			}
		}
	}
	for name, got := range map[string][]schemas.DeadLetter{"stored": stored, "output": out.dead} {
		if len(got) != len(wantReasons) {
			t.Errorf("%s dead letters: %d, want %d", name, len(got), len(wantReasons))
		}
		for _, d := range got {
			id := strings.TrimPrefix(d.Source, "projects/p/subscriptions/s/messages/")
			if d.Reason != wantReasons[id] || string(d.Payload) != sent[d.Source] || d.Attributes != `{"origin":"test"}` ||
				d.Stage != StageLakeWrite || d.Pipeline != "test" || d.RunID != "r1" || d.Detail == "" {
				t.Errorf("%s dead letter %+v: want reason %s, payload %q, attributes without the ack ID", name, d, wantReasons[id], sent[d.Source])
			}
		}
	}

	// Every message's ack ID, each once, after its line or dead letter.
	if got, want := sorted(out.acks), testAcks(valid, bad, []input{future}); !slices.Equal(got, want) {
		t.Errorf("ack IDs:\n got %q\nwant %q", got, want)
	}
	for name, want := range map[string]int64{
		MetricLinesReceived: int64(len(valid) + len(bad) + 1), MetricLinesRejected: int64(len(bad) + 1),
		MetricLinesWritten: int64(len(valid)), MetricDeadLettersWritten: int64(len(bad) + 1),
		MetricFilesWritten: int64(len(byPath)), MetricFilesExisting: 0,
	} {
		if got := counter(t, out.res, name); got != want {
			t.Errorf("metric %s = %d, want %d", name, got, want)
		}
	}
	var bytesTotal int64
	for _, f := range out.files {
		if f.Dataset == "game_events" {
			bytesTotal += f.Bytes
		}
	}
	if got := counter(t, out.res, MetricBytesWritten); got != bytesTotal {
		t.Errorf("metric %s = %d, want %d", MetricBytesWritten, got, bytesTotal)
	}

	// A second run into the same lake (pane indexes start again at 0):
	// new files next to the old ones, none of which changes.
	before := lakeFiles(t, root)
	more10 := events("more10", 4, at(10, 40))
	out2 := runWrite(t, cfg, []step{{watermark: at(10, 0)}, {add: more10}, {procTime: 2 * time.Minute}})
	after := lakeFiles(t, root)
	for path, b := range before {
		if !bytes.Equal(after[path], b) {
			t.Errorf("%s changed or vanished in the second run", path)
		}
	}
	if len(after) != len(before)+len(out2.files) || len(out2.files) == 0 {
		t.Errorf("second run: %d files before, %d after, %d reported", len(before), len(after), len(out2.files))
	}
	for _, f := range out2.files {
		if _, old := before[f.Path]; old || f.Partition != "dt=2026-11-01/hr=10" {
			t.Errorf("second run wrote %+v", f)
		}
	}
	checkLake(t, root, runOutput{files: append(slices.Clone(out.files), out2.files...)}, append(valid, more10...))
}

// TestWriteGCS: the same on fake-gcs-server, several shards, rolling by
// bytes; the files read back through the lake reader.
func TestWriteGCS(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"lake-w"}})
	stack.SetEnvForTest(t)
	root := "gs://lake-w/archive"
	if err := CheckRoot(context.Background(), root); err != nil {
		t.Fatal(err)
	}
	if err := CheckRoot(context.Background(), "gs://no-such-bucket/x"); err == nil || !strings.Contains(err.Error(), `no bucket "no-such-bucket"`) {
		t.Errorf("CheckRoot of a missing bucket: %v", err)
	}
	// Lines are about 50 bytes: 200 bytes hold 3 or 4 of them.
	cfg := Config{Root: root, Shards: 3, MaxEvents: 1000, MaxBytes: 200, MaxAge: 30 * time.Second, AckIDAttribute: testAckAttr}
	h3 := events("h3", 40, at(3, 0))
	h4 := events("h4", 25, at(4, 59))
	late3 := events("late3", 7, at(3, 30))
	out := runWrite(t, cfg, []step{
		{add: h3}, {add: h4}, {watermark: at(5, 0)}, {procTime: time.Minute}, {add: late3}, {procTime: time.Minute},
	})
	valid := slices.Concat(h3, h4, late3)
	byPath := checkLake(t, root, out, valid)
	shards := map[int]bool{}
	for _, f := range out.files {
		shards[f.Shard] = true
		size := 0
		for _, l := range byPath[f.Path] {
			size += len(l) + 1
		}
		if size > 200 {
			t.Errorf("%s holds %d uncompressed bytes, more than MaxBytes 200", f.Path, size)
		}
	}
	if len(shards) != 3 {
		t.Errorf("files came from shards %v, want 0, 1 and 2", slices.Sorted(maps.Keys(shards)))
	}
	if got, want := sorted(out.acks), testAcks(valid); !slices.Equal(got, want) {
		t.Errorf("ack IDs:\n got %q\nwant %q", got, want)
	}

	// The batch layer's reader gives back exactly the lines sent.
	p, s := beam.NewPipelineWithRoot()
	raws := lakeio.Read(s, root, []civil.Date{{Year: 2026, Month: 11, Day: 1}})
	testkit.Collect(s, t.Name()+"/read", beam.ParDo(s, payloadOf, raws))
	if _, err := ptest.RunWithMetrics(p); err != nil {
		t.Fatalf("reading the lake back: %v", err)
	}
	if got, want := sorted(testkit.Take[string](t, t.Name()+"/read")), sorted(payloads(valid)); !slices.Equal(got, want) {
		t.Errorf("lakeio read back:\n got %q\nwant %q", got, want)
	}
}

func payloadOf(r transforms.Raw) string { return string(r.Payload) }

// TestStoreNeverReplaces: creating an existing name, with the same or
// other contents, writes nothing and reports it, locally and on GCS.
func TestStoreNeverReplaces(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"b"}})
	stack.SetEnvForTest(t)
	ctx := context.Background()
	for _, root := range []string{t.TempDir(), "gs://b/lake"} {
		st, err := openStore(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		rel := "game_events/dt=2026-11-01/hr=00/part-x.jsonl.gz"
		path, existed, err := st.create(ctx, rel, []byte("first"))
		if err != nil || existed {
			t.Fatalf("%s: first create: existed %v, %v", root, existed, err)
		}
		for _, data := range []string{"first", "second"} {
			p2, existed, err := st.create(ctx, rel, []byte(data))
			if err != nil || !existed || p2 != path {
				t.Errorf("%s: create over an existing file with %q: path %s, existed %v, %v", root, data, p2, existed, err)
			}
		}
		if got := lakeFiles(t, root); len(got) != 1 || string(got[path]) != "first" {
			t.Errorf("%s: after creating the same name three times the root holds %q", root, got)
		}
		if err := st.close(); err != nil {
			t.Error(err)
		}
	}
}

func TestChunks(t *testing.T) {
	fn := &writeFn{MaxEvents: 3, MaxBytes: 10}
	mk := func(sizes ...int) []pending {
		var ps []pending
		for _, n := range sizes {
			ps = append(ps, pending{Line: bytes.Repeat([]byte("x"), n)})
		}
		return ps
	}
	shape := func(cs [][]pending) string {
		var parts []string
		for _, c := range cs {
			var sizes []string
			for _, p := range c {
				sizes = append(sizes, fmt.Sprint(len(p.Line)))
			}
			parts = append(parts, strings.Join(sizes, ","))
		}
		return strings.Join(parts, " | ")
	}
	for in, want := range map[string]string{
		"1,1,1,1,1,1,1": "1,1,1 | 1,1,1 | 1", // by count
		"4,4,4":         "4,4 | 4",           // by bytes: 5+5 ≤ 10 < 15
		"20,1,30":       "20 | 1 | 30",       // a line over MaxBytes alone
		"9":             "9",
		"":              "",
	} {
		var sizes []int
		for _, f := range strings.Split(in, ",") {
			if f != "" {
				var n int
				fmt.Sscan(f, &n)
				sizes = append(sizes, n)
			}
		}
		if got := shape(fn.chunks(mk(sizes...))); got != want {
			t.Errorf("chunks(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "lake root is empty"},
		{Config{Root: "s3://b/x"}, "only local directories and gs://"},
		{Config{Root: "/x", Dataset: "a/b"}, `dataset "a/b"`},
		{Config{Root: "/x", Dataset: "_dead_letters"}, "both"},
		{Config{Root: "/x", Shards: -1}, "shards -1"},
		{Config{Root: "/x", MaxEvents: -5}, "max events -5"},
		{Config{Root: "/x", MaxAge: time.Microsecond}, "max age"},
		{Config{Root: "/x", GzipLevel: 11}, "gzip level 11"},
	} {
		_, s := beam.NewPipelineWithRoot()
		_, err := TryWrite(s, c.cfg, beam.Create(s, transforms.Raw{}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("TryWrite(%+v) = %v, want an error with %q", c.cfg, err, c.want)
		}
	}
}
