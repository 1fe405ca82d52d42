package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// Fixture sizes: a week of batch (20 teams, 500 users), and today in
// realtime from two overlapping speed runs with superseded panes.
const (
	teams     = 20
	users     = 500
	batchDays = 6
)

// plantFixture applies the catalog and writes the bench fixture: the six
// days before today covered by batch (ledger SUCCEEDED), today's hours up
// to now from two speed runs (three panes per key and window, the first
// two superseded), and progress rows that keep the second run live.
func plantFixture(ctx context.Context, bq cliflags.BigQuery, now time.Time) error {
	client, err := bq.Client(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := bq.ApplyCatalog(ctx, client); err != nil {
		return err
	}
	cat := bq.Catalog()
	put := func(table string, rows any) error {
		ds, name, _ := strings.Cut(cat.TableID(table), ".")
		if err := client.Dataset(ds).Table(name).Inserter().Put(ctx, rows); err != nil {
			return fmt.Errorf("planting %s: %w", table, err)
		}
		return nil
	}
	rng := rand.New(rand.NewPCG(1, 2))
	today := now.Truncate(24 * time.Hour)
	var (
		hours  []schemas.TeamScore
		days   []schemas.UserScoreDaily
		ledger []schemas.BatchRun
	)
	for d := batchDays; d >= 1; d-- {
		day := today.AddDate(0, 0, -d)
		for h := range 24 {
			start := day.Add(time.Duration(h) * time.Hour)
			for t := range teams {
				hours = append(hours, schemas.TeamScore{Team: fmt.Sprintf("Team%d", t), Score: rng.Int64N(5000), Events: rng.Int64N(300) + 1,
					WindowStart: start, WindowEnd: start.Add(time.Hour), Timing: schemas.TimingOnTime, IsLast: true, ProcessingTime: start.Add(time.Hour)})
			}
		}
		for u := range users {
			days = append(days, schemas.UserScoreDaily{Day: civil.DateOf(day), User: fmt.Sprintf("user%d_Team%d", u, u%teams),
				Team: fmt.Sprintf("Team%d", u%teams), Score: rng.Int64N(2000), Events: rng.Int64N(100) + 1})
		}
		for _, v := range []string{catalog.TableTeamScoresHourly, catalog.TableUserScoresDaily} {
			ledger = append(ledger, schemas.BatchRun{View: v, Partition: civil.DateOf(day).String(), RunID: "bench-batch",
				StartTime: now, EndTime: now, Status: schemas.RunSucceeded})
		}
	}
	var rtHours []schemas.RealtimeTeamScore
	var rtDays []schemas.UserScoreDailyPane
	for _, run := range []string{"bench-speed-a", "bench-speed-b"} {
		for start := today; start.Before(now); start = start.Add(time.Hour) {
			for t := range teams {
				score, events := int64(0), int64(0)
				for pane := range int64(3) {
					score += rng.Int64N(1000)
					events += rng.Int64N(50) + 1
					rtHours = append(rtHours, schemas.RealtimeTeamScore{RunID: run, TeamScore: schemas.TeamScore{Team: fmt.Sprintf("Team%d", t),
						Score: score, Events: events, WindowStart: start, WindowEnd: start.Add(time.Hour), Timing: schemas.TimingEarly,
						PaneIndex: pane, ProcessingTime: now}})
				}
			}
		}
		for u := range users {
			score := rng.Int64N(500)
			for pane := range int64(2) {
				rtDays = append(rtDays, schemas.UserScoreDailyPane{RunID: run, Day: civil.DateOf(today), User: fmt.Sprintf("user%d_Team%d", u, u%teams),
					Team: fmt.Sprintf("Team%d", u%teams), Score: score + pane*10, Events: 10 + pane, Timing: schemas.TimingEarly, PaneIndex: pane, ProcessingTime: now})
			}
		}
	}
	progress := []schemas.StreamProgress{
		{Job: "speed", RunID: "bench-speed-a", ProcessingTime: today.Add(time.Minute), Watermark: today, MessagesRead: 1},
		{Job: "speed", RunID: "bench-speed-a", ProcessingTime: now.Add(-time.Hour), Watermark: now.Add(-time.Hour), MessagesRead: 1000},
		{Job: "speed", RunID: "bench-speed-b", ProcessingTime: today.Add(2 * time.Minute), Watermark: today, MessagesRead: 1},
		{Job: "speed", RunID: "bench-speed-b", ProcessingTime: now, Watermark: now.Add(-2 * time.Second), MessagesRead: 2000},
	}
	for _, p := range []struct {
		table string
		rows  any
	}{
		{catalog.TableTeamScoresHourly, hours}, {catalog.TableUserScoresDaily, days}, {catalog.TableBatchRuns, ledger},
		{catalog.TableRealtimeTeam, rtHours}, {catalog.TableRealtimeUserDaily, rtDays}, {catalog.TableStreamProgress, progress},
	} {
		if err := put(p.table, p.rows); err != nil {
			return err
		}
	}
	fmt.Printf("loadgen: planted %d batch team hours, %d batch user days, %d realtime team panes, %d realtime user panes in %s\n",
		len(hours), len(days), len(rtHours), len(rtDays), bq.Project)
	return nil
}
