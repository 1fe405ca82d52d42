package jobserver

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestStartAndClose starts each real job server through its script, asks its
// job service for the job list over gRPC, and checks that Close stops the
// whole process group and frees the port.
func TestStartAndClose(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			var log strings.Builder
			s, err := Start(context.Background(), Options{Kind: kind, Log: &syncWriter{b: &log}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })

			conn, err := grpc.NewClient(s.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			jobs, err := jobpb.NewJobServiceClient(conn).GetJobs(ctx, &jobpb.GetJobsRequest{})
			if err != nil {
				t.Fatalf("GetJobs on %s: %v", s.Endpoint(), err)
			}
			if n := len(jobs.GetJobInfo()); n != 0 {
				t.Errorf("a fresh job server lists %d jobs", n)
			}
			out := s.Output()
			if !strings.Contains(out, "JobService started on localhost:") {
				t.Errorf("job server output lacks its start line:\n%s", out)
			}

			pid := s.PID()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process group %d still exists after Close (%v)", pid, err)
			}
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strings.Split(s.Endpoint(), ":")[1])); err != nil {
				t.Errorf("job port still taken after Close: %v", err)
			} else {
				l.Close()
			}
		})
	}
}

// TestStartFailsClearly: a job server that cannot start (its port taken by
// the expansion service's fixed port clash is hard to stage, so: a bad
// argument) is reported with its output, promptly.
func TestStartFailsClearly(t *testing.T) {
	start := time.Now()
	_, err := Start(context.Background(), Options{Kind: Flink, ExtraArgs: []string{"--no-such-option"}})
	if err == nil {
		t.Fatal("a job server with a bad option started")
	}
	if !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "no-such-option") {
		t.Errorf("error does not say what happened: %v", err)
	}
	if d := time.Since(start); d > 2*time.Minute {
		t.Errorf("failure took %s to report", d)
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"flink": Flink, " Spark ": Spark} {
		if got, err := ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseKind("storm"); err == nil || !strings.Contains(err.Error(), "want flink or spark") {
		t.Errorf("ParseKind(storm): %v", err)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// syncWriter serialises writes to a strings.Builder (tests read it while
// the server writes).
type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
