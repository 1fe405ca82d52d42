package speedjob

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/railyard-dev/railyard/transforms/gaming"
)

// TestSpeedPaneTiming checks pane timing and index in real time on prism;
// TestSpeedPaneTimingOnFlink runs the same on Flink.
func TestSpeedPaneTiming(t *testing.T) {
	testPaneTiming(t, newSpeedEnv(t, "spt_"))
}

// testPaneTiming drives the team-score trigger with real events near now,
// against the wall clock, on the runner the flags select (TestStream is
// not usable on Flink: it mangles strings and structs):
//
//   - three events of one window W ten minutes ago arrive together: the
//     source's watermark sits at their event time, inside W, so the early
//     trigger (1 s) may fire EARLY panes; once the subscription has been
//     idle for 5 s the watermark moves to now − 1 s, past W's end, and W
//     fires exactly one ON_TIME pane with all three;
//   - then a fourth event of W arrives, observably late but within the
//     allowed lateness (1 h): a LATE pane with the accumulated four, with
//     the next pane index;
//   - and an event two hours old, beyond the allowed lateness: droppably
//     late, no row at all for its window.
func testPaneTiming(t *testing.T, env *speedEnv) {
	now := time.Now().UTC()
	w := now.Add(-10 * time.Minute).Truncate(time.Minute)
	dropped := now.Add(-2 * time.Hour).Truncate(time.Minute)
	publish := func(id string, at time.Time, score int64) {
		t.Helper()
		e := map[string]any{"event_id": id, "user": "u1_red", "team": "red", "score": score,
			"event_time": at.Format(time.RFC3339Nano)}
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		env.stack.PubSubServer.Publish(env.topic, data, map[string]string{
			schemas.AttrEventID: id, schemas.AttrEventTime: at.Format(schemas.EventTimeAttrLayout)})
	}
	for i := range 3 {
		publish(fmt.Sprintf("on-time-%d", i), w.Add(time.Duration(10+i)*time.Second), 10)
	}

	cfg := env.config("speed-panes")
	cfg.Team = gaming.TeamScoreOptions{Window: time.Minute, AllowedLateness: time.Hour, EarlyDelay: time.Second, LateDelay: time.Second}
	// Long enough for the test to see the ON_TIME pane and publish the late
	// events before the run drains.
	cfg.StopAfterIdle = 45 * time.Second
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		_, err := Run(context.Background(), cfg, &out)
		done <- err
	}()

	table := env.bq.Catalog().TableID(catalog.TableRealtimeTeam)
	rowsOf := func(start time.Time) []paneRow {
		var rows []paneRow
		// Filtered here: the emulator compares a TIMESTAMP column with a
		// timestamp literal as text.
		for _, r := range env.query(t, fmt.Sprintf("SELECT score, events, pane_index, timing, is_last, window_start FROM `%s` WHERE team = 'red'", table)) {
			if r[5].(time.Time).Equal(start) {
				rows = append(rows, paneRow{Score: r[0].(int64), Events: r[1].(int64), Pane: r[2].(int64), Timing: r[3].(string), IsLast: r[4].(bool)})
			}
		}
		slices.SortFunc(rows, func(a, b paneRow) int { return cmp.Compare(a.Pane, b.Pane) })
		return rows
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		rows := rowsOf(w)
		if len(rows) > 0 && rows[len(rows)-1].Timing == schemas.TimingOnTime {
			break
		}
		select {
		case err := <-done:
			all := env.query(t, fmt.Sprintf("SELECT team, window_start, timing, events FROM `%s`", table))
			t.Fatalf("the run ended before W's ON_TIME pane was written (%v); rows of W %+v, all rows %v\n%s", err, rows, all, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ON_TIME pane for W within 3 minutes; rows %+v", rows)
		}
		time.Sleep(500 * time.Millisecond)
	}
	publish("late", w.Add(20*time.Second), 5)
	publish("too-late", dropped.Add(5*time.Second), 7)
	if err := <-done; err != nil {
		t.Fatalf("speed run: %v\n%s", err, out.String())
	}
	t.Logf("speed run:\n%s", out.String())

	rows := rowsOf(w)
	var timings []string
	for i, r := range rows {
		timings = append(timings, fmt.Sprintf("%s#%d=%d/%d", r.Timing, r.Pane, r.Score, r.Events))
		if r.Pane != int64(i) {
			t.Errorf("pane indexes are not 0, 1, 2, …: %v", timings)
		}
	}
	// EARLY panes (any number, each with the three events), one ON_TIME
	// with three, one LATE with four.
	n := len(rows)
	if n < 2 || rows[n-2].Timing != schemas.TimingOnTime || rows[n-2].Events != 3 || rows[n-2].Score != 30 ||
		rows[n-1].Timing != schemas.TimingLate || rows[n-1].Events != 4 || rows[n-1].Score != 35 {
		t.Fatalf("panes of W = %v; want EARLY…, ON_TIME=30/3, LATE=35/4", strings.Join(timings, " "))
	}
	for _, r := range rows[:n-2] {
		if r.Timing != schemas.TimingEarly || r.Events != 3 {
			t.Errorf("panes of W = %v; before ON_TIME only EARLY panes with the three on-time events", strings.Join(timings, " "))
		}
	}
	if late := rowsOf(dropped); len(late) != 0 {
		t.Errorf("the droppably late event's window has rows: %+v", late)
	}
	t.Logf("panes of W: %s", strings.Join(timings, " "))
}
