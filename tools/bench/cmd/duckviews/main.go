// Command duckviews computes railyard's batch views with DuckDB SQL over a
// local lake (package duckviews) and prints the counts and the time each
// stage took: the single-machine tool the benchmark compares railyard with.
//
//	duckviews --root /tmp/lake --from 2026-11-01 --to 2026-11-01 [--threads N] [--memory_limit 4GB] [--now RFC3339] [--summary text|json] [--rows FILE]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/tools/bench/duckviews"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "duckviews:", err)
		os.Exit(1)
	}
}

func run() error {
	root := flag.String("root", "", "lake root: a local directory")
	fromS := flag.String("from", "", "first event date, YYYY-MM-DD")
	toS := flag.String("to", "", "last event date, YYYY-MM-DD (default: --from)")
	nowS := flag.String("now", "", "time of processing for validation, RFC 3339 (default: the current time)")
	threads := flag.Int("threads", 0, "DuckDB threads (0: all cores)")
	memLimit := flag.String("memory_limit", "", `DuckDB memory_limit, e.g. "2GB" (default: DuckDB's, 80% of RAM)`)
	summary := flag.String("summary", "text", "text or json")
	rows := flag.String("rows", "", "write the whole result (counts and rows) as JSON to this file")
	flag.Parse()
	if *root == "" || *fromS == "" {
		flag.Usage()
		return fmt.Errorf("--root and --from are required")
	}
	if *toS == "" {
		*toS = *fromS
	}
	from, err := civil.ParseDate(*fromS)
	if err != nil {
		return fmt.Errorf("--from: %v", err)
	}
	to, err := civil.ParseDate(*toS)
	if err != nil {
		return fmt.Errorf("--to: %v", err)
	}
	now := time.Now()
	if *nowS != "" {
		if now, err = time.Parse(time.RFC3339Nano, *nowS); err != nil {
			return fmt.Errorf("--now: %v", err)
		}
	}
	res, tm, err := duckviews.Options{Threads: *threads, MemoryLimit: *memLimit}.Compute(context.Background(), *root, from, to, now)
	if err != nil {
		return err
	}
	if res.Counts.Files == 0 {
		return fmt.Errorf("no lake files under %s for %s..%s (want <root>/game_events/dt=YYYY-MM-DD/hr=HH/*)", *root, from, to)
	}
	if err := res.Counts.Check(); err != nil {
		return err
	}
	eps := float64(res.Counts.Read) / tm.Total.Seconds()
	if *rows != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*rows, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	switch *summary {
	case "json":
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"root": *root, "from": from, "to": to, "threads": *threads,
			"seconds": tm.Total.Seconds(), "parse_seconds": tm.Parse.Seconds(),
			"dedupe_seconds": tm.Dedupe.Seconds(), "views_seconds": tm.Views.Seconds(),
			"events_per_second": eps, "counts": res.Counts,
			"rows": map[string]int{
				"user_scores_daily":  len(res.UserScoresDaily),
				"team_scores_hourly": len(res.TeamScoresHourly),
				"game_stats_daily":   len(res.GameStatsDaily),
			},
		})
	case "text":
		fmt.Printf("duckviews: %s %s..%s: %d lines in %s (parse %s, dedupe %s, views %s), %.0f events/s\n",
			*root, from, to, res.Counts.Read, tm.Total.Round(time.Millisecond), tm.Parse.Round(time.Millisecond),
			tm.Dedupe.Round(time.Millisecond), tm.Views.Round(time.Millisecond), eps)
		fmt.Print(res.Counts)
		fmt.Printf("rows               user_scores_daily %d, team_scores_hourly %d, game_stats_daily %d\n",
			len(res.UserScoresDaily), len(res.TeamScoresHourly), len(res.GameStatsDaily))
		return nil
	default:
		return fmt.Errorf("--summary: %q is not text or json", *summary)
	}
}
