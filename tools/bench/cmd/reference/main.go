// Command reference runs railyard's plain-Go reference implementation of the
// batch views (internal/reference) over a lake and prints its throughput
// and reconciliation counts: the benchmark's single-process baseline.
//
//	reference --root /tmp/lake --from 2026-11-01 --to 2026-11-01 [--workers N] [--now RFC3339] [--summary text|json] [--rows FILE]
//
// Run it under /usr/bin/time -v for peak RSS. events/s is the number of
// (non-blank) lines read divided by the wall time of the whole computation:
// listing, reading, decoding, deduplication and the three views.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/reference"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reference:", err)
		os.Exit(1)
	}
}

func run() error {
	root := flag.String("root", "", "lake root: a local directory or gs://bucket/prefix")
	fromS := flag.String("from", "", "first event date, YYYY-MM-DD")
	toS := flag.String("to", "", "last event date, YYYY-MM-DD (default: --from)")
	nowS := flag.String("now", "", "time of processing for validation, RFC 3339 (default: the current time)")
	workers := flag.Int("workers", 0, "files read and decoded at once (0: GOMAXPROCS)")
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
	opts := reference.Options{Workers: *workers}
	start := time.Now()
	res, err := opts.Compute(context.Background(), *root, from, to, now)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if res.Counts.Files == 0 {
		return fmt.Errorf("no lake files under %s for %s..%s (want <root>/game_events/dt=YYYY-MM-DD/hr=HH/*)", *root, from, to)
	}
	if err := res.Counts.Check(); err != nil {
		return err
	}
	eps := float64(res.Counts.Read) / elapsed.Seconds()
	w := *workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
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
			"root": *root, "from": from, "to": to, "workers": w,
			"seconds": elapsed.Seconds(), "events_per_second": eps,
			"counts": res.Counts,
			"rows": map[string]int{
				"user_scores_daily":  len(res.UserScoresDaily),
				"team_scores_hourly": len(res.TeamScoresHourly),
				"game_stats_daily":   len(res.GameStatsDaily),
			},
		})
	case "text":
		fmt.Printf("reference: %s %s..%s, %d worker(s): %d lines in %s, %.0f events/s\n",
			*root, from, to, w, res.Counts.Read, elapsed.Round(time.Millisecond), eps)
		fmt.Print(res.Counts)
		fmt.Printf("rows               user_scores_daily %d, team_scores_hourly %d, game_stats_daily %d\n",
			len(res.UserScoresDaily), len(res.TeamScoresHourly), len(res.GameStatsDaily))
		return nil
	default:
		return fmt.Errorf("--summary: %q is not text or json", *summary)
	}
}
