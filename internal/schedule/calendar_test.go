package schedule

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/civil"
)

func job(t *testing.T, extra string) *Job {
	t.Helper()
	f, err := Parse("s.yaml", []byte("jobs:\n  - name: j\n    kind: beam\n    pipeline: batch\n"+extra), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f.Jobs[0]
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func date(s string) civil.Date {
	d, err := civil.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestNextAndPartition(t *testing.T) {
	j := job(t, "    cron: '15 2 * * *'\n")
	if got := j.Next(utc("2026-11-02T02:15:00Z")); !got.Equal(utc("2026-11-03T02:15:00Z")) {
		t.Fatalf("Next is not strictly after: %v", got)
	}
	if got := j.PartitionOf(utc("2026-11-02T02:15:00Z")); got != date("2026-11-01") {
		t.Fatalf("yesterday of 2026-11-02 = %v", got)
	}
	for rule, want := range map[string]string{"today": "2026-11-02", "-0d": "2026-11-02", "-3d": "2026-10-30"} {
		j := job(t, "    cron: '15 2 * * *'\n    partition: "+rule+"\n")
		if got := j.PartitionOf(utc("2026-11-02T02:15:00Z")); got != date(want) {
			t.Errorf("%s: %v, want %s", rule, got, want)
		}
	}
}

// TestTimezone: the cron and the partition date are read in the job's zone.
func TestTimezone(t *testing.T) {
	j := job(t, "    cron: '30 1 * * *'\n    timezone: Asia/Tokyo\n")
	// 01:30 in Tokyo is 16:30 UTC the day before.
	got := j.Next(utc("2026-11-01T00:00:00Z"))
	if !got.Equal(utc("2026-11-01T16:30:00Z")) {
		t.Fatalf("Next = %v", got)
	}
	if p := j.PartitionOf(got); p != date("2026-11-01") {
		t.Fatalf("partition = %v: yesterday of 2026-11-02 in Tokyo", p)
	}
}

func TestLatest(t *testing.T) {
	j := job(t, "    cron: '15 2 * * *'\n    start_date: 2026-11-01\n")
	now := utc("2026-11-10T03:00:00Z")
	got := j.Latest(now, 3)
	want := []time.Time{utc("2026-11-08T02:15:00Z"), utc("2026-11-09T02:15:00Z"), utc("2026-11-10T02:15:00Z")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Latest(3) = %v, want %v", got, want)
	}
	// Exactly at a firing, it counts.
	if got := j.Latest(utc("2026-11-10T02:15:00Z"), 1); len(got) != 1 || !got[0].Equal(utc("2026-11-10T02:15:00Z")) {
		t.Fatalf("Latest at the firing = %v", got)
	}
	// Nothing before the start date: the first eligible firing is
	// 2026-11-02 02:15 (partition 2026-11-01).
	all := j.Latest(now, 100)
	if len(all) != 9 || !all[0].Equal(utc("2026-11-02T02:15:00Z")) || j.PartitionOf(all[0]) != date("2026-11-01") {
		t.Fatalf("Latest(100) = %d firings from %v", len(all), all[0])
	}
	if got := j.Latest(utc("2026-11-01T12:00:00Z"), 5); len(got) != 0 {
		t.Fatalf("before the start date: %v", got)
	}
	// A minutely cron over a long span.
	m := job(t, "    cron: '* * * * *'\n")
	if got := m.Latest(now, 1000); len(got) != 1000 || !got[999].Equal(now) || !got[0].Equal(now.Add(-999*time.Minute)) {
		t.Fatalf("minutely: %d firings, %v … %v", len(got), got[0], got[len(got)-1])
	}
	// A yearly cron needs a long look back.
	y := job(t, "    cron: '@yearly'\n")
	if got := y.Latest(now, 3); len(got) != 3 || !got[0].Equal(utc("2024-01-01T00:00:00Z")) {
		t.Fatalf("yearly: %v", got)
	}
}

func TestFirings(t *testing.T) {
	j := job(t, "    cron: '0 */6 * * *'\n    start_date: 2026-11-01\n    partition: today\n")
	got := j.Firings(utc("2026-10-31T00:00:00Z"), utc("2026-11-01T12:00:00Z"), 10)
	want := []time.Time{utc("2026-11-01T00:00:00Z"), utc("2026-11-01T06:00:00Z"), utc("2026-11-01T12:00:00Z")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Firings = %v, want %v", got, want)
	}
	if got := j.Firings(utc("2026-10-31T00:00:00Z"), utc("2026-11-01T12:00:00Z"), 2); len(got) != 2 {
		t.Fatalf("limit: %v", got)
	}
}

func TestLatestFiringFor(t *testing.T) {
	j := job(t, "    cron: '15 */12 * * *'\n")
	// Partition 2026-11-01 (yesterday) is recomputed by the firings of
	// 2026-11-02: 00:15 and 12:15.
	if got, ok := j.LatestFiringFor(date("2026-11-01"), utc("2026-11-05T00:00:00Z")); !ok || !got.Equal(utc("2026-11-02T12:15:00Z")) {
		t.Fatalf("LatestFiringFor = %v %v", got, ok)
	}
	if got, ok := j.LatestFiringFor(date("2026-11-01"), utc("2026-11-02T06:00:00Z")); !ok || !got.Equal(utc("2026-11-02T00:15:00Z")) {
		t.Fatalf("LatestFiringFor before the second firing = %v %v", got, ok)
	}
	if _, ok := j.LatestFiringFor(date("2026-11-01"), utc("2026-11-02T00:00:00Z")); ok {
		t.Fatal("a firing was found before the partition's first firing")
	}
	if got, ok := j.FirstFiringFor(date("2026-11-01")); !ok || !got.Equal(utc("2026-11-02T00:15:00Z")) {
		t.Fatalf("FirstFiringFor = %v %v", got, ok)
	}
}
