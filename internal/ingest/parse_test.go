package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/railyard-dev/railyard/schemas"
)

var parseNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func event(id string) string {
	return fmt.Sprintf(`{"event_id":%q,"user":"alice","team":"red","score":5,"event_time":"2026-11-01T10:00:00.123Z"}`, id)
}

// reasons summarises items: "ok" for a valid one, else its reason.
func reasons(items []Item) []string {
	var out []string
	for _, it := range items {
		if it.Err == nil {
			out = append(out, "ok")
		} else {
			out = append(out, string(it.Err.Reason))
		}
	}
	return out
}

func TestParseBody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		format  Format
		body    string
		want    []string // per item: ok or reason
		wantRaw []string // when set: the raw bytes of each item
		wantErr string   // a request-level reason
	}{
		{name: "single object", format: FormatJSON, body: event("a"), want: []string{"ok"}},
		{name: "pretty-printed object", format: FormatJSON, body: "{\n  \"event_id\": \"a\",\n  \"user\": \"u\", \"team\": \"t\",\n  \"score\": 1, \"event_time\": \"2026-11-01T10:00:00Z\"\n}\n", want: []string{"ok"}},
		{name: "array", format: FormatJSON, body: " [" + event("a") + " ,\n" + event("b") + "]\n", want: []string{"ok", "ok"},
			wantRaw: []string{event("a"), event("b")}},
		{name: "array with bad elements", format: FormatJSON,
			body: `[` + event("a") + `, {"event_id": 7, "user": "u"}, {"event_id": "x",,}, 42, "str", [1,2], ` + event("b") + `]`,
			want: []string{"ok", "invalid_type", "malformed_json", "malformed_json", "malformed_json", "malformed_json", "ok"}},
		{name: "brackets and quotes inside strings", format: FormatJSON,
			body: `[{"event_id":"a],[{\"","user":"u]","team":"t{","score":1,"event_time":"2026-11-01T10:00:00Z"},` + event("b") + `]`,
			want: []string{"ok", "ok"}},
		{name: "unterminated array", format: FormatJSON, body: `[` + event("a") + `,`, want: []string{"malformed_json"}},
		{name: "trailing comma", format: FormatJSON, body: `[` + event("a") + `,]`, want: []string{"malformed_json"}},
		{name: "data after array", format: FormatJSON, body: `[` + event("a") + `] x`, want: []string{"malformed_json"}},
		{name: "unbalanced brace", format: FormatJSON, body: `[}]`, want: []string{"malformed_json"}},
		{name: "unterminated string", format: FormatJSON, body: `["abc]`, want: []string{"malformed_json"}},
		{name: "two objects as application/json", format: FormatJSON, body: event("a") + "\n" + event("b"), want: []string{"malformed_json"}},
		{name: "bad json", format: FormatJSON, body: `{"event_id": `, want: []string{"malformed_json"}},
		{name: "empty array", format: FormatJSON, body: ` [ ] `, wantErr: ReasonEmptyBody},
		{name: "empty", format: FormatJSON, body: " \n\t", wantErr: ReasonEmptyBody},
		{name: "ndjson", format: FormatNDJSON, body: event("a") + "\r\n\n  \n" + event("b") + "\n{\"event_id\":\"c\"}\n",
			want: []string{"ok", "ok", "missing_field"}, wantRaw: []string{event("a"), event("b"), `{"event_id":"c"}`}},
		{name: "ndjson blank", format: FormatNDJSON, body: "\n\r\n", wantErr: ReasonEmptyBody},
		{name: "csv", format: FormatCSV, body: "alice,red,5,1793527200000,2026-11-01 10:00:00.000\nbob,blue,x,1793527200000\n\nonly,two\n",
			want: []string{"ok", "score_not_integer", "malformed_csv"}},
		{name: "future event", format: FormatNDJSON, body: `{"event_id":"f","user":"u","team":"t","score":1,"event_time":"2026-11-01T14:00:00Z"}`,
			want: []string{"event_time_in_future"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := ParseBody(tc.format, []byte(tc.body), parseNow)
			if tc.wantErr != "" {
				if err == nil || err.Reason != tc.wantErr || err.Status != http.StatusBadRequest {
					t.Fatalf("err = %v, want 400 %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := reasons(items); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("items = %v, want %v", got, tc.want)
			}
			for i, it := range items {
				if it.Index != i {
					t.Errorf("item %d has index %d", i, it.Index)
				}
				if tc.wantRaw != nil && string(it.Raw) != tc.wantRaw[i] {
					t.Errorf("item %d raw = %q, want %q", i, it.Raw, tc.wantRaw[i])
				}
			}
		})
	}
}

func TestParseBodyPayloads(t *testing.T) {
	items, err := ParseBody(FormatCSV, []byte("alice,red,5,1793527200123,2026-11-01 10:00:00.123\n"), parseNow)
	if err != nil || len(items) != 1 || items[0].Err != nil {
		t.Fatalf("items %+v, err %v", items, err)
	}
	want := schemas.GameEvent{EventID: schemas.CSVEventID([]byte("alice,red,5,1793527200123,2026-11-01 10:00:00.123")),
		User: "alice", Team: "red", Score: 5, EventTime: time.UnixMilli(1793527200123).UTC(), SchemaVersion: 1}
	if items[0].Event != want {
		t.Fatalf("event = %+v, want %+v", items[0].Event, want)
	}
	// CSV input is published as the normalised JSON line.
	if !bytes.Equal(items[0].Payload, want.MarshalLine()) {
		t.Fatalf("payload = %s, want %s", items[0].Payload, want.MarshalLine())
	}
	// JSON input is published exactly as received.
	raw := `{ "event_id":"a", "user":"u","team":"t","score":1,"event_time":"2026-11-01T10:00:00+02:00", "extra": [1] }`
	items, err = ParseBody(FormatJSON, []byte("["+raw+"]"), parseNow)
	if err != nil || items[0].Err != nil || string(items[0].Payload) != raw {
		t.Fatalf("payload = %q (err %v, %v), want %q", items[0].Payload, err, items[0].Err, raw)
	}
}

func TestFormatOf(t *testing.T) {
	for ct, want := range map[string]Format{
		"application/json":                  FormatJSON,
		"application/json; charset=utf-8":   FormatJSON,
		"Application/JSON":                  FormatJSON,
		"application/x-ndjson":              FormatNDJSON,
		"text/csv; charset=utf-8; header=":  FormatCSV,
		"text/plain":                        0,
		"":                                  0,
		"application/x-www-form-urlencoded": 0,
		";;":                                0,
	} {
		got, err := FormatOf(ct)
		if got != want || (want == 0) != (err != nil) {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", ct, got, err, want)
		}
		if err != nil && (err.Status != http.StatusUnsupportedMediaType || err.Reason != ReasonUnsupportedMediaType) {
			t.Errorf("FormatOf(%q) error = %v", ct, err)
		}
	}
}

func TestSniffFormat(t *testing.T) {
	for payload, want := range map[string]Format{
		event("a"):                             FormatJSON,
		"[" + event("a") + "]":                 FormatJSON,
		"{\n\"event_id\": \"a\"\n}":            FormatJSON,
		event("a") + "\n" + event("b"):         FormatNDJSON,
		"{broken":                              FormatJSON,
		"alice,red,5,1793527200000":            FormatCSV,
		"":                                     FormatJSON,
		"  \n" + event("a") + "\n" + event(""): FormatNDJSON,
	} {
		if got := SniffFormat([]byte(payload)); got != want {
			t.Errorf("SniffFormat(%q) = %v, want %v", payload, got, want)
		}
	}
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadBody(t *testing.T) {
	plain := []byte(event("a"))
	for _, tc := range []struct {
		name, encoding string
		body           []byte
		limit          int64
		want           string // body or error reason
	}{
		{"plain", "", plain, 1 << 10, string(plain)},
		{"identity", "identity", plain, 1 << 10, string(plain)},
		{"gzip", "gzip", gzipped(t, plain), 1 << 10, string(plain)},
		{"x-gzip", "X-Gzip", gzipped(t, plain), 1 << 10, string(plain)},
		{"two gzip members", "gzip", append(gzipped(t, plain[:10]), gzipped(t, plain[10:])...), 1 << 10, string(plain)},
		{"gzip garbage", "gzip", []byte("this is not gzip at all"), 1 << 10, ReasonMalformedGzip},
		{"truncated gzip", "gzip", gzipped(t, plain)[:20], 1 << 10, ReasonMalformedGzip},
		{"empty gzip body", "gzip", nil, 1 << 10, ReasonEmptyBody},
		{"gzip bomb", "gzip", gzipped(t, bytes.Repeat([]byte(" "), 1<<20)), 1 << 10, ReasonBodyTooLarge},
		{"too large", "", bytes.Repeat([]byte("x"), 1025), 1 << 10, ReasonBodyTooLarge},
		{"exactly the limit", "", bytes.Repeat([]byte("x"), 1024), 1 << 10, strings.Repeat("x", 1024)},
		{"brotli", "br", plain, 1 << 10, ReasonUnsupportedContentEncoding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := ReadBody(bytes.NewReader(tc.body), tc.encoding, tc.limit, &buf)
			if err != nil {
				if err.Reason != tc.want {
					t.Fatalf("err = %v, want %s", err, tc.want)
				}
				return
			}
			if buf.String() != tc.want {
				t.Fatalf("body = %q, want %s", buf.String(), tc.want)
			}
		})
	}
}

// FuzzParseBody checks ParseBody on arbitrary bodies: it never panics,
// numbers items 0..n-1, gives every item either an event or a reason, and
// splits a valid JSON array exactly as encoding/json does.
func FuzzParseBody(f *testing.F) {
	for _, seed := range []string{
		event("a"),
		"[" + event("a") + "," + event("b") + "]",
		`[{"event_id":"a],[{\"","user":"u]","team":"t{","score":1,"event_time":"2026-11-01T10:00:00Z"}]`,
		`[` + event("a") + `,`,
		`[,]`, `[]`, `]`, `[[[]]]`, `["\\"]`, `["\`,
		event("a") + "\n\n" + `{"event_id": 1}` + "\r\n",
		"alice,red,5,1793527200000,2026-11-01 10:00:00.000\nbob,blue,x,1\n",
	} {
		for _, format := range []uint8{0, 1, 2} { // JSON, NDJSON, CSV
			f.Add(format, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, format uint8, body []byte) {
		fm := Format(format%3 + 1)
		items, rerr := ParseBody(fm, body, parseNow)
		if rerr != nil {
			if rerr.Reason != ReasonEmptyBody || rerr.Status != http.StatusBadRequest {
				t.Fatalf("unexpected request error %v", rerr)
			}
			if len(items) != 0 {
				t.Fatalf("items with a request error")
			}
			return
		}
		if len(items) == 0 {
			t.Fatal("no items and no error")
		}
		for i, it := range items {
			if it.Index != i {
				t.Fatalf("item %d has index %d", i, it.Index)
			}
			if len(it.Raw) == 0 {
				t.Fatalf("item %d has no raw bytes", i)
			}
			if !bytes.Equal(it.Raw, bytes.TrimSpace(it.Raw)) {
				t.Fatalf("item %d raw %q has surrounding space", i, it.Raw)
			}
			if it.Err != nil {
				if it.Err.Reason == "" {
					t.Fatalf("item %d rejected without a reason", i)
				}
				continue
			}
			// A valid item's payload decodes to the same event.
			e, err := schemas.DecodeJSON(it.Payload, parseNow)
			if err != nil {
				t.Fatalf("payload %q of a valid item does not decode: %v", it.Payload, err)
			}
			if e != it.Event {
				t.Fatalf("payload decodes to %+v, item has %+v", e, it.Event)
			}
		}
		trimmed := bytes.TrimSpace(body)
		if fm == FormatJSON && trimmed[0] == '[' && json.Valid(trimmed) {
			var raws []json.RawMessage
			if err := json.Unmarshal(trimmed, &raws); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if len(raws) != len(items) {
				t.Fatalf("%d items, encoding/json sees %d elements", len(items), len(raws))
			}
			for i := range raws {
				if !bytes.Equal(raws[i], items[i].Raw) {
					t.Fatalf("element %d = %q, encoding/json has %q", i, items[i].Raw, raws[i])
				}
			}
		}
		if fm != FormatJSON {
			lines := 0
			for _, l := range bytes.Split(body, []byte{'\n'}) {
				if len(bytes.TrimSpace(l)) > 0 {
					lines++
				}
			}
			if lines != len(items) {
				t.Fatalf("%d items from %d non-blank lines", len(items), lines)
			}
		}
	})
}

func TestAuthenticator(t *testing.T) {
	off := NewAuthenticator(nil)
	if off.Enabled() || off.CheckHeader("") != nil {
		t.Fatal("no tokens should mean no authentication")
	}
	a := NewAuthenticator([]string{"s3cret", " other ", ""})
	for header, want := range map[string]string{
		"":                   ReasonMissingToken,
		"Basic dXNlcjpwYXNz": ReasonMalformedAuthorization,
		"Bearer":             ReasonMalformedAuthorization,
		"Bearer ":            ReasonMalformedAuthorization,
		"Bearer wrong":       ReasonInvalidToken,
		"Bearer s3cret2":     ReasonInvalidToken,
		"Bearer s3cre":       ReasonInvalidToken,
		"Bearer s3cret":      "",
		"bearer other":       "",
		"Bearer  s3cret ":    "",
	} {
		err := a.CheckHeader(header)
		got := ""
		if err != nil {
			got = err.Reason
			wantStatus := http.StatusUnauthorized
			if want == ReasonInvalidToken {
				wantStatus = http.StatusForbidden
			}
			if err.Status != wantStatus {
				t.Errorf("%q: status %d, want %d", header, err.Status, wantStatus)
			}
		}
		if got != want {
			t.Errorf("CheckHeader(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/tokens"
	if err := os.WriteFile(path, []byte("# rotation: old and new\n\nold-token\n  new-token  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTokenFile(path)
	if err != nil || strings.Join(got, ",") != "old-token,new-token" {
		t.Fatalf("tokens = %q, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(path); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("empty token file: err = %v", err)
	}
	if _, err := ReadTokenFile(dir + "/missing"); err == nil {
		t.Fatal("missing token file accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{TLSCertFile: "c.pem"}, "both a certificate and a key"},
		{Config{Topic: "x", DeadLetterTopic: "x"}, "must differ"},
		{Config{BatchCount: 5000}, "batch count"},
		{Config{MaxOutstanding: -1}, "max outstanding"},
		{Config{PublishTimeout: -time.Second}, "negative"},
	} {
		err := tc.cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
