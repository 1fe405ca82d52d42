package serving

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/civil"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestGaps pins the gap rule: covered dates and run reaches (first hour
// or watermark to last watermark, to now while live) are subtracted from
// the range, which ends at the snapshot's time.
func TestGaps(t *testing.T) {
	asOf := at("2026-11-05T12:00:00Z")
	s := NewSnapshot(asOf, at("2026-10-01T00:00:00Z"), at("2026-11-07T00:00:00Z"), 0, Data{
		Covered: []Coverage{{ViewTeamScoresHourly, civil.Date{Year: 2026, Month: 11, Day: 1}}, {ViewUserScoresDaily, civil.Date{Year: 2026, Month: 11, Day: 2}}},
		Runs: []Run{
			// Reached from its first counted hour, before its first watermark.
			{RunID: "a", FirstWatermark: at("2026-11-02T05:00:00Z"), FirstWindow: at("2026-11-02T03:00:00Z"), LastWatermark: at("2026-11-02T20:00:00Z")},
			// Live: reaches now although its watermark lags.
			{RunID: "b", FirstWatermark: at("2026-11-05T06:00:00Z"), LastWatermark: at("2026-11-05T11:59:00Z"), Live: true},
		},
	})
	for _, c := range []struct {
		view, from, to, want string
	}{
		{ViewTeamScoresHourly, "2026-11-01T00:00:00Z", "2026-11-06T00:00:00Z",
			"[2026-11-02T00:00:00Z 2026-11-02T03:00:00Z) [2026-11-02T20:00:00Z 2026-11-05T06:00:00Z)"},
		// Each view has its coverage: 11-01 is covered for teams only,
		// 11-02 for users.
		{ViewUserScoresDaily, "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z", "[2026-11-01T00:00:00Z 2026-11-02T00:00:00Z)"},
		{ViewTeamScoresHourly, "2026-11-05T07:00:00Z", "2026-11-05T08:00:00Z", ""},
		{ViewTeamScoresHourly, "2026-11-06T00:00:00Z", "2026-11-07T00:00:00Z", ""}, // the future is no gap
	} {
		got := ""
		for i, g := range s.Gaps(c.view, at(c.from), at(c.to)) {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("[%s %s)", g.From.Format(time.RFC3339), g.To.Format(time.RFC3339))
		}
		if got != c.want {
			t.Errorf("%s %s..%s: gaps %s, want %s", c.view, c.from, c.to, got, c.want)
		}
	}
	if wm := s.RealtimeWatermark(); !wm.Equal(at("2026-11-05T11:59:00Z")) {
		t.Errorf("realtime watermark %s", wm)
	}
	if bt := s.BatchThrough(); bt[ViewTeamScoresHourly].String() != "2026-11-01" || bt[ViewUserScoresDaily].String() != "2026-11-02" {
		t.Errorf("batch through %v", bt)
	}
}

func TestRankingTies(t *testing.T) {
	h := at("2026-11-01T10:00:00Z")
	s := NewSnapshot(h, h.Add(-time.Hour), h.Add(48*time.Hour), 0, Data{
		TeamHours: []TeamHour{{Team: "b", WindowStart: h, Score: 5, Events: 1}, {Team: "a", WindowStart: h, Score: 5, Events: 2},
			{Team: "c", WindowStart: h.Add(time.Hour), Score: 9, Events: 1}, {Team: "c", WindowStart: h.Add(-time.Hour), Score: 100, Events: 1}},
	})
	got := fmt.Sprint(s.TopTeams(HourRange{From: h, To: h.Add(2 * time.Hour)}, 10))
	if want := "[{1 c 9 1} {2 a 5 2} {3 b 5 1}]"; got != want {
		t.Errorf("top teams %s, want %s", got, want)
	}
	if got := fmt.Sprint(s.TopTeams(HourRange{From: h, To: h.Add(time.Hour)}, 1)); got != "[{1 a 5 2}]" {
		t.Errorf("limit 1: %s", got)
	}
}
