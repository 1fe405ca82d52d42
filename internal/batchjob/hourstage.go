package batchjob

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/railyard-dev/railyard/schemas"
	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/gaming"
	"github.com/railyard-dev/railyard/transforms/lakeio"
)

// MetricHourStrays counts, in the hourly plan, the valid events (within
// the run's dates) filed in an hour partition other than their event
// hour's. Both plans count such an event in its event hour; the hourly
// plan deduplicates within a partition only, so a copy of it in another
// partition would be counted twice there (see the package doc).
const MetricHourStrays = "hour_partition_strays"

// hourStage parses, deduplicates and pre-aggregates each hour partition
// (lakeio.HourPartition) in one invocation: every line is classified by
// parser exactly as transforms.Parse classifies it (the same dead letters
// and counters), the valid events are deduplicated within the partition
// with transforms.Dedupe's rule, and only the partition's partial
// aggregates (gaming.Partials) and dead letters leave it.
func hourStage(s beam.Scope, partitions beam.PCollection, parser transforms.LineParser) (gaming.Partials, beam.PCollection) {
	s = s.Scope("HourStage")
	dead, userDays, teamHours, userHours, sessions := beam.ParDo5(s, &hourStageFn{Parser: parser}, partitions)
	return gaming.Partials{UserDays: userDays, TeamHours: teamHours, UserHours: userHours, Sessions: sessions}, dead
}

var (
	hourUniqueCounter    = beam.NewCounter(transforms.MetricsNamespace, transforms.MetricUnique)
	hourDuplicateCounter = beam.NewCounter(transforms.MetricsNamespace, transforms.MetricDuplicates)
	hourStrayCounter     = beam.NewCounter(transforms.MetricsNamespace, MetricHourStrays)
)

// hourWorkspace holds one hour partition's unique events and aggregates.
type hourWorkspace struct {
	unique transforms.UniqueEvents
	agg    gaming.PartialAggregator
}

// hourWorkspaces holds this worker process's only workspace: the stage
// holds one hour partition in memory at a time per process, however many
// bundles the runner runs at once (prism splits a slow bundle and runs the
// rest beside it; each would otherwise hold an hour), and decodes that
// hour on every core instead. The workspace keeps its capacity from hour
// to hour.
var hourWorkspaces = func() chan *hourWorkspace {
	ch := make(chan *hourWorkspace, 1)
	ch <- &hourWorkspace{}
	return ch
}()

// Decoding runs on decodeWorkers goroutines in batches of decodeBatch
// lines; the DoFn's own goroutine reads the files and emits. (Variables so
// that tests can make batches small.)
var (
	decodeBatch   = 1024
	decodeWorkers = runtime.GOMAXPROCS(0)
)

// hourStageFn processes one hour partition per call.
type hourStageFn struct {
	Parser transforms.LineParser `json:"parser"`
}

// decoded is a batch of parsed lines.
type decoded struct {
	events   []schemas.GameEvent
	dead     []schemas.DeadLetter
	outcomes []outcome
}

// outcome is what ParseCounts needs of one line.
type outcome struct{ source, reason string }

func (fn *hourStageFn) ProcessElement(ctx context.Context, part lakeio.HourPartition,
	emitDead func(schemas.DeadLetter), emitUserDay, emitTeamHour, emitUserHour func(string, gaming.ScoreCount),
	emitSessions func(string, gaming.Sessions)) error {
	hour, err := time.Parse("2006-01-02T15", part.Date+"T"+part.Hour)
	if err != nil {
		return fmt.Errorf("batch: hour partition %s: bad dt=/hr= values: %w", part.Dir, err)
	}
	var ws *hourWorkspace
	select {
	case ws = <-hourWorkspaces:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() {
		ws.unique.Reset()
		ws.agg.Reset()
		hourWorkspaces <- ws
	}()

	// Lines go from this goroutine to the decoders in batches; a collector
	// owns the workspace and the counts, and hands dead letters back here,
	// where emitting and Beam counters must stay.
	work := make(chan []transforms.Raw, 2*decodeWorkers)
	results := make(chan decoded, 2*decodeWorkers)
	var decoders sync.WaitGroup
	for range decodeWorkers {
		decoders.Go(func() {
			for raws := range work {
				results <- fn.decode(raws)
			}
		})
	}
	go func() {
		decoders.Wait()
		close(results)
	}()
	var (
		mu          sync.Mutex
		pendingDead []schemas.DeadLetter
		counts      = transforms.ParseCounts{CountLakeDates: true}
		strays      int64
		collected   = make(chan struct{})
	)
	hourStart, hourEnd := hour.UnixMilli(), hour.Add(time.Hour).UnixMilli()
	go func() {
		defer close(collected)
		for d := range results {
			for _, o := range d.outcomes {
				counts.Count(o.source, o.reason)
			}
			for _, e := range d.events {
				if ms := e.EventTime.UnixMilli(); ms < hourStart || ms >= hourEnd {
					strays++
				}
				ws.unique.Add(e)
			}
			if len(d.dead) > 0 {
				mu.Lock()
				pendingDead = append(pendingDead, d.dead...)
				mu.Unlock()
			}
		}
	}()
	flushDead := func() {
		mu.Lock()
		dead := pendingDead
		pendingDead = nil
		mu.Unlock()
		for _, d := range dead {
			emitDead(d)
		}
	}

	batch := make([]transforms.Raw, 0, decodeBatch)
	readErr := part.Read(ctx, func(r transforms.Raw) {
		batch = append(batch, r)
		if len(batch) == decodeBatch {
			work <- batch
			batch = make([]transforms.Raw, 0, decodeBatch)
			flushDead()
		}
	})
	if len(batch) > 0 && readErr == nil {
		work <- batch
	}
	close(work)
	<-collected
	if readErr != nil {
		return readErr
	}
	flushDead()
	counts.Flush(ctx)
	hourStrayCounter.Inc(ctx, strays)
	hourUniqueCounter.Inc(ctx, ws.unique.Unique())
	hourDuplicateCounter.Inc(ctx, ws.unique.Duplicates())
	for e := range ws.unique.All() {
		ws.agg.Add(e)
	}
	ws.agg.Emit(emitUserDay, emitTeamHour, emitUserHour, emitSessions)
	return nil
}

// decode parses a batch of lines with the stage's LineParser.
func (fn *hourStageFn) decode(raws []transforms.Raw) decoded {
	d := decoded{outcomes: make([]outcome, len(raws)), events: make([]schemas.GameEvent, 0, len(raws))}
	for i, r := range raws {
		e, dead, ok := fn.Parser.Parse(r)
		d.outcomes[i].source = r.Source
		if !ok {
			d.outcomes[i].reason = dead.Reason
			d.dead = append(d.dead, dead)
			continue
		}
		d.events = append(d.events, e)
	}
	return d
}

func init() {
	register.DoFn7x1[context.Context, lakeio.HourPartition, func(schemas.DeadLetter),
		func(string, gaming.ScoreCount), func(string, gaming.ScoreCount), func(string, gaming.ScoreCount),
		func(string, gaming.Sessions), error](&hourStageFn{})
	register.Emitter1[schemas.DeadLetter]()
	register.Emitter2[string, gaming.ScoreCount]()
	register.Emitter2[string, gaming.Sessions]()
}
