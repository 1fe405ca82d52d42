// Command loadgen is scripts/bench-serve.sh's helper, run as its own
// process: it plants a serving fixture into BigQuery (-plant), serves the
// bare baseline (-serve_bare: a net/http handler answering fixed bytes),
// or drives GET requests at a URL and prints one RESULT line with the
// requests per second, latency percentiles and, for the serving API, the
// oldest answer it received (now − X-Railyard-As-Of).
package main

import (
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/railyard-dev/railyard/internal/cliflags"
)

func main() {
	var (
		url, name, bare, body string
		requests, conc        int
		plant                 bool
		bq                    cliflags.BigQuery
	)
	fs := flag.CommandLine
	fs.StringVar(&url, "url", "", "URL to GET")
	fs.IntVar(&requests, "requests", 20000, "requests to send")
	fs.IntVar(&conc, "concurrency", 8, "requests in flight at once")
	fs.StringVar(&name, "name", "run", "name in the RESULT line")
	fs.StringVar(&bare, "serve_bare", "", "instead: serve the bare handler on this address until interrupted")
	fs.StringVar(&body, "body", "", "with -serve_bare: the file whose bytes every answer carries")
	fs.BoolVar(&plant, "plant", false, "instead: apply the catalog and plant the bench fixture into BigQuery (the --bq_* flags)")
	bq.Register(fs)
	flag.Parse()
	var err error
	switch {
	case plant:
		err = plantFixture(context.Background(), bq, time.Now().UTC())
	case bare != "":
		err = serveBare(bare, body)
	default:
		var r result
		r, err = run(url, requests, conc)
		if err == nil {
			fmt.Printf("RESULT name=%s concurrency=%d requests=%d ok=%d failed=%d seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f max_age_s=%.3f\n",
				name, conc, requests, r.ok, r.failed, r.elapsed.Seconds(), float64(r.ok)/r.elapsed.Seconds(),
				ms(r.p50), ms(r.p99), r.maxAge.Seconds())
			if r.failed > 0 {
				err = fmt.Errorf("%d requests failed; first: %s", r.failed, r.firstFailure)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// serveBare answers every request with the file's bytes, as JSON: what
// net/http alone costs for the same answer.
func serveBare(addr, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("loadgen: bare handler listening on http://%s\n", ln.Addr())
	length := fmt.Sprint(len(data))
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	})}
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

type result struct {
	ok, failed   int
	elapsed      time.Duration
	p50, p99     time.Duration
	maxAge       time.Duration
	firstFailure string
}

// run sends requests GETs with conc in flight, after one unmeasured
// request per connection.
func run(url string, requests, conc int) (result, error) {
	if url == "" || requests <= 0 || conc <= 0 {
		return result{}, errors.New("-url, and positive -requests and -concurrency, are needed")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, DisableCompression: true}}
	get := func() (time.Duration, error) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		var age time.Duration
		if v := resp.Header.Get("X-Railyard-As-Of"); v != "" {
			asOf, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return 0, fmt.Errorf("X-Railyard-As-Of %q: %v", v, err)
			}
			age = time.Since(asOf)
		}
		return age, nil
	}
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() { _, _ = get() })
	}
	wg.Wait()

	var (
		next     atomic.Int64
		mu       sync.Mutex
		res      result
		lat      = make([]time.Duration, 0, requests)
		maxAgeNs atomic.Int64
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			local := make([]time.Duration, 0, requests/conc+1)
			for next.Add(1) <= int64(requests) {
				t0 := time.Now()
				age, err := get()
				d := time.Since(t0)
				if err != nil {
					mu.Lock()
					if res.failed == 0 {
						res.firstFailure = err.Error()
					}
					res.failed++
					mu.Unlock()
					continue
				}
				local = append(local, d)
				for {
					cur := maxAgeNs.Load()
					if int64(age) <= cur || maxAgeNs.CompareAndSwap(cur, int64(age)) {
						break
					}
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok = len(lat)
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50 = lat[len(lat)*50/100]
		res.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	res.maxAge = time.Duration(maxAgeNs.Load())
	return res, nil
}
