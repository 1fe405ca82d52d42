package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/railyard-dev/railyard/internal/gen"
)

type config struct {
	url         string
	requests    int
	concurrency int
	batch       int
	format      string
	token       string
	name        string
	seed        int64
}

func main() {
	var (
		cfg                   config
		bare, pubsub, ceiling string
		topics                string
	)
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080/v1/events", "where to POST")
	flag.IntVar(&cfg.requests, "requests", 1000, "requests to send in all")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "requests in flight at once")
	flag.IntVar(&cfg.batch, "batch", 100, "events per request")
	flag.StringVar(&cfg.format, "format", "json", `body format: "json" (an array) or "ndjson"`)
	flag.StringVar(&cfg.token, "token", "", "bearer token to send")
	flag.StringVar(&cfg.name, "name", "run", "name printed in the result line")
	flag.Int64Var(&cfg.seed, "seed", time.Now().UnixNano(), "generator seed (event ids differ between seeds)")
	flag.StringVar(&bare, "serve_bare", "", "instead of sending: serve the bare baseline handler on this address until interrupted")
	flag.StringVar(&pubsub, "serve_pubsub", "", "instead of sending: serve a Pub/Sub emulator (pstest) with the -topics on this address until interrupted")
	flag.StringVar(&topics, "topics", "", "comma-separated full topic names: the topics -serve_pubsub creates, or the one topic -ceiling publishes to")
	flag.StringVar(&ceiling, "ceiling", "", "instead of POSTing: publish the same events straight to the Pub/Sub emulator at this host:port, one RPC per request (the gateway's ceiling)")
	flag.Parse()
	if pubsub != "" {
		if err := servePubSub(pubsub, strings.Split(topics, ",")); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if bare != "" {
		if err := serveBare(bare); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	var (
		res result
		err error
	)
	if ceiling != "" {
		res, err = runCeiling(context.Background(), cfg, ceiling, topics)
	} else {
		res, err = run(context.Background(), cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	fmt.Println(res.line(cfg))
	if res.Failed > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d requests failed; first: %s\n", res.Failed, res.FirstFailure)
		os.Exit(1)
	}
}

// bareHandler only reads the body: the least any HTTP ingest can do.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"accepted":0,"rejected":[]}` + "\n"))
}

func serveBare(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("loadgen: bare handler listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(bareHandler), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// result is one run's figures.
type result struct {
	Requests, OK, Failed int
	Events               int64
	Elapsed              time.Duration
	P50, P99             time.Duration
	FirstFailure         string
}

func (r result) eventsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// line is the machine-readable result line the benchmark script parses.
func (r result) line(cfg config) string {
	return fmt.Sprintf("RESULT name=%s batch=%d concurrency=%d requests=%d ok=%d failed=%d events=%d seconds=%.3f events_per_s=%.0f p50_ms=%.3f p99_ms=%.3f",
		cfg.name, cfg.batch, cfg.concurrency, r.Requests, r.OK, r.Failed, r.Events, r.Elapsed.Seconds(), r.eventsPerSecond(),
		float64(r.P50.Microseconds())/1000, float64(r.P99.Microseconds())/1000)
}

// bodies builds one body per request, every event distinct and valid (event
// times in the last two hours).
func bodies(cfg config) ([][]byte, error) {
	g, err := gen.New(genConfig(cfg))
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, cfg.requests)
	var b bytes.Buffer
	n := 0
	for r := range g.Records() {
		if n == 0 {
			b.Reset()
			if cfg.format == "json" {
				b.WriteByte('[')
			}
		} else if cfg.format == "json" {
			b.WriteByte(',')
		}
		b.Write(r.Line)
		if cfg.format == "ndjson" {
			b.WriteByte('\n')
		}
		n++
		if n == cfg.batch {
			if cfg.format == "json" {
				b.WriteByte(']')
			}
			out = append(out, bytes.Clone(b.Bytes()))
			n = 0
		}
	}
	return out, nil
}

// genConfig generates distinct valid events, enough for cfg's requests.
func genConfig(cfg config) gen.Config {
	return gen.Config{
		Events: int64(cfg.requests) * int64(cfg.batch),
		Seed:   cfg.seed,
		Start:  time.Now().Add(-2 * time.Hour).Truncate(time.Hour),
		Hours:  1,
	}
}

func run(ctx context.Context, cfg config) (result, error) {
	if cfg.requests <= 0 || cfg.concurrency <= 0 || cfg.batch <= 0 {
		return result{}, errors.New("-requests, -concurrency and -batch must be positive")
	}
	contentType := map[string]string{"json": "application/json", "ndjson": "application/x-ndjson"}[cfg.format]
	if contentType == "" {
		return result{}, fmt.Errorf("-format %q is not json or ndjson", cfg.format)
	}
	reqBodies, err := bodies(cfg)
	if err != nil {
		return result{}, err
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        cfg.concurrency,
		MaxIdleConnsPerHost: cfg.concurrency,
		DisableCompression:  true,
	}}
	send := func(body []byte) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.url, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", contentType)
		if cfg.token != "" {
			req.Header.Set("Authorization", "Bearer "+cfg.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(resp.Body)
		if err != nil {
			return resp.StatusCode, err
		}
		if resp.StatusCode != http.StatusAccepted {
			return resp.StatusCode, fmt.Errorf("%d: %s", resp.StatusCode, bytes.TrimSpace(answer))
		}
		return resp.StatusCode, nil
	}
	// One unmeasured request per connection first, so that connection
	// set-up is not in the figures.
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = send([]byte(`[]`))
		}()
	}
	wg.Wait()

	return drive(cfg, func(i int) error {
		_, err := send(reqBodies[i])
		return err
	}), nil
}

// drive makes cfg.requests calls of send (with the request's index) from
// cfg.concurrency goroutines and measures them.
func drive(cfg config, send func(i int) error) result {
	var (
		next      atomic.Int64
		mu        sync.Mutex
		wg        sync.WaitGroup
		latencies = make([]time.Duration, 0, cfg.requests)
		res       = result{Requests: cfg.requests}
	)
	start := time.Now()
	for range cfg.concurrency {
		wg.Go(func() {
			var mine []time.Duration
			ok, failed, first := 0, 0, ""
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.requests {
					break
				}
				t0 := time.Now()
				err := send(i)
				mine = append(mine, time.Since(t0))
				if err != nil {
					failed++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				ok++
			}
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, mine...)
			res.OK += ok
			res.Failed += failed
			if res.FirstFailure == "" {
				res.FirstFailure = first
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Events = int64(res.OK) * int64(cfg.batch)
	slices.Sort(latencies)
	res.P50 = percentile(latencies, 0.50)
	res.P99 = percentile(latencies, 0.99)
	return res
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
