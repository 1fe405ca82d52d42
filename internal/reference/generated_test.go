package reference

import (
	"context"
	"maps"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas"
)

// generated writes a generated lake under root and returns its summary.
func generated(t testing.TB, root string, cfg gen.Config) gen.Summary {
	t.Helper()
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gen.WriteLake(context.Background(), g, root, gen.LakeOptions{EventsPerFile: 2000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Summary
}

// genConfig spans three dates: 2026-11-01 12:00 to 2026-11-03 12:00.
func genConfig(events int64) gen.Config {
	cfg := gen.DefaultConfig()
	cfg.Events = events
	cfg.Seed = 7
	cfg.Start = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cfg.Hours = 48
	cfg.Users = 60 // few users: busy sessions, some spammers
	return cfg
}

func TestGeneratedLakeReconciles(t *testing.T) {
	root := t.TempDir()
	cfg := genConfig(30_000)
	sum := generated(t, root, cfg)
	now := cfg.End()

	res, err := Options{Workers: 1}.Compute(context.Background(), root, day1, day3, now)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Counts
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	// The generator's own summary: lines = valid unique + duplicates + invalid.
	if c.Read != sum.Lines || c.Invalid != sum.Invalid || c.Duplicates != sum.Duplicates ||
		c.Unique != sum.ValidUnique || c.Events != sum.ValidUnique || c.OutsidePartition != 0 ||
		c.BlankLines != 0 || c.ConflictingIDs != 0 {
		t.Errorf("counts %+v do not match the generator's summary %+v", c, sum)
	}
	if !maps.Equal(c.InvalidByReason, sum.InvalidByReason) {
		t.Errorf("invalid by reason %v, generator %v", c.InvalidByReason, sum.InvalidByReason)
	}

	// Every unique event is in user_scores_daily and team_scores_hourly
	// once; game_stats_daily leaves spammers' events out.
	var userEvents, userScore, teamEvents, teamScore, statEvents, statScore, spammers, sessions int64
	for _, r := range res.UserScoresDaily {
		userEvents += r.Events
		userScore += r.Score
	}
	for _, r := range res.TeamScoresHourly {
		teamEvents += r.Events
		teamScore += r.Score
		if r.WindowEnd.Sub(r.WindowStart) != time.Hour || r.ProcessingTime != r.WindowEnd || r.Timing != schemas.TimingOnTime || !r.IsLast || r.PaneIndex != 0 {
			t.Errorf("team score row %+v is not a final ON_TIME pane", r)
		}
	}
	for _, r := range res.GameStatsDaily {
		statEvents += r.Events
		statScore += r.Score
		spammers += r.SpammerUsers
		sessions += r.Sessions
		if r.Sessions > 0 && r.MeanSessionMinutes < 5 {
			t.Errorf("game stats %+v: a session lasts at least 5 minutes", r)
		}
	}
	if userEvents != c.Events || teamEvents != c.Events || userScore != teamScore {
		t.Errorf("user scores %d events / %d points, team scores %d / %d, want %d events", userEvents, userScore, teamEvents, teamScore, c.Events)
	}
	if statEvents >= c.Events || statScore >= userScore || spammers == 0 || sessions == 0 {
		t.Errorf("game stats: %d events, %d points, %d spammer users, %d sessions: expected some spammers and sessions", statEvents, statScore, spammers, sessions)
	}

	// The same lake with more workers gives the same result.
	par, err := Options{Workers: 3}.Compute(context.Background(), root, day1, day3, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, par) {
		t.Error("1 and 3 workers disagree")
	}

	// Day by day: every line is read once, user and team scores split by
	// day, and game stats too except for sessions crossing midnight.
	var read int64
	var users []schemas.UserScoreDaily
	var teams []schemas.TeamScore
	for _, d := range []civil.Date{day1, day2, day3} {
		r, err := Compute(context.Background(), root, d, d, now)
		if err != nil {
			t.Fatal(err)
		}
		if r.Counts.OutsidePartition != 0 {
			t.Errorf("%v: %d events outside the partition", d, r.Counts.OutsidePartition)
		}
		read += r.Counts.Read
		users = append(users, r.UserScoresDaily...)
		teams = append(teams, r.TeamScoresHourly...)
		for _, s := range r.GameStatsDaily {
			full := stat(t, res, d, s.Team)
			if s.Score != full.Score || s.Events != full.Events || s.SpammerUsers != full.SpammerUsers {
				t.Errorf("%v %s: day run %+v, full run %+v", d, s.Team, s, full)
			}
		}
	}
	if read != c.Read || !reflect.DeepEqual(users, res.UserScoresDaily) || !reflect.DeepEqual(teams, res.TeamScoresHourly) {
		t.Errorf("day-by-day runs differ from the full run (read %d vs %d)", read, c.Read)
	}
}

// TestGCSLake reads a lake on gs:// (fake-gcs-server through
// STORAGE_EMULATOR_HOST) and checks that it gives what the same lake on
// disk gives.
func TestGCSLake(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{GCS: true, Buckets: []string{"ref-lake"}})
	stack.SetEnvForTest(t)
	cfg := genConfig(5_000)
	local := t.TempDir()
	generated(t, local, cfg)
	generated(t, "gs://ref-lake/some/prefix", cfg)

	want, err := Compute(context.Background(), local, day1, day3, cfg.End())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Compute(context.Background(), "gs://ref-lake/some/prefix/", day1, day3, cfg.End())
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts.Files == 0 || got.Counts.Read != 5_000 {
		t.Fatalf("gs:// counts %+v", got.Counts)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("gs:// and local results differ:\n%+v\n%+v", got.Counts, want.Counts)
	}
	files, err := Options{}.Files(context.Background(), "gs://ref-lake/some/prefix", day2, day2)
	if err != nil || len(files) == 0 {
		t.Fatalf("Files: %v, %v", files, err)
	}
	for _, f := range files {
		if want := "gs://ref-lake/some/prefix/game_events/dt=2026-11-02/hr="; len(f) < len(want) || f[:len(want)] != want {
			t.Errorf("file %s is not under %s", f, want)
		}
	}
}

func BenchmarkCompute(b *testing.B) {
	root := b.TempDir()
	cfg := genConfig(100_000)
	generated(b, root, cfg)
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[workers], func(b *testing.B) {
			for b.Loop() {
				if _, err := (Options{Workers: workers}).Compute(context.Background(), root, day1, day3, cfg.End()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cfg.Events)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
