package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/railyard-dev/railyard/internal/gen"
	"github.com/railyard-dev/railyard/internal/ingest"
)

// Files under the work directory holding every line the demo posted, one
// per line, exactly as sent (a test recomputes the expected figures from
// them).
const (
	PostedHTTPFile = "posted-http.jsonl"
	PostedMQTTFile = "posted-mqtt.jsonl"
)

// trafficLateness bounds how late a live event may be: the generator's
// late events arrive 1 to 15 minutes after their event time (never before
// today, so that every live event belongs to an uncovered date).
const (
	trafficMinLateness = time.Minute
	trafficMaxLateness = 15 * time.Minute
)

// traffic posts today's live events to the gateway: lines of a generator
// whose arrival times follow the wall clock, the even ones in NDJSON
// batches over HTTP, the odd ones one by one over MQTT at QoS 1.
type traffic struct {
	g        *gen.Generator
	httpURL  string
	mqtt     mqtt.Client
	tally    *Tally
	httpLog  *os.File
	mqttLog  *os.File
	client   *http.Client
	pending  gen.Record
	havePend bool

	posted, viaHTTP, viaMQTT atomic.Int64
	accepted, rejected       atomic.Int64
}

// trafficConfig is the generator of the live traffic starting at start:
// rate lines per second, with the generator's default shares of
// duplicates, invalid and late lines.
func trafficConfig(start time.Time, rate float64, seed int64, span time.Duration) gen.Config {
	today := start.UTC().Truncate(24 * time.Hour)
	// Begin the generator's timeline before the traffic so that late
	// events exist from the first second; lines that "arrived" before
	// start are skipped.
	genStart := start.Add(-trafficMaxLateness)
	if genStart.Before(today) {
		genStart = today
	}
	hours := int((start.Sub(genStart)+span)/time.Hour) + 1
	cfg := gen.DefaultConfig()
	cfg.Seed = seed
	cfg.Start = genStart
	cfg.Hours = hours
	cfg.Events = int64(rate * float64(hours) * 3600)
	cfg.MinLateness, cfg.MaxLateness = trafficMinLateness, trafficMaxLateness
	return cfg.WithDefaults()
}

func newTraffic(cfg gen.Config, httpURL, mqttAddr, dir string, tally *Tally) (*traffic, error) {
	g, err := gen.New(cfg)
	if err != nil {
		return nil, err
	}
	t := &traffic{g: g, httpURL: httpURL, tally: tally, client: &http.Client{Timeout: 30 * time.Second}}
	if t.httpLog, err = os.Create(filepath.Join(dir, PostedHTTPFile)); err != nil {
		return nil, err
	}
	if t.mqttLog, err = os.Create(filepath.Join(dir, PostedMQTTFile)); err != nil {
		t.httpLog.Close()
		return nil, err
	}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("railyard-demo").
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).SetWriteTimeout(10 * time.Second)
	t.mqtt = mqtt.NewClient(opts)
	if tok := t.mqtt.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.close()
		return nil, fmt.Errorf("demo: connecting to the gateway's MQTT broker %s: %v", mqttAddr, tok.Error())
	}
	return t, nil
}

func (t *traffic) close() {
	if t.mqtt != nil && t.mqtt.IsConnected() {
		t.mqtt.Disconnect(250)
	}
	t.httpLog.Close()
	t.mqttLog.Close()
}

// run posts the lines due by the wall clock every 100 ms, from start until
// stop is closed or ctx ends.
func (t *traffic) run(ctx context.Context, start time.Time, stop <-chan struct{}) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case <-tick.C:
		}
		now := time.Now()
		var viaHTTP []gen.Record
		for {
			r, ok := t.next()
			if !ok {
				return errors.New("demo: the traffic generator ran out of events")
			}
			if r.ArrivalTime.Before(start) {
				continue // before the traffic began: never sent
			}
			if r.ArrivalTime.After(now) {
				t.pending, t.havePend = r, true
				break
			}
			if r.Seq%2 == 0 {
				viaHTTP = append(viaHTTP, r)
			} else if err := t.publishMQTT(r, now); err != nil {
				return err
			}
		}
		if err := t.postHTTP(ctx, viaHTTP, now); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func (t *traffic) next() (gen.Record, bool) {
	if t.havePend {
		t.havePend = false
		return t.pending, true
	}
	return t.g.Next()
}

func (t *traffic) publishMQTT(r gen.Record, now time.Time) error {
	tok := t.mqtt.Publish(ingest.MQTTTopicPrefix+"demo", 1, false, r.Line)
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return fmt.Errorf("demo: MQTT publish to the gateway: %v", tok.Error())
	}
	// The gateway acknowledges an invalid payload too (it is kept on the
	// dead-letter topic); which one it was is the schema's call, made the
	// same way here.
	t.record(t.mqttLog, r.Line, now)
	t.viaMQTT.Add(1)
	return nil
}

func (t *traffic) postHTTP(ctx context.Context, recs []gen.Record, now time.Time) error {
	if len(recs) == 0 {
		return nil
	}
	var body bytes.Buffer
	for _, r := range recs {
		body.Write(r.Line)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.httpURL+ingest.EventsPath, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("demo: posting to the gateway: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusBadRequest {
		return fmt.Errorf("demo: the gateway answered %s: %s", resp.Status, data)
	}
	var answer struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index int `json:"index"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return fmt.Errorf("demo: the gateway answered %s: %s", resp.Status, data)
	}
	rejected := map[int]bool{}
	for _, r := range answer.Rejected {
		rejected[r.Index] = true
	}
	for i, r := range recs {
		if valid := t.record(t.httpLog, r.Line, now); valid == rejected[i] {
			return fmt.Errorf("demo: the gateway's verdict on %q (rejected: %v) differs from the schema's", r.Line, rejected[i])
		}
	}
	t.viaHTTP.Add(int64(len(recs)))
	return nil
}

// record logs a line that was sent and counts it.
func (t *traffic) record(log *os.File, line []byte, now time.Time) bool {
	_, _ = log.Write(append(append([]byte(nil), line...), '\n'))
	t.posted.Add(1)
	valid := t.tally.Add(line, now)
	if valid {
		t.accepted.Add(1)
	} else {
		t.rejected.Add(1)
	}
	return valid
}
