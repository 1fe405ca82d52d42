package bqsink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// faultProxy is a loopback reverse proxy in front of the emulator that
// fails the first write requests of each kind — staging table creation
// (tables.insert), insertAll and the commit job (jobs.insert, dry runs
// excepted) — with 429, then 503, then holds the third until the client
// gives up on it; after that, requests pass through.
//
// A held request is not lost: once the client has abandoned it, the proxy
// sends it on to the emulator anyway (a "ghost"), as a server that got the
// request but answered too late would have executed it. No request passes
// the proxy from the moment it holds a request until the ghost has landed,
// so the ghost always lands before the client's retry: the sink must absorb
// it.
type faultProxy struct {
	t      *testing.T
	target *url.URL
	rp     *httputil.ReverseProxy
	srv    *http.Server
	URL    string

	// gate: pass-through requests hold it shared, a ghost exclusively.
	gate sync.RWMutex

	// passAll turns the faults off (the proxy only records).
	passAll bool
	// rejectRow, if set, plays BigQuery refusing rows of insertAll: a row
	// for which it returns a message is taken out of the request before
	// it is forwarded, and answered with an "invalid" per-row error.
	rejectRow func(row map[string]json.RawMessage) string

	mu     sync.Mutex
	bodies map[string][][]byte // request bodies per kind
	seen   map[string]int      // requests per kind
	faults map[string][]string
	ghosts map[string][]int // HTTP status of each ghost, per kind
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, target: u, rp: httputil.NewSingleHostReverseProxy(u),
		bodies: map[string][][]byte{}, seen: map[string]int{}, faults: map[string][]string{}, ghosts: map[string][]int{}}
	p.srv = &http.Server{Handler: p}
	p.URL = "http://" + ln.Addr().String()
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

// kind names the write requests the proxy disturbs; "" passes through.
func kind(r *http.Request, body []byte) string {
	if r.Method != http.MethodPost {
		return ""
	}
	switch path := r.URL.Path; {
	case strings.HasSuffix(path, "/insertAll"):
		return "insertAll"
	case strings.HasSuffix(path, "/tables"):
		return "tables.insert"
	case strings.HasSuffix(path, "/jobs") && !bytes.Contains(body, []byte(`"dryRun":true`)):
		return "jobs.insert"
	}
	return ""
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	k := kind(r, body)
	p.mu.Lock()
	n := p.seen[k]
	p.seen[k]++
	p.bodies[k] = append(p.bodies[k], body)
	p.mu.Unlock()
	if k == "" || p.passAll {
		n = 99
	}
	switch n {
	case 0:
		p.note(k, "429")
		http.Error(w, "injected: rate limited", http.StatusTooManyRequests)
	case 1:
		p.note(k, "503")
		http.Error(w, "injected: unavailable", http.StatusServiceUnavailable)
	case 2:
		p.note(k, "hang")
		// Nothing passes until the ghost has landed, so the client's retry
		// (which can only come after it gave up on this request) lands after
		// the ghost.
		p.gate.Lock()
		defer p.gate.Unlock()
		select {
		case <-r.Context().Done(): // the client gave up
		case <-time.After(time.Minute):
		}
		p.ghost(k, r, body)
	default:
		p.gate.RLock()
		defer p.gate.RUnlock()
		if k == "insertAll" && p.rejectRow != nil {
			p.insertAllRejecting(w, r, body)
			return
		}
		p.rp.ServeHTTP(w, r)
	}
}

