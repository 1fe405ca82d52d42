package gcpclient_test

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/internal/localstack"
)

func TestStorageJSONEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4443":               "http://127.0.0.1:4443/storage/v1/",
		"http://127.0.0.1:4443/":              "http://127.0.0.1:4443/storage/v1/",
		"127.0.0.1:4443":                      "http://127.0.0.1:4443/storage/v1/",
		"http://127.0.0.1:4443/storage/v1":    "http://127.0.0.1:4443/storage/v1/",
		"https://gcs.example:443/storage/v1/": "https://gcs.example:443/storage/v1/",
	} {
		got, err := gcpclient.StorageJSONEndpoint(in)
		if err != nil || got != want {
			t.Errorf("StorageJSONEndpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x:1", "http://"} {
		if got, err := gcpclient.StorageJSONEndpoint(bad); err == nil {
			t.Errorf("StorageJSONEndpoint(%q) = %q, want an error", bad, got)
		}
	}
}

func TestEmulatorEndpointNeedsProject(t *testing.T) {
	ctx := context.Background()
	c := gcpclient.Config{BigQueryEndpoint: "http://127.0.0.1:1", PubSubEndpoint: "127.0.0.1:1"}
	if _, err := c.BigQuery(ctx); err == nil || !strings.Contains(err.Error(), "needs a project") {
		t.Errorf("BigQuery without project: err = %v", err)
	}
	if _, err := c.PubSub(ctx); err == nil || !strings.Contains(err.Error(), "needs a project") {
		t.Errorf("PubSub without project: err = %v", err)
	}
}

// TestPubSubPublishPull publishes through a gcpclient Pub/Sub client to
// pstest and pulls the messages back.
func TestPubSubPublishPull(t *testing.T) {
	// The explicit endpoint must not depend on the environment variable.
	t.Setenv(localstack.EnvPubSubEmulatorHost, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := localstack.StartForTest(t, localstack.Options{PubSub: true})
	client, err := st.GCPConfig().PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	topic := "projects/" + st.Project + "/topics/game-events"
	sub := "projects/" + st.Project + "/subscriptions/speed"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}

	pub := client.Publisher("game-events")
	want := map[string]string{}
	for i, user := range []string{"alice", "bob", "carol"} {
		data := `{"user":"` + user + `","score":` + string(rune('1'+i)) + `}`
		want[data] = user
		if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte(data), Attributes: map[string]string{"user": user}}).Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pub.Stop()

	var mu sync.Mutex
	got := map[string]string{}
	rctx, rcancel := context.WithCancel(ctx)
	err = client.Subscriber("speed").Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		defer mu.Unlock()
		got[string(m.Data)] = m.Attributes["user"]
		m.Ack()
		if len(got) == len(want) {
			rcancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("received %d messages, want %d: %v", len(got), len(want), got)
	}
	for data, user := range want {
		if got[data] != user {
			t.Errorf("message %s: attribute user = %q, want %q", data, got[data], user)
		}
	}
}

// TestStorageWriteListRead writes, lists and reads objects on
// fake-gcs-server through a gcpclient Storage client with an explicit
// endpoint (and no STORAGE_EMULATOR_HOST).
func TestStorageWriteListRead(t *testing.T) {
	t.Setenv(localstack.EnvStorageEmulatorHost, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"lake"}})
	client, err := st.GCPConfig().Storage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	objs := map[string]string{
		"game_events/dt=2024-05-01/hr=10/part-0.jsonl": `{"user":"alice","score":3}` + "\n",
		"game_events/dt=2024-05-01/hr=11/part-0.jsonl": `{"user":"bob","score":5}` + "\n",
		"other/readme.txt": "not listed",
	}
	for name, body := range objs {
		w := client.Bucket("lake").Object(name).NewWriter(ctx)
		w.ContentType = "application/x-ndjson"
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("writing %s: %v", name, err)
		}
	}

	var listed []string
	it := client.Bucket("lake").Objects(ctx, &storage.Query{Prefix: "game_events/dt=2024-05-01/"})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, a.Name)
	}
	sort.Strings(listed)
	wantList := []string{"game_events/dt=2024-05-01/hr=10/part-0.jsonl", "game_events/dt=2024-05-01/hr=11/part-0.jsonl"}
	if strings.Join(listed, ",") != strings.Join(wantList, ",") {
		t.Errorf("listed %v, want %v", listed, wantList)
	}

	for name, body := range objs {
		r, err := client.Bucket("lake").Object(name).NewReader(ctx)
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != body {
			t.Errorf("%s = %q, want %q", name, b, body)
		}
	}
	// Range read.
	r, err := client.Bucket("lake").Object("other/readme.txt").NewRangeReader(ctx, 4, 6)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "listed" {
		t.Errorf("range read = %q, want %q", b, "listed")
	}
	// DoesNotExist precondition.
	w := client.Bucket("lake").Object("other/readme.txt").If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	_, _ = io.WriteString(w, "overwrite")
	if err := w.Close(); err == nil {
		t.Errorf("DoesNotExist precondition on an existing object: no error")
	}
}

