package serving

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/railyard-dev/railyard/internal/httpstatus"
)

// API paths.
const (
	PathTeams      = "/v1/leaderboard/teams"
	PathUsers      = "/v1/leaderboard/users"
	prefixTeams    = "/v1/teams/"
	suffixHourly   = "/hourly"
	prefixUsers    = "/v1/users/"
	reasonNotFound = "not_found"
)

// Reasons of the answers that are not about a parameter.
const (
	ReasonNotReady         = "not_ready"          // 503: no snapshot loaded yet
	ReasonMethodNotAllowed = "method_not_allowed" // 405
	ReasonNotFound         = reasonNotFound       // 404
	ReasonMissingToken     = "missing_token"      // 401
	ReasonInvalidToken     = "invalid_token"      // 403
)

// routes label the metrics.
var routes = []string{"teams", "users", "team_hourly", "user_days", "page", "healthz", "readyz", "metrics", "other"}

// Response headers that repeat the answer's freshness.
const (
	HeaderAsOf              = "X-Railyard-As-Of"
	HeaderBatchThrough      = "X-Railyard-Batch-Through"
	HeaderRealtimeWatermark = "X-Railyard-Realtime-Watermark"
	HeaderGaps              = "X-Railyard-Gaps"
	HeaderStale             = "X-Railyard-Stale"
)

// Freshness says how current an answer is and what it is missing.
type Freshness struct {
	// AsOf is when the snapshot was read.
	AsOf time.Time `json:"as_of"`
	// BatchThrough is, per batch view, the latest date batch covers.
	BatchThrough map[string]string `json:"batch_through"`
	// RealtimeWatermark is the newest watermark of a live speed run; null
	// when no run is live.
	RealtimeWatermark *time.Time `json:"realtime_watermark"`
	// Gaps are the parts of the requested range (up to AsOf) that neither
	// batch covers nor any run's realtime input reached.
	Gaps []Interval `json:"gaps"`
	// Stale is set when the last refresh failed: the snapshot is then
	// older than the refresh interval (see AsOf and the Age header).
	Stale           bool       `json:"stale"`
	RefreshError    string     `json:"refresh_error,omitempty"`
	RefreshFailedAt *time.Time `json:"refresh_failed_at,omitempty"`
}

// TeamsAnswer is GET /v1/leaderboard/teams.
type TeamsAnswer struct {
	From      time.Time   `json:"from"`
	To        time.Time   `json:"to"`
	Teams     []TeamTotal `json:"teams"`
	Freshness Freshness   `json:"freshness"`
}

// UsersAnswer is GET /v1/leaderboard/users.
type UsersAnswer struct {
	Date      string      `json:"date"`
	Users     []UserTotal `json:"users"`
	Freshness Freshness   `json:"freshness"`
}

// Hour is one hour of a team.
type Hour struct {
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Score       int64     `json:"score"`
	Events      int64     `json:"events"`
	Source      string    `json:"source"`
}

// TeamHourlyAnswer is GET /v1/teams/{team}/hourly.
type TeamHourlyAnswer struct {
	Team      string    `json:"team"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Hours     []Hour    `json:"hours"`
	Freshness Freshness `json:"freshness"`
}

// Day is one day of a user for one team.
type Day struct {
	Day    string `json:"day"`
	Team   string `json:"team"`
	Score  int64  `json:"score"`
	Events int64  `json:"events"`
	Source string `json:"source"`
}

// UserDaysAnswer is GET /v1/users/{user}.
type UserDaysAnswer struct {
	User      string    `json:"user"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Days      []Day     `json:"days"`
	Freshness Freshness `json:"freshness"`
}

// errorBody is every error answer.
type errorBody struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// answer is a rendered 200: the body, its ETag and the freshness headers.
type answer struct {
	body    []byte
	etag    string
	headers [][2]string
}

