package pubsubsource

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEventTimeOf(t *testing.T) {
	pub := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	pubUTC := pub.UTC()
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	tests := []struct {
		name    string
		attrs   map[string]string
		attr    string
		want    time.Time
		wantErr string // substring; "" = no error
	}{
		{name: "rfc3339", attrs: map[string]string{"event_time": "2026-11-01T10:00:00Z"}, want: utc("2026-11-01T10:00:00Z")},
		{name: "rfc3339 millis fraction", attrs: map[string]string{"event_time": "2026-11-01T10:00:00.250Z"}, want: utc("2026-11-01T10:00:00.25Z")},
		{name: "rfc3339 nanos fraction", attrs: map[string]string{"event_time": "2026-11-01T10:00:00.123456789Z"}, want: utc("2026-11-01T10:00:00.123456789Z")},
		{name: "rfc3339 offset", attrs: map[string]string{"event_time": "2026-11-01T11:30:00.5+01:30"}, want: utc("2026-11-01T10:00:00.5Z")},
		{name: "rfc3339 negative offset", attrs: map[string]string{"event_time": "2026-11-01T05:00:00-05:00"}, want: utc("2026-11-01T10:00:00Z")},
		{name: "epoch millis", attrs: map[string]string{"event_time": "1761991200123"}, want: time.UnixMilli(1761991200123).UTC()},
		{name: "epoch zero", attrs: map[string]string{"event_time": "0"}, want: time.Unix(0, 0).UTC()},
		{name: "negative millis", attrs: map[string]string{"event_time": "-1000"}, want: time.Unix(-1, 0).UTC()},
		{name: "custom attribute", attrs: map[string]string{"ts": "2026-11-01T10:00:00Z", "event_time": "garbage"}, attr: "ts", want: utc("2026-11-01T10:00:00Z")},
		{name: "missing attribute", attrs: map[string]string{"k": "v"}, want: pubUTC},
		{name: "nil attributes", want: pubUTC},
		{name: "publish time only", attrs: map[string]string{"event_time": "2026-11-01T10:00:00Z"}, attr: "-", want: pubUTC},
		{name: "garbage", attrs: map[string]string{"event_time": "yesterday"}, want: pubUTC, wantErr: `event_time="yesterday": neither an RFC 3339 timestamp nor epoch milliseconds`},
		{name: "empty", attrs: map[string]string{"event_time": ""}, want: pubUTC, wantErr: "empty"},
		{name: "date only", attrs: map[string]string{"event_time": "2026-11-01"}, want: pubUTC, wantErr: "neither"},
		{name: "no zone", attrs: map[string]string{"event_time": "2026-11-01T10:00:00"}, want: pubUTC, wantErr: "neither"},
		{name: "space separator", attrs: map[string]string{"event_time": "2026-11-01 10:00:00Z"}, want: pubUTC, wantErr: "neither"},
		{name: "padded", attrs: map[string]string{"event_time": " 2026-11-01T10:00:00Z"}, want: pubUTC, wantErr: "neither"},
		{name: "seconds with fraction", attrs: map[string]string{"event_time": "1761991200.5"}, want: pubUTC, wantErr: "neither"},
		{name: "plus sign millis", attrs: map[string]string{"event_time": "+1761991200000"}, want: pubUTC, wantErr: "neither"},
		{name: "millis overflow", attrs: map[string]string{"event_time": "99999999999999999999"}, want: pubUTC, wantErr: "out of range"},
		{name: "millis beyond year 9999", attrs: map[string]string{"event_time": "253402300800000"}, want: pubUTC, wantErr: "outside the years 0001-9999"},
		{name: "millis before year 1", attrs: map[string]string{"event_time": "-62135596800001"}, want: pubUTC, wantErr: "outside the years"},
		{name: "year zero", attrs: map[string]string{"event_time": "0000-12-31T23:59:59Z"}, want: pubUTC, wantErr: "outside the years"},
		{name: "last millisecond of 9999", attrs: map[string]string{"event_time": "253402300799999"}, want: time.UnixMilli(253402300799999).UTC()},
		{name: "long garbage quoted short", attrs: map[string]string{"event_time": strings.Repeat("x", 500)}, want: pubUTC, wantErr: `"` + strings.Repeat("x", 32) + `"…`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EventTimeOf(tc.attrs, tc.attr, pub)
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("time %v, want %v (UTC)", got, tc.want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("no error, want one containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzEventTimeOf checks that any attribute value gives either a time in
// the years 0001–9999 that round-trips through its own format, or the
// publish time and an error quoting a bounded part of the value.
func FuzzEventTimeOf(f *testing.F) {
	for _, s := range []string{"2026-11-01T10:00:00Z", "2026-11-01T10:00:00.123456789+05:30", "1761991200123", "-1", "",
		"yesterday", "9999-12-31T23:59:59.999999999Z", "0000-01-01T00:00:00Z", "99999999999999999999", "1e3"} {
		f.Add(s)
	}
	pub := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		got, err := EventTimeOf(map[string]string{"event_time": v}, "", pub)
		if err != nil {
			if !got.Equal(pub) {
				t.Fatalf("%q: error %v but time %v, want the publish time", v, err, got)
			}
			if len(err.Error()) > 250 {
				t.Fatalf("%q: error message of %d bytes", v, len(err.Error()))
			}
			return
		}
		if got.Location() != time.UTC || got.Before(minEventTime) || !got.Before(maxEventTime) {
			t.Fatalf("%q: time %v outside the accepted range or not UTC", v, got)
		}
		if isMillis(v) {
			if ms, _ := strconv.ParseInt(v, 10, 64); got.UnixMilli() != ms {
				t.Fatalf("%q: %v is %d ms", v, got, got.UnixMilli())
			}
			return
		}
		again, err := EventTimeOf(map[string]string{"event_time": got.Format(time.RFC3339Nano)}, "", pub)
		if err != nil || !again.Equal(got) {
			t.Fatalf("%q: %v does not round-trip: %v, %v", v, got, again, err)
		}
	})
}