type scoreRow struct {
	User      string
	Team      string
	Score     int64
	EventDate civil.Date
}

// TestBigQueryInsertQuery creates a dataset and a table on the BigQuery
// emulator through a gcpclient BigQuery client, inserts rows with the
// Inserter (insertAll) and queries them back.
func TestBigQueryInsertQuery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	client, err := st.GCPConfig().BigQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	ds := client.Dataset("gaming")
	if err := ds.Create(ctx, &bigquery.DatasetMetadata{Description: "test"}); err != nil {
		t.Fatal(err)
	}
	schema := bigquery.Schema{
		{Name: "user", Type: bigquery.StringFieldType, Required: true},
		{Name: "team", Type: bigquery.StringFieldType},
		{Name: "score", Type: bigquery.IntegerFieldType},
		{Name: "event_date", Type: bigquery.DateFieldType},
	}
	tbl := ds.Table("user_scores")
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	d := civil.Date{Year: 2024, Month: 5, Day: 1}
	rows := []*bigquery.ValuesSaver{
		{Schema: schema, InsertID: "a", Row: []bigquery.Value{"alice", "red", int64(3), d}},
		{Schema: schema, InsertID: "b", Row: []bigquery.Value{"bob", "blue", int64(5), d}},
		{Schema: schema, InsertID: "c", Row: []bigquery.Value{"carol", nil, int64(-2), d.AddDays(1)}},
	}
	if err := tbl.Inserter().Put(ctx, rows); err != nil {
		t.Fatal(err)
	}

	q := client.Query("SELECT user, IFNULL(team, '') AS team, score, event_date FROM gaming.user_scores WHERE score > @min ORDER BY user")
	q.Parameters = []bigquery.QueryParameter{{Name: "min", Value: int64(-10)}}
	it, err := q.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []scoreRow
	for {
		var r struct {
			User      string     `bigquery:"user"`
			Team      string     `bigquery:"team"`
			Score     int64      `bigquery:"score"`
			EventDate civil.Date `bigquery:"event_date"`
		}
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, scoreRow(r))
	}
	want := []scoreRow{
		{"alice", "red", 3, d},
		{"bob", "blue", 5, d},
		{"carol", "", -2, d.AddDays(1)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestEnsureTopic creates a topic with subscriptions on pstest, keeps the
// ack deadline asked for, and is a no-op the second time.
func TestEnsureTopic(t *testing.T) {
	ctx := context.Background()
	stack := localstack.StartForTest(t, localstack.Options{PubSub: true})
	client, err := stack.GCPConfig().PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := gcpclient.TopicName(stack.Project, "ensure")
	subs := []string{gcpclient.SubscriptionName(stack.Project, "a"), gcpclient.SubscriptionName(stack.Project, "b")}
	for range 2 {
		if err := gcpclient.EnsureTopic(ctx, client, topic, 42*time.Second, subs...); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range subs {
		s, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name})
		if err != nil {
			t.Fatal(err)
		}
		if s.Topic != topic || s.AckDeadlineSeconds != 42 {
			t.Errorf("%s: topic %s, ack deadline %d s; want %s, 42 s", name, s.Topic, s.AckDeadlineSeconds, topic)
		}
	}
}