// Handler returns the server's HTTP handler: the API, the page,
// /healthz, /readyz and /metrics. It routes by hand rather than with
// http.ServeMux, which redirects paths with an empty segment
// (/v1/teams//hourly) instead of letting them be answered 400.
func (s *Server) Handler() http.Handler {
	metrics := promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httpstatus.NewRecorder(w)
		route := s.route(rec, r, metrics)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.Status)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
				"status", rec.Status, "route", route, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}
	})
}

// route answers r and returns its route label.
func (s *Server) route(w http.ResponseWriter, r *http.Request, metrics http.Handler) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, ReasonMethodNotAllowed, r.Method+" is not allowed; the serving API is read-only (GET, HEAD)")
		return "other"
	}
	path := r.URL.EscapedPath()
	switch {
	case path == "/":
		s.servePage(w, r)
		return "page"
	case path == "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return "healthz"
	case path == "/readyz":
		s.serveReadyz(w)
		return "readyz"
	case path == "/metrics":
		metrics.ServeHTTP(w, r)
		return "metrics"
	case path == PathTeams:
		s.serveAPI(w, r, s.teams, "")
		return "teams"
	case path == PathUsers:
		s.serveAPI(w, r, s.users, "")
		return "users"
	case strings.HasPrefix(path, prefixTeams) && strings.HasSuffix(path, suffixHourly) && len(path) >= len(prefixTeams)+len(suffixHourly):
		seg := path[len(prefixTeams) : len(path)-len(suffixHourly)]
		if name, ok := segment(seg); ok {
			s.serveAPI(w, r, s.teamHourly, name)
			return "team_hourly"
		}
	case strings.HasPrefix(path, prefixUsers):
		if name, ok := segment(path[len(prefixUsers):]); ok {
			s.serveAPI(w, r, s.userDays, name)
			return "user_days"
		}
	}
	writeError(w, http.StatusNotFound, ReasonNotFound, "no such endpoint: "+r.URL.Path+"; see GET / for the page, "+
		PathTeams+", "+PathUsers+", /v1/teams/{team}/hourly and /v1/users/{user}")
	return "other"
}

// segment unescapes one escaped path segment (a name may hold an escaped
// slash, %2F); ok is false if it spans several segments or does not
// unescape.
func segment(escaped string) (string, bool) {
	if strings.Contains(escaped, "/") {
		return "", false
	}
	name, err := url.PathUnescape(escaped)
	return name, err == nil
}

