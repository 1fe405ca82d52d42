package gen

import (
	"fmt"
	"strings"
	"time"

	"github.com/railyard-dev/railyard/schemas"
)

// Formats of generated lines.
const (
	// FormatJSON is railyard's wire and lake format: one normalised JSON
	// object per line, as schemas.GameEvent.MarshalLine writes it.
	FormatJSON = "json"
	// FormatCSV is Beam's mobile-gaming CSV line
	// "user,team,score,timestamp_ms,readable_time".
	FormatCSV = "csv"
)

// Defaults. A zero field of Config takes these (except the rates, where
// zero means none; DefaultConfig has the default rates).
const (
	DefaultEvents          = 100_000
	DefaultHours           = 24
	DefaultTeams           = 20
	DefaultUsers           = 500
	DefaultZipfS           = 1.2
	DefaultDuplicateRate   = 0.02
	DefaultInvalidRate     = 0.01
	DefaultLateRate        = 0.05
	DefaultFormat          = FormatJSON
	DefaultDuplicateWindow = 1024
	DefaultDuplicateMaxAge = 10 * time.Minute
	DefaultMaxDeviceDelay  = 30 * time.Second
	DefaultMinLateness     = 10 * time.Minute
	DefaultMaxLateness     = 2 * time.Hour
)

// DefaultStart is the default start of the arrival interval: a fixed date,
// so that runs are reproducible.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Limits that keep names and tables reasonable.
const (
	MaxTeams = 100_000
	MaxUsers = 100_000_000
)

// Config describes one generated run. Use DefaultConfig and change what you
// need; zero values of Start, Hours, Teams, Users, ZipfS, Format,
// DuplicateWindow, DuplicateMaxAge, MaxDeviceDelay, MinLateness and
// MaxLateness take the
// defaults. The rates are used as given: zero means none.
type Config struct {
	// Events is the number of lines to generate, all kinds included.
	Events int64
	// Seed selects the run; the same Config gives byte-identical output.
	Seed int64
	// Start is the beginning of the arrival interval [Start, Start+Hours);
	// it is used in UTC, truncated to the millisecond. Default DefaultStart.
	Start time.Time
	// Hours is the length of the arrival interval. Default 24.
	Hours int
	// Teams and Users are the numbers of teams and users (Users ≥ Teams;
	// user k plays in team k mod Teams). Default 20 and 500.
	Teams, Users int
	// ZipfS is the exponent (> 1) of the Zipf skew of teams and of users
	// within a team; larger is more skewed. Default 1.2.
	ZipfS float64
	// DuplicateRate is the fraction of lines that repeat an earlier valid
	// line exactly (same event_id). Default 0.02.
	DuplicateRate float64
	// InvalidRate is the fraction of lines that fail validation. Default 0.01.
	InvalidRate float64
	// LateRate is the fraction of the valid unique events whose event time
	// is MinLateness..MaxLateness before their arrival. Default 0.05.
	LateRate float64
	// Format is FormatJSON or FormatCSV. Default FormatJSON.
	Format string
	// DuplicateWindow is how many recent valid lines a duplicate is drawn
	// from (the memory bound). Default 1024.
	DuplicateWindow int
	// DuplicateMaxAge limits duplicates to lines that arrived at most this
	// long before, as retries and redeliveries do; when no line is that
	// recent, the newest one is repeated. Default 10m.
	DuplicateMaxAge time.Duration
	// MaxDeviceDelay bounds the delay between event and arrival of an event
	// that is not late. Default 30s.
	MaxDeviceDelay time.Duration
	// MinLateness and MaxLateness bound the lateness of late events.
	// Default 10m and 2h.
	MinLateness, MaxLateness time.Duration
}

// DefaultConfig returns the documented defaults (Events DefaultEvents, Seed 1).
func DefaultConfig() Config {
	return Config{
		Events:        DefaultEvents,
		Seed:          1,
		DuplicateRate: DefaultDuplicateRate,
		InvalidRate:   DefaultInvalidRate,
		LateRate:      DefaultLateRate,
	}.WithDefaults()
}

