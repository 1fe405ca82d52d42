package serving

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
)

// Limits of the query parameters.
const (
	// MaxRange is the longest range one request may ask for.
	MaxRange = 31 * 24 * time.Hour
	// MaxLimit is the largest limit; DefaultLimit applies without one.
	MaxLimit     = 1000
	DefaultLimit = 10
	// MaxNameBytes bounds a team or user name, as the event schema does.
	MaxNameBytes = 128
	// DefaultRange is the range of an hourly request without from and to:
	// the last 24 hours up to the hour after the snapshot's time.
	DefaultRange = 24 * time.Hour
)

// Reason codes of 400 answers: stable, for clients to key on.
const (
	ReasonInvalidQuery      = "invalid_query"      // the query string does not parse
	ReasonUnknownParameter  = "unknown_parameter"  // a parameter the endpoint does not take
	ReasonRepeatedParameter = "repeated_parameter" // a parameter given twice
	ReasonInvalidTime       = "invalid_time"       // not an RFC 3339 time
	ReasonNotWholeHour      = "not_whole_hour"     // a time that is not a whole UTC hour
	ReasonInvalidDate       = "invalid_date"       // not a YYYY-MM-DD date
	ReasonEmptyRange        = "empty_range"        // from ≥ to
	ReasonRangeTooLong      = "range_too_long"     // to - from over 31 days
	ReasonOutOfRange        = "out_of_range"       // before the oldest data the server keeps
	ReasonInvalidLimit      = "invalid_limit"      // limit not an integer in 1..1000
	ReasonInvalidName       = "invalid_name"       // team or user empty or over 128 bytes
)

// ParamError is a bad request parameter: a 400 with a stable reason.
type ParamError struct {
	Reason  string
	Message string
}

func (e *ParamError) Error() string { return e.Reason + ": " + e.Message }

func paramErr(reason, format string, args ...any) *ParamError {
	return &ParamError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// HourRange is [From, To) in whole UTC hours.
type HourRange struct {
	From, To time.Time
}

// DateRange is [From, To) in UTC dates.
type DateRange struct {
	From, To civil.Date
}

// TeamsQuery is GET /v1/leaderboard/teams.
type TeamsQuery struct {
	Range HourRange
	Limit int
}

// UsersQuery is GET /v1/leaderboard/users.
type UsersQuery struct {
	Date  civil.Date
	Limit int
}

// TeamHourlyQuery is GET /v1/teams/{team}/hourly.
type TeamHourlyQuery struct {
	Team  string
	Range HourRange
}

// UserDaysQuery is GET /v1/users/{user}.
type UserDaysQuery struct {
	User  string
	Range DateRange
}

// values parses a raw query and checks that it holds only the allowed
// parameters, each at most once.
func values(rawQuery string, allowed ...string) (url.Values, *ParamError) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, paramErr(ReasonInvalidQuery, "the query string does not parse: %v", err)
	}
	for k, vs := range q {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			return nil, paramErr(ReasonUnknownParameter, "unknown parameter %q; this endpoint takes %s", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, paramErr(ReasonRepeatedParameter, "parameter %q is given %d times", k, len(vs))
		}
	}
	return q, nil
}

// ParseTeamsQuery parses ?from=T&to=T&limit=N; now (the snapshot's time)
// gives the default range, the 24 hours before the hour after now.
func ParseTeamsQuery(rawQuery string, now time.Time) (TeamsQuery, *ParamError) {
	q, e := values(rawQuery, "from", "to", "limit")
	if e != nil {
		return TeamsQuery{}, e
	}
	r, e := hourRange(q, now)
	if e != nil {
		return TeamsQuery{}, e
	}
	limit, e := parseLimit(q)
	return TeamsQuery{Range: r, Limit: limit}, e
}

// ParseUsersQuery parses ?date=YYYY-MM-DD&limit=N; the default date is
// now's (UTC).
func ParseUsersQuery(rawQuery string, now time.Time) (UsersQuery, *ParamError) {
	q, e := values(rawQuery, "date", "limit")
	if e != nil {
		return UsersQuery{}, e
	}
	d := civil.DateOf(now.UTC())
	if v, ok := q["date"]; ok {
		if d, e = parseDate("date", v[0]); e != nil {
			return UsersQuery{}, e
		}
	}
	limit, e := parseLimit(q)
	return UsersQuery{Date: d, Limit: limit}, e
}

// ParseTeamHourlyQuery parses the team of the path and ?from=T&to=T.
func ParseTeamHourlyQuery(team, rawQuery string, now time.Time) (TeamHourlyQuery, *ParamError) {
	if e := checkName("team", team); e != nil {
		return TeamHourlyQuery{}, e
	}
	q, e := values(rawQuery, "from", "to")
	if e != nil {
		return TeamHourlyQuery{}, e
	}
	r, e := hourRange(q, now)
	return TeamHourlyQuery{Team: team, Range: r}, e
}