// compute builds the answer of one request from a snapshot, or refuses a
// bad parameter. key identifies the normalised request for the cache.
type compute func(st *state, name, rawQuery string) (key string, build func() any, e *ParamError)

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, c compute, name string) {
	if status, reason, msg := s.auth.check(r.Header.Get("Authorization")); status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="railyard-serve"`)
		}
		writeError(w, status, reason, msg)
		return
	}
	st := s.state.Load()
	if st.snap == nil {
		msg := "no snapshot has been loaded from BigQuery yet; retry shortly"
		if st.refreshErr != "" {
			msg += " (last refresh failed: " + st.refreshErr + ")"
		}
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, ReasonNotReady, msg)
		return
	}
	key, build, e := c(st, name, r.URL.RawQuery)
	if e != nil {
		writeError(w, http.StatusBadRequest, e.Reason, e.Message)
		return
	}
	a := s.cachedAnswer(st, key, build)
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.opts.Refresh.Round(time.Second)/time.Second)))
	age := s.opts.Now().Sub(st.snap.AsOf)
	if age < 0 {
		age = 0
	}
	h.Set("Age", strconv.Itoa(int(age/time.Second)))
	h.Set("ETag", a.etag)
	for _, kv := range a.headers {
		h.Set(kv[0], kv[1])
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

var contentTypeJSON = []string{"application/json"}

// cachedAnswer renders an answer once per state and request.
func (s *Server) cachedAnswer(st *state, key string, build func() any) *answer {
	if v, ok := st.cache.Load(key); ok {
		return v.(*answer)
	}
	a := s.render(st, build())
	if st.cached.Load() < maxCachedAnswers {
		if _, loaded := st.cache.LoadOrStore(key, a); !loaded {
			st.cached.Add(1)
		}
	}
	return a
}

func (s *Server) render(st *state, body any) *answer {
	data, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("serving: encoding an answer: %v", err)) // our own types: cannot happen
	}
	data = append(data, '\n')
	h := fnv.New64a()
	_, _ = h.Write(data)
	a := &answer{body: data, etag: fmt.Sprintf(`"%016x"`, h.Sum64())}
	f := freshnessOf(body)
	a.headers = append(a.headers, [2]string{HeaderAsOf, f.AsOf.Format(time.RFC3339Nano)})
	var bt []string
	for _, v := range []string{ViewTeamScoresHourly, ViewUserScoresDaily} {
		if d, ok := f.BatchThrough[v]; ok {
			bt = append(bt, v+"="+d)
		}
	}
	a.headers = append(a.headers, [2]string{HeaderBatchThrough, strings.Join(bt, ", ")})
	wm := ""
	if f.RealtimeWatermark != nil {
		wm = f.RealtimeWatermark.Format(time.RFC3339Nano)
	}
	a.headers = append(a.headers, [2]string{HeaderRealtimeWatermark, wm})
	var gaps []string
	for _, g := range f.Gaps {
		gaps = append(gaps, g.From.Format(time.RFC3339)+"/"+g.To.Format(time.RFC3339))
	}
	a.headers = append(a.headers, [2]string{HeaderGaps, strings.Join(gaps, ", ")})
	if f.Stale {
		a.headers = append(a.headers, [2]string{HeaderStale, "refresh failing since " + f.RefreshFailedAt.Format(time.RFC3339) + ": " + headerSafe(f.RefreshError)})
	}
	return a
}

func freshnessOf(body any) Freshness {
	switch b := body.(type) {
	case TeamsAnswer:
		return b.Freshness
	case UsersAnswer:
		return b.Freshness
	case TeamHourlyAnswer:
		return b.Freshness
	case UserDaysAnswer:
		return b.Freshness
	}
	return Freshness{}
}

// headerSafe keeps a header value to one line of printable ASCII.
func headerSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
		if b.Len() >= 200 {
			break
		}
	}
	return b.String()
}

// freshness of an answer over [from, to) for view.
func (st *state) freshness(view string, from, to time.Time) Freshness {
	snap := st.snap
	f := Freshness{AsOf: snap.AsOf, BatchThrough: map[string]string{}, Gaps: snap.Gaps(view, from, to)}
	for v, d := range snap.BatchThrough() {
		f.BatchThrough[v] = d.String()
	}
	if wm := snap.RealtimeWatermark(); !wm.IsZero() {
		f.RealtimeWatermark = &wm
	}
	if f.Gaps == nil {
		f.Gaps = []Interval{}
	}
	if st.refreshErr != "" {
		f.Stale, f.RefreshError = true, st.refreshErr
		at := st.failedAt
		f.RefreshFailedAt = &at
	}
	return f
}

func (st *state) inRange(from time.Time) *ParamError {
	if from.Before(st.snap.From) {
		return paramErr(ReasonOutOfRange, "from %s is before %s, the oldest data this server keeps (--history_days)", from.Format(time.RFC3339), st.snap.From.Format(time.RFC3339))
	}
	return nil
}

func (s *Server) teams(st *state, _, rawQuery string) (string, func() any, *ParamError) {
	q, e := ParseTeamsQuery(rawQuery, st.snap.AsOf)
	if e == nil {
		e = st.inRange(q.Range.From)
	}
	if e != nil {
		return "", nil, e
	}
	key := fmt.Sprintf("teams|%d|%d|%d", q.Range.From.Unix(), q.Range.To.Unix(), q.Limit)
	return key, func() any {
		return TeamsAnswer{From: q.Range.From, To: q.Range.To, Teams: st.snap.TopTeams(q.Range, q.Limit),
			Freshness: st.freshness(ViewTeamScoresHourly, q.Range.From, q.Range.To)}
	}, nil
}

func (s *Server) users(st *state, _, rawQuery string) (string, func() any, *ParamError) {
	q, e := ParseUsersQuery(rawQuery, st.snap.AsOf)
	if e == nil {
		e = st.inRange(q.Date.In(time.UTC))
	}
	if e != nil {
		return "", nil, e
	}
	key := fmt.Sprintf("users|%s|%d", q.Date, q.Limit)
	return key, func() any {
		from := q.Date.In(time.UTC)
		return UsersAnswer{Date: q.Date.String(), Users: st.snap.TopUsers(q.Date, q.Limit),
			Freshness: st.freshness(ViewUserScoresDaily, from, from.Add(24*time.Hour))}
	}, nil
}

func (s *Server) teamHourly(st *state, team, rawQuery string) (string, func() any, *ParamError) {
	q, e := ParseTeamHourlyQuery(team, rawQuery, st.snap.AsOf)
	if e == nil {
		e = st.inRange(q.Range.From)
	}
	if e != nil {
		return "", nil, e
	}
	key := fmt.Sprintf("team_hourly|%d|%d|%s", q.Range.From.Unix(), q.Range.To.Unix(), q.Team)
	return key, func() any {
		rows := st.snap.TeamHours(q.Team, q.Range)
		hours := make([]Hour, len(rows))
		for i, h := range rows {
			hours[i] = Hour{WindowStart: h.WindowStart, WindowEnd: h.WindowEnd, Score: h.Score, Events: h.Events, Source: h.Source}
		}
		return TeamHourlyAnswer{Team: q.Team, From: q.Range.From, To: q.Range.To, Hours: hours,
			Freshness: st.freshness(ViewTeamScoresHourly, q.Range.From, q.Range.To)}
	}, nil
}

func (s *Server) userDays(st *state, user, rawQuery string) (string, func() any, *ParamError) {
	q, e := ParseUserDaysQuery(user, rawQuery, st.snap.AsOf)
	if e == nil {
		e = st.inRange(q.Range.From.In(time.UTC))
	}
	if e != nil {
		return "", nil, e
	}
	key := fmt.Sprintf("user_days|%s|%s|%s", q.Range.From, q.Range.To, q.User)
	return key, func() any {
		rows := st.snap.UserDays(q.User, q.Range)
		days := make([]Day, len(rows))
		for i, u := range rows {
			days[i] = Day{Day: u.Day.String(), Team: u.Team, Score: u.Score, Events: u.Events, Source: u.Source}
		}
		return UserDaysAnswer{User: q.User, From: q.Range.From.String(), To: q.Range.To.String(), Days: days,
			Freshness: st.freshness(ViewUserScoresDaily, q.Range.From.In(time.UTC), q.Range.To.In(time.UTC))}
	}, nil
}

// etagMatches implements If-None-Match's weak comparison against a
// strong ETag: "*" or any listed tag, W/ prefixes ignored.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func (s *Server) serveReadyz(w http.ResponseWriter) {
	st := s.state.Load()
	if st.snap == nil {
		msg := "no snapshot loaded yet"
		if st.refreshErr != "" {
			msg += ": " + st.refreshErr
		}
		writeError(w, http.StatusServiceUnavailable, ReasonNotReady, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "as_of": st.snap.AsOf, "stale": st.refreshErr != ""})
}

func writeError(w http.ResponseWriter, status int, reason, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Reason: reason})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(body); err != nil {
		b.Reset()
		b.WriteString(`{"error":"encoding the answer failed","reason":"internal"}` + "\n")
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
