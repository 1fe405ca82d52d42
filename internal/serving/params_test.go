package serving

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/civil"
)

var testNow = time.Date(2026, 11, 5, 12, 30, 0, 0, time.UTC)

func TestParseDefaults(t *testing.T) {
	q, e := ParseTeamsQuery("", testNow)
	if e != nil || !q.Range.From.Equal(time.Date(2026, 11, 4, 13, 0, 0, 0, time.UTC)) || !q.Range.To.Equal(time.Date(2026, 11, 5, 13, 0, 0, 0, time.UTC)) || q.Limit != DefaultLimit {
		t.Errorf("teams defaults: %+v %v", q, e)
	}
	q, e = ParseTeamsQuery("from=2026-11-01T05:00:00%2B01:00", testNow)
	if e != nil || !q.Range.From.Equal(time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)) || q.Range.To.Sub(q.Range.From) != DefaultRange {
		t.Errorf("from only, with an offset: %+v %v", q, e)
	}
	u, e := ParseUsersQuery("limit=1000", testNow)
	if e != nil || u.Date != (civil.Date{Year: 2026, Month: 11, Day: 5}) || u.Limit != 1000 {
		t.Errorf("users defaults: %+v %v", u, e)
	}
	d, e := ParseUserDaysQuery("alice", "to=2026-11-03", testNow)
	if e != nil || d.Range.From.String() != "2026-10-27" || d.Range.To.String() != "2026-11-03" {
		t.Errorf("user days with to only: %+v %v", d, e)
	}
	d, e = ParseUserDaysQuery("alice", "from=2026-10-05&to=2026-11-05", testNow)
	if e != nil || d.Range.To.DaysSince(d.Range.From) != 31 {
		t.Errorf("a 31-day range is allowed: %+v %v", d, e)
	}
}

var knownReasons = []string{ReasonInvalidQuery, ReasonUnknownParameter, ReasonRepeatedParameter, ReasonInvalidTime,
	ReasonNotWholeHour, ReasonInvalidDate, ReasonEmptyRange, ReasonRangeTooLong, ReasonInvalidLimit, ReasonInvalidName}

// FuzzParseQuery feeds any query string (and name) to every endpoint's
// parser: none panics; a refusal has a known reason and a message; an
// accepted query obeys the limits, and its normalised form parses back to
// the same request.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		"", "from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&limit=5", "from=2026-11-01T10:30:00Z",
		"to=2026-11-01T10:00:00%2B05:30", "limit=0", "limit=1001", "limit=10&limit=10", "date=2026-11-01",
		"date=2026-02-30", "from=2026-11-01&to=2026-12-01", "from=%zz", "x=1", "from=9999-12-31T23:00:00Z",
		"from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z", "from=2026-11-01T10:00:00.000000001Z",
	} {
		f.Add(seed, "red")
	}
	f.Add("", "")
	f.Fuzz(func(t *testing.T, raw, name string) {
		check := func(what string, e *ParamError) bool {
			if e == nil {
				return true
			}
			if !slices.Contains(knownReasons, e.Reason) || e.Message == "" {
				t.Fatalf("%s(%q): unknown reason or no message: %+v", what, raw, e)
			}
			return false
		}
		checkHours := func(r HourRange) {
			if !r.From.Before(r.To) || r.To.Sub(r.From) > MaxRange || !r.From.Truncate(time.Hour).Equal(r.From) ||
				!r.To.Truncate(time.Hour).Equal(r.To) || r.From.Location() != time.UTC {
				t.Fatalf("%q: accepted bad hour range %v", raw, r)
			}
		}
		if q, e := ParseTeamsQuery(raw, testNow); check("teams", e) {
			checkHours(q.Range)
			if q.Limit < 1 || q.Limit > MaxLimit {
				t.Fatalf("%q: limit %d", raw, q.Limit)
			}
			again, e := ParseTeamsQuery(fmt.Sprintf("from=%s&to=%s&limit=%d", url.QueryEscape(q.Range.From.Format(time.RFC3339)),
				url.QueryEscape(q.Range.To.Format(time.RFC3339)), q.Limit), testNow)
			if e != nil || again != q {
				t.Fatalf("%q: normalised %+v parses to %+v, %v", raw, q, again, e)
			}
		}
		if q, e := ParseUsersQuery(raw, testNow); check("users", e) {
			if !q.Date.IsValid() || q.Limit < 1 || q.Limit > MaxLimit {
				t.Fatalf("%q: accepted %+v", raw, q)
			}
		}
		if q, e := ParseTeamHourlyQuery(name, raw, testNow); check("team hourly", e) {
			checkHours(q.Range)
			if q.Team != name || name == "" || len(name) > MaxNameBytes {
				t.Fatalf("name %q accepted as %q", name, q.Team)
			}
		}
		if q, e := ParseUserDaysQuery(name, raw, testNow); check("user days", e) {
			if !q.Range.From.Before(q.Range.To) || q.Range.To.DaysSince(q.Range.From) > 31 || q.User != name {
				t.Fatalf("%q %q: accepted %+v", name, raw, q)
			}
		}
	})
}
