package localstack_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/localstack"
)

// TestGCSWithEmulatorHostEnv uses the official client exactly as code that
// knows nothing about railyard would: storage.NewClient(ctx) with only
// STORAGE_EMULATOR_HOST set. Reads then go through the XML-API route,
// which only works because the public host is 127.0.0.1:<port>.
func TestGCSWithEmulatorHostEnv(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"lake"}})
	st.SetEnvForTest(t)
	if got := os.Getenv("STORAGE_EMULATOR_HOST"); got != st.GCSEndpoint {
		t.Fatalf("STORAGE_EMULATOR_HOST = %q, want %q", got, st.GCSEndpoint)
	}

	client, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	obj := client.Bucket("lake").Object("dt=2024-05-01/a.jsonl")
	w := obj.NewWriter(ctx)
	if _, err := io.WriteString(w, "hello lake\n"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := obj.NewReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "hello lake\n" {
		t.Fatalf("read %q, %v; want %q", b, err, "hello lake\n")
	}
	it := client.Bucket("lake").Objects(ctx, &storage.Query{Prefix: "dt=2024-05-01/"})
	a, err := it.Next()
	if err != nil || a.Name != "dt=2024-05-01/a.jsonl" || a.Size != int64(len("hello lake\n")) {
		t.Fatalf("list: %+v, %v", a, err)
	}
	if _, err := it.Next(); !errors.Is(err, iterator.Done) {
		t.Fatalf("list: more than one object: %v", err)
	}

	// The same download with another Host header (what "localhost" would
	// send) is not routed: the reason the public host must match exactly.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.GCSEndpoint+"/lake/dt=2024-05-01/a.jsonl", nil)
	req.Host = "localhost" + strings.TrimPrefix(st.GCSEndpoint, "http://127.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && string(body) == "hello lake\n" {
		t.Errorf("download with Host %s worked; expected fake-gcs-server to refuse it (public host check)", req.Host)
	}
}

// TestGCSBeamFilesystem writes, lists and reads through Beam's gs://
// filesystem, which builds its client with storage.NewClient(ctx) and so
// depends on STORAGE_EMULATOR_HOST.
func TestGCSBeamFilesystem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"lake"}})
	st.SetEnvForTest(t)

	fs, err := filesystem.New(ctx, "gs://lake/x")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	files := map[string]string{
		"gs://lake/game_events/dt=2024-05-01/hr=10/part-0.jsonl": "a\nb\n",
		"gs://lake/game_events/dt=2024-05-01/hr=11/part-0.jsonl": "c\n",
		"gs://lake/game_events/dt=2024-05-02/hr=00/part-0.jsonl": "d\n",
	}
	for name, body := range files {
		w, err := fs.OpenWrite(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("writing %s: %v", name, err)
		}
	}
	got, err := fs.List(ctx, "gs://lake/game_events/dt=2024-05-01/*/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"gs://lake/game_events/dt=2024-05-01/hr=10/part-0.jsonl",
		"gs://lake/game_events/dt=2024-05-01/hr=11/part-0.jsonl",
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("List = %v, want %v", got, want)
	}
	for name, body := range files {
		r, err := fs.OpenRead(ctx, name)
		if err != nil {
			t.Fatalf("OpenRead %s: %v", name, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(b) != body {
			t.Errorf("%s = %q, %v; want %q", name, b, err, body)
		}
		size, err := fs.Size(ctx, name)
		if err != nil || size != int64(len(body)) {
			t.Errorf("Size(%s) = %d, %v; want %d", name, size, err, len(body))
		}
	}
}

func TestSetEnvRestores(t *testing.T) {
	t.Setenv("PUBSUB_EMULATOR_HOST", "before:1")
	os.Unsetenv("STORAGE_EMULATOR_HOST")
	st := localstack.StartForTest(t, localstack.Options{PubSub: true, GCS: true})
	env := st.Env()
	want := []string{"PUBSUB_EMULATOR_HOST=" + st.PubSubEndpoint, "STORAGE_EMULATOR_HOST=" + st.GCSEndpoint}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("Env() = %v, want %v", env, want)
	}
	restore := st.SetEnv()
	if os.Getenv("PUBSUB_EMULATOR_HOST") != st.PubSubEndpoint || os.Getenv("STORAGE_EMULATOR_HOST") != st.GCSEndpoint {
		t.Errorf("SetEnv did not set the variables")
	}
	restore()
	if v := os.Getenv("PUBSUB_EMULATOR_HOST"); v != "before:1" {
		t.Errorf("restored PUBSUB_EMULATOR_HOST = %q, want before:1", v)
	}
	if v, ok := os.LookupEnv("STORAGE_EMULATOR_HOST"); ok {
		t.Errorf("restored STORAGE_EMULATOR_HOST = %q, want unset", v)
	}
	cfg := st.GCPConfig()
	if cfg.Project != localstack.DefaultProject || cfg.PubSubEndpoint != st.PubSubEndpoint || cfg.StorageEndpoint != st.GCSEndpoint || cfg.BigQueryEndpoint != "" {
		t.Errorf("GCPConfig() = %+v", cfg)
	}
}

func TestCloseStopsInProcessServers(t *testing.T) {
	st, err := localstack.Start(context.Background(), localstack.Options{PubSub: true, GCS: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	assertPortClosed(t, st.PubSubEndpoint)
	assertPortClosed(t, strings.TrimPrefix(st.GCSEndpoint, "http://"))
}
