package runners

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	df "google.golang.org/api/dataflow/v1b3"
)

// logCapture records Beam log messages (and forwards them to the default logger).
type logCapture struct {
	mu   sync.Mutex
	msgs []string
	next beamlog.Logger
}

func (l *logCapture) Log(ctx context.Context, sev beamlog.Severity, calldepth int, msg string) {
	l.mu.Lock()
	l.msgs = append(l.msgs, msg)
	l.mu.Unlock()
	if testing.Verbose() && len(msg) < 2000 {
		l.next.Log(ctx, sev, calldepth+1, msg)
	}
}

func (l *logCapture) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func captureBeamLog(t *testing.T) *logCapture {
	c := &logCapture{next: &beamlog.Structural{}}
	beamlog.SetLogger(c)
	t.Cleanup(func() { beamlog.SetLogger(&beamlog.Structural{}) })
	return c
}

// fakeGCS stands in for Cloud Storage on loopback. The Dataflow runner reads
// the staging bucket's attributes (its soft-delete check) even on a dry run.
func fakeGCS(t *testing.T) (paths func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		bucket, ok := strings.CutPrefix(r.URL.Path, "/storage/v1/b/")
		if r.Method != http.MethodGet || !ok || strings.Contains(bucket, "/") {
			http.Error(w, `{"error":{"code":404,"message":"not found"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "storage#bucket", "name": bucket, "id": bucket})
	}))
	t.Cleanup(srv.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Listener.Addr().String())
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// TestDataflowDryRun builds Dataflow jobs with --dry_run: Beam's runner
// translates the pipeline to a Dataflow job and prints it instead of staging
// and submitting. The only network contact is the staging bucket's attribute
// read, served by a fake on 127.0.0.1.
func TestDataflowDryRun(t *testing.T) {
	tests := []struct {
		name        string
		mode        Mode
		pipeline    func() *beam.Pipeline
		wantType    string
		wantExp     []string
		wantNames   []string // transform unique names in the model pipeline
		wantMissing string   // experiment that must not be there
	}{
		{name: "batch", mode: Batch,
			pipeline:    func() *beam.Pipeline { return scoresPipeline("gs://railyard-dry-run/out/sums.txt") },
			wantType:    "JOB_TYPE_BATCH",
			wantExp:     []string{"beam_fn_api", "use_runner_v2", "use_unified_worker", "use_portable_job_submission"},
			wantNames:   []string{"ReadScores", "ParseScores", "SumPerUser", "WriteSums", "FormatSums"},
			wantMissing: "enable_streaming_engine"},
		{name: "streaming", mode: Streaming, pipeline: unboundedPipeline,
			wantType:  "JOB_TYPE_STREAMING",
			wantExp:   []string{"use_runner_v2", "enable_streaming_engine", "enable_windmill_service"},
			wantNames: []string{"Ticks", "Drop"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gcsPaths := fakeGCS(t)
			logs := captureBeamLog(t)
			jobName := "railyard-dry-run-" + tc.name
			setFlags(t, "runner", "dataflow", "dry_run", "true", "project", "railyard-dry-run",
				"region", "europe-west1", "staging_location", "gs://railyard-dry-run/staging",
				"job_name", jobName, "environment_type", "")

			res, err := Run(context.Background(), tc.pipeline(), tc.mode)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if res != nil {
				t.Errorf("dry run returned a result %v; nothing should have been submitted", res)
			}

			var job *df.Job
			var model string
			for _, m := range logs.messages() {
				switch {
				case strings.HasPrefix(m, "{") && strings.Contains(m, `"projectId"`):
					job = &df.Job{}
					if err := json.Unmarshal([]byte(m), job); err != nil {
						t.Fatalf("printed job is not JSON: %v\n%s", err, m)
					}
				case strings.Contains(m, "unique_name") && strings.Contains(m, "components"):
					model = m
				}
			}
			if job == nil || model == "" {
				t.Fatalf("dry run printed no job (%v) or no model (%v); log:\n%s", job != nil, model != "",
					strings.Join(logs.messages(), "\n"))
			}

			if job.ProjectId != "railyard-dry-run" || job.Name != jobName || job.Type != tc.wantType {
				t.Errorf("job project %q name %q type %q, want railyard-dry-run %q %q", job.ProjectId, job.Name, job.Type, jobName, tc.wantType)
			}
			for _, e := range tc.wantExp {
				if !slices.Contains(job.Environment.Experiments, e) {
					t.Errorf("experiments %q lack %q", job.Environment.Experiments, e)
				}
			}
			if tc.wantMissing != "" && slices.Contains(job.Environment.Experiments, tc.wantMissing) {
				t.Errorf("experiments %q contain %q", job.Environment.Experiments, tc.wantMissing)
			}
			if job.Environment.TempStoragePrefix != "gs://railyard-dry-run/staging/tmp" {
				t.Errorf("temp storage %q", job.Environment.TempStoragePrefix)
			}
			pool := job.Environment.WorkerPools[0]
			if want := "gcr.io/cloud-dataflow/v1beta3/beam_go_sdk:" + core.SdkVersion; pool.WorkerHarnessContainerImage != want {
				t.Errorf("worker image %q, want %q", pool.WorkerHarnessContainerImage, want)
			}
			if len(pool.Packages) == 0 || !regexp.MustCompile(`^gs://railyard-dry-run/staging/go-\d+-\d+/worker$`).MatchString(pool.Packages[0].Location) {
				t.Errorf("worker package %+v, want it staged under gs://railyard-dry-run/staging/", pool.Packages)
			}
			var sdkOpts struct {
				Options struct {
					Region string `json:"region"`
				} `json:"options"`
			}
			if err := json.Unmarshal(job.Environment.SdkPipelineOptions, &sdkOpts); err != nil || sdkOpts.Options.Region != "europe-west1" {
				t.Errorf("sdk pipeline options region %q (%v)", sdkOpts.Options.Region, err)
			}
			for _, n := range tc.wantNames {
				if !regexp.MustCompile(`unique_name:\s*"` + regexp.QuoteMeta(n) + `"`).MatchString(model) {
					t.Errorf("model pipeline has no transform %q", n)
				}
			}

			paths := gcsPaths()
			if len(paths) == 0 {
				t.Error("the fake GCS got no request; was STORAGE_EMULATOR_HOST ignored?")
			}
			for _, p := range paths {
				if p != "GET /storage/v1/b/railyard-dry-run" {
					t.Errorf("unexpected storage request %q", p)
				}
			}
		})
	}
}