// insertAllRejecting forwards an insertAll without the rows rejectRow
// refuses and answers per-row errors for them, as BigQuery does with
// skipInvalidRows.
func (p *faultProxy) insertAllRejecting(w http.ResponseWriter, r *http.Request, body []byte) {
	var req map[string]json.RawMessage
	var rows []struct {
		JSON map[string]json.RawMessage `json:"json"`
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := json.Unmarshal(req["rows"], &raw); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := json.Unmarshal(req["rows"], &rows); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var keep []json.RawMessage
	var insertErrors []string
	for i, row := range rows {
		if msg := p.rejectRow(row.JSON); msg != "" {
			insertErrors = append(insertErrors, fmt.Sprintf(`{"index":%d,"errors":[{"reason":"invalid","message":%q,"location":"user"}]}`, i, msg))
			continue
		}
		keep = append(keep, raw[i])
	}
	if len(keep) > 0 {
		req["rows"], _ = json.Marshal(keep)
		fwd, _ := json.Marshal(req)
		u := *p.target
		u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
		out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(fwd))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Del("Content-Length")
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		io.Copy(io.Discard, resp.Body)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"kind":"bigquery#tableDataInsertAllResponse","insertErrors":[%s]}`, strings.Join(insertErrors, ","))
}

func (p *faultProxy) note(k, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[k] = append(p.faults[k], what)
}

// ghost sends an abandoned request on to the emulator.
func (p *faultProxy) ghost(k string, r *http.Request, body []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := *p.target
	u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		p.t.Errorf("ghost request: %v", err)
		return
	}
	req.Header = r.Header.Clone()
	status := -1
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	p.mu.Lock()
	p.ghosts[k] = append(p.ghosts[k], status)
	p.mu.Unlock()
}

func (p *faultProxy) report() (faults map[string][]string, ghosts map[string][]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults, p.ghosts
}

// TestReplaceFaults: with 429s, 503s and hung requests (which reach the
// emulator after the client abandoned them) on the staging table's
// creation, on insertAll and on the commit job, every row still ends up in
// the table exactly once, and the retries are counted.
func TestReplaceFaults(t *testing.T) {
	e := newBQEnv(t)
	table := e.createTable(t, "user_scores_daily", catalog.TableUserScoresDaily)
	proxy := newFaultProxy(t, e.st.BigQueryEndpoint)

	// A partition the run does not own, written first without faults: it
	// must survive.
	other := []schemas.UserScoreDaily{userDaily(day3, "olga", "red", 1, 1)}
	replaceRun{cfg: ReplaceConfig{Config: e.config(table), PartitionColumn: "day", Partitions: []civil.Date{day3}, OnEmulator: true},
		rows: other, wantCounts: []string{table + " 2026-11-03 1"}}.run(t)

	var rows []schemas.UserScoreDaily
	for i := range 30 {
		d := day1
		if i%3 == 0 {
			d = day2
		}
		rows = append(rows, userDaily(d, fmt.Sprintf("user%02d", i), fmt.Sprintf("team%d", i%4), int64(i*7), int64(i+1)))
	}
	rows = append(rows, rows[4]) // a legitimate duplicate: both copies stay
	cfg := ReplaceConfig{Config: e.config(table), PartitionColumn: "day", Partitions: []civil.Date{day1, day2}, OnEmulator: true}
	cfg.Endpoint = proxy.URL
	cfg.Retry.AttemptTimeout = 2 * time.Second
	cfg.Retry.JobTimeout = 3 * time.Second
	start := time.Now()
	pr := replaceRun{cfg: cfg, rows: rows, wantCounts: []string{table + " 2026-11-01 21", table + " 2026-11-02 10"}}.run(t)
	t.Logf("faulty run took %s", time.Since(start).Round(time.Millisecond))

	faults, ghosts := proxy.report()
	t.Logf("injected faults: %v; ghosts (emulator status): %v", faults, ghosts)
	for _, k := range []string{"tables.insert", "insertAll", "jobs.insert"} {
		if got := strings.Join(faults[k], ","); got != "429,503,hang" {
			t.Errorf("%s faults = %q, want 429,503,hang", k, got)
		}
		if g := ghosts[k]; len(g) != 1 || g[0] != http.StatusOK {
			t.Errorf("%s ghosts = %v, want one that the emulator executed (200)", k, g)
		}
	}
	equalRows(t, "table after the faulty run", readUserDaily(t, e, table), append(rows, other...))
	if n := counter(pr, MetricRetries); n < 6 {
		t.Errorf("bq_retries = %d, want ≥ 6 (a 429 and a timeout for each of 3 request kinds)", n)
	}
	// The insertAll ghost wrote its batch into staging a second time; the
	// commit kept one copy of each row.
	if n := counter(pr, MetricStagingDuplicates); n < 1 {
		t.Errorf("bq_staging_duplicates = %d, want ≥ 1 (the insertAll ghost's rows)", n)
	}
	if n := counter(pr, MetricRowsWritten); n != int64(len(rows)) {
		t.Errorf("bq_rows_written = %d, want %d", n, len(rows))
	}
	if got := e.tableNames(t); len(got) != 1 {
		t.Errorf("tables after the run: %v; want only the target", got)
	}
}

// TestReplaceRowErrors: rows BigQuery refuses (played by the proxy, since
// the emulator validates nothing) become dead letters with BigQuery's
// message, the row's JSON and table$partition; the rest of the partition is
// committed and the counts leave them out.
func TestReplaceRowErrors(t *testing.T) {
	e := newBQEnv(t)
	table := e.createTable(t, "user_scores_daily", catalog.TableUserScoresDaily)
	proxy := newFaultProxy(t, e.st.BigQueryEndpoint)
	proxy.passAll = true
	proxy.rejectRow = func(row map[string]json.RawMessage) string {
		if string(row["user"]) == `"mallory"` {
			return "no such field: user."
		}
		return ""
	}
	rows := []schemas.UserScoreDaily{
		userDaily(day1, "alice", "red", 1, 1), userDaily(day1, "mallory", "red", 2, 2), userDaily(day1, "bob", "red", 3, 3),
		userDaily(day2, "carol", "blue", 4, 4), userDaily(day2, "mallory", "blue", 5, 5),
	}
	cfg := ReplaceConfig{Config: e.config(table), PartitionColumn: "day", Partitions: []civil.Date{day1, day2}, OnEmulator: true}
	cfg.Endpoint = proxy.URL
	dead := func(day, team string, n int) string {
		return fmt.Sprintf(`test|run-1|bigquery_write|bigquery_row_error|%s$%s|{"day":"%s","events":%d,"score":%d,"team":"%s","user":"mallory"}`,
			table, strings.ReplaceAll(day, "-", ""), day, n, n, team)
	}
	detail := func(day string) string {
		return "bigquery_row_error|invalid: no such field: user. (at user)|" + table + "$" + strings.ReplaceAll(day, "-", "")
	}
	pr := replaceRun{cfg: cfg, rows: rows,
		wantCounts:  []string{table + " 2026-11-01 2", table + " 2026-11-02 1"},
		wantDead:    []string{dead("2026-11-01", "red", 2), dead("2026-11-02", "blue", 5)},
		wantDetails: []string{detail("2026-11-01"), detail("2026-11-02")},
	}.run(t)
	equalRows(t, "table", readUserDaily(t, e, table), []schemas.UserScoreDaily{rows[0], rows[2], rows[3]})
	if n := counter(pr, MetricRowErrors); n != 2 {
		t.Errorf("bq_row_errors = %d, want 2", n)
	}
}