// ParseUserDaysQuery parses the user of the path and ?from=D&to=D (to
// exclusive); the default is the 7 days up to and including now's date.
func ParseUserDaysQuery(user, rawQuery string, now time.Time) (UserDaysQuery, *ParamError) {
	if e := checkName("user", user); e != nil {
		return UserDaysQuery{}, e
	}
	q, e := values(rawQuery, "from", "to")
	if e != nil {
		return UserDaysQuery{}, e
	}
	to := civil.DateOf(now.UTC()).AddDays(1)
	r := DateRange{From: to.AddDays(-7), To: to}
	_, hasFrom := q["from"]
	_, hasTo := q["to"]
	if hasFrom {
		if r.From, e = parseDate("from", q.Get("from")); e != nil {
			return UserDaysQuery{}, e
		}
	}
	if hasTo {
		if r.To, e = parseDate("to", q.Get("to")); e != nil {
			return UserDaysQuery{}, e
		}
	}
	switch {
	case hasFrom && !hasTo:
		r.To = r.From.AddDays(7)
	case hasTo && !hasFrom:
		r.From = r.To.AddDays(-7)
	}
	if !r.From.Before(r.To) {
		return UserDaysQuery{}, paramErr(ReasonEmptyRange, "from %s must be before to %s (to is exclusive)", r.From, r.To)
	}
	if r.To.DaysSince(r.From) > int(MaxRange/(24*time.Hour)) {
		return UserDaysQuery{}, paramErr(ReasonRangeTooLong, "from %s to %s is %d days; at most %d", r.From, r.To, r.To.DaysSince(r.From), int(MaxRange/(24*time.Hour)))
	}
	return UserDaysQuery{User: user, Range: r}, nil
}

func hourRange(q url.Values, now time.Time) (HourRange, *ParamError) {
	to := now.UTC().Truncate(time.Hour).Add(time.Hour)
	r := HourRange{From: to.Add(-DefaultRange), To: to}
	_, hasFrom := q["from"]
	_, hasTo := q["to"]
	var e *ParamError
	if hasFrom {
		if r.From, e = parseHour("from", q.Get("from")); e != nil {
			return HourRange{}, e
		}
	}
	if hasTo {
		if r.To, e = parseHour("to", q.Get("to")); e != nil {
			return HourRange{}, e
		}
	}
	switch {
	case hasFrom && !hasTo:
		r.To = r.From.Add(DefaultRange)
	case hasTo && !hasFrom:
		r.From = r.To.Add(-DefaultRange)
	}
	if !r.From.Before(r.To) {
		return HourRange{}, paramErr(ReasonEmptyRange, "from %s must be before to %s", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	}
	if r.To.Sub(r.From) > MaxRange {
		return HourRange{}, paramErr(ReasonRangeTooLong, "from %s to %s is %s; at most 31 days", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.To.Sub(r.From))
	}
	return r, nil
}

// minTime and maxTime bound the times accepted: what BigQuery's TIMESTAMP
// holds, so that nothing overflows in range arithmetic.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)
)

func parseHour(name, v string) (time.Time, *ParamError) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, paramErr(ReasonInvalidTime, "%s=%q is not an RFC 3339 time such as 2026-11-01T10:00:00Z", name, v)
	}
	t = t.UTC()
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, paramErr(ReasonInvalidTime, "%s=%q is outside the years 0001 to 9999", name, v)
	}
	if !t.Truncate(time.Hour).Equal(t) {
		return time.Time{}, paramErr(ReasonNotWholeHour, "%s=%q is not a whole hour (UTC); hours start at :00:00", name, v)
	}
	return t, nil
}

func parseDate(name, v string) (civil.Date, *ParamError) {
	d, err := civil.ParseDate(v)
	if err != nil || !d.IsValid() || d.String() != v || d.Year < 1 || d.Year > 9999 {
		return civil.Date{}, paramErr(ReasonInvalidDate, "%s=%q is not a date YYYY-MM-DD", name, v)
	}
	return d, nil
}

func parseLimit(q url.Values) (int, *ParamError) {
	v, ok := q["limit"]
	if !ok {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 1 || n > MaxLimit {
		return 0, paramErr(ReasonInvalidLimit, "limit=%q is not an integer from 1 to %d", v[0], MaxLimit)
	}
	return n, nil
}

func checkName(what, name string) *ParamError {
	if name == "" || len(name) > MaxNameBytes {
		return paramErr(ReasonInvalidName, "the %s name must be 1 to %d bytes; got %d", what, MaxNameBytes, len(name))
	}
	return nil
}
