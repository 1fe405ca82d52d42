package main

import (
	"bytes"
	"context"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/internal/testkit"
)

// TestCommand builds the real command and runs it as a user would: help,
// flag errors, then a run killed with SIGKILL in the middle of a stream and
// restarted, into a local lake.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "archive")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "--help").CombinedOutput()
	for _, want := range []string{"--subscription=projects/P/subscriptions/S", "-max_age", "ack deadline must be at least 2 × --max_age + 10s", "-stop_after_idle"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q (err %v):\n%s", want, err, out)
		}
	}

	testkit.CheckPipelineHelp(t, bin, "subscription", "lake", "max_age", "stop_after_idle", "bq_project")

	// Every bad flag is reported at once, before anything runs.
	out, err = exec.Command(bin, "--subscription=nope", "--max_age=20m", "--shards=0").CombinedOutput()
	if err == nil {
		t.Fatalf("bad flags accepted:\n%s", out)
	}
	for _, want := range []string{`--subscription "nope"`, "--lake is required", "--shards 0", "above Pub/Sub's maximum of 600s"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}

	// A stream, and a run killed in the middle of it.
	stack := localstack.StartForTest(t, localstack.Options{PubSub: true})
	ctx := context.Background()
	client, err := stack.GCPConfig().PubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := "projects/" + stack.Project + "/topics/game-events"
	sub := "projects/" + stack.Project + "/subscriptions/archive"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 12}); err != nil {
		t.Fatal(err)
	}
	cfg := gen.DefaultConfig()
	cfg.Events, cfg.Hours = 10000, 4
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var published []string
	done := make(chan error, 1)
	go func() {
		pub := client.Publisher(topic)
		defer pub.Stop()
		_, err := gen.Publish(ctx, g, pub, gen.PublishOptions{Rate: 4000, OnPublish: func(r gen.Record, _ time.Time) {
			mu.Lock()
			published = append(published, string(r.Line))
			mu.Unlock()
		}})
		done <- err
	}()

	lake := filepath.Join(dir, "lake")
	args := []string{"--subscription=" + sub, "--pubsub_endpoint=" + stack.PubSubEndpoint, "--lake=" + lake,
		"--max_age=1s", "--max_events=200", "--shards=2"}
	first := exec.Command(bin, args...)
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for files, _ := lakeLines(t, lake); files < 5; files, _ = lakeLines(t, lake) {
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatalf("no files after 2 minutes:\n%s", firstOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL: no cleanup of any kind
		t.Fatal(err)
	}
	first.Wait()
	files, atKill := lakeLines(t, lake)
	acked := 0
	for _, m := range stack.PubSubServer.Messages() {
		if m.Acks > 0 {
			acked++
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d lines in %d files, %d of %d messages acked", len(atKill), files, acked, len(published))
	if acked >= len(published) {
		t.Fatalf("everything was acked before the kill: nothing was interrupted")
	}

	// The restart drains the subscription, waiting longer than the ack
	// deadline for what the killed run held.
	out, err = exec.Command(bin, append(args, "--stop_after_idle=15s")...).CombinedOutput()
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	reported := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "read ") {
			reported = l
		}
	}
	if !strings.HasSuffix(reported, "+ dead-lettered 0  ok") {
		t.Errorf("restart did not reconcile:\n%s", out)
	}
	_, got := lakeLines(t, lake)
	have := map[string]int{}
	for _, l := range got {
		have[l]++
	}
	want := map[string]int{}
	for _, l := range published {
		want[l]++
	}
	short := 0
	for l, n := range want {
		if have[l] < n {
			short++
		}
	}
	if short > 0 || len(have) != len(want) {
		t.Errorf("lake: %d distinct lines (%d published), %d published lines missing or with fewer copies", len(have), len(want), short)
	}
	for _, m := range stack.PubSubServer.Messages() {
		if m.Acks == 0 {
			t.Errorf("message %s was never acked", m.ID)
			break
		}
	}
	t.Logf("lake: %d lines for %d published; restart: %s", len(got), len(published), reported)
}

// lakeLines reads the game_events files of a local lake (hidden temporary
// files skipped, as lake readers do).
func lakeLines(t *testing.T, lake string) (int, []string) {
	t.Helper()
	files := 0
	var lines []string
	root := filepath.Join(lake, "game_events")
	err := filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			return err
		}
		files++
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, lines
}