// WithDefaults returns c with its zero fields (other than Events, Seed and
// the rates) set to the defaults, Start in UTC truncated to the millisecond
// and Format lower-cased.
func (c Config) WithDefaults() Config {
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(time.Millisecond)
	if c.Hours == 0 {
		c.Hours = DefaultHours
	}
	if c.Teams == 0 {
		c.Teams = DefaultTeams
	}
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	if c.ZipfS == 0 {
		c.ZipfS = DefaultZipfS
	}
	c.Format = strings.ToLower(strings.TrimSpace(c.Format))
	if c.Format == "" {
		c.Format = DefaultFormat
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.DuplicateMaxAge == 0 {
		c.DuplicateMaxAge = DefaultDuplicateMaxAge
	}
	if c.MaxDeviceDelay == 0 {
		c.MaxDeviceDelay = DefaultMaxDeviceDelay
	}
	if c.MinLateness == 0 {
		c.MinLateness = DefaultMinLateness
	}
	if c.MaxLateness == 0 {
		c.MaxLateness = DefaultMaxLateness
	}
	return c
}

// End is the end (exclusive) of the arrival interval, Start+Hours. Every
// event time of the run is before End.
func (c Config) End() time.Time {
	return c.Start.Add(time.Duration(c.Hours) * time.Hour)
}

// Validate reports every invalid setting of c (after WithDefaults), naming
// the setting.
func (c Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Events < 0 {
		bad("events: %d is negative", c.Events)
	}
	if c.Start.Before(schemas.EarliestEventTime) {
		bad("start: %s is before %s, the oldest event time railyard accepts", c.Start.Format(time.RFC3339), schemas.EarliestEventTime.Format(time.RFC3339))
	}
	if c.Hours < 1 || c.Hours > 24*366 {
		bad("hours: %d is outside 1..%d", c.Hours, 24*366)
	}
	if c.Teams < 1 || c.Teams > MaxTeams {
		bad("teams: %d is outside 1..%d", c.Teams, MaxTeams)
	}
	if c.Users < c.Teams || c.Users > MaxUsers {
		bad("users: %d is outside teams..%d (every team needs a user; teams is %d)", c.Users, MaxUsers, c.Teams)
	}
	if !(c.ZipfS > 1) || c.ZipfS > 100 {
		bad("zipf_s: %v must be > 1 and ≤ 100 (1.01 is nearly uniform over a few items, 2 is strongly skewed)", c.ZipfS)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"dup_rate", c.DuplicateRate}, {"invalid_rate", c.InvalidRate}, {"late_rate", c.LateRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			bad("%s: %v is outside 0..1", r.name, r.v)
		}
	}
	if c.DuplicateRate+c.InvalidRate > 1 {
		bad("dup_rate + invalid_rate: %v exceeds 1", c.DuplicateRate+c.InvalidRate)
	}
	if c.Format != FormatJSON && c.Format != FormatCSV {
		bad("format: %q is not %q or %q", c.Format, FormatJSON, FormatCSV)
	}
	if c.DuplicateWindow < 1 || c.DuplicateWindow > 1<<20 {
		bad("duplicate window: %d is outside 1..%d", c.DuplicateWindow, 1<<20)
	}
	if c.DuplicateMaxAge < 0 {
		bad("duplicate max age: %s is negative", c.DuplicateMaxAge)
	}
	if c.MaxDeviceDelay < 0 || c.MaxDeviceDelay > c.MinLateness {
		bad("max device delay: %s must be between 0 and the minimum lateness %s", c.MaxDeviceDelay, c.MinLateness)
	}
	if c.MinLateness <= 0 || c.MaxLateness < c.MinLateness {
		bad("lateness: min %s and max %s must satisfy 0 < min ≤ max", c.MinLateness, c.MaxLateness)
	}
	if c.LateRate > 0 && c.Hours > 0 && c.MinLateness >= time.Duration(c.Hours)*time.Hour {
		bad("late_rate: %v needs an arrival interval longer than the minimum lateness %s (hours is %d)", c.LateRate, c.MinLateness, c.Hours)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("gen: invalid config: %s", strings.Join(errs, "; "))
}
