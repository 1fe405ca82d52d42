package batchjob

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/railyard-dev/railyard/transforms"
	"github.com/railyard-dev/railyard/transforms/lakeio"
)

// Execution plans (--plan). Both compute the same rows, dead letters and
// counters; see the package doc for when they can differ.
const (
	// PlanHourly parses, deduplicates and pre-aggregates each lake hour
	// partition in one DoFn invocation and merges the partial aggregates.
	PlanHourly = "hourly"
	// PlanGlobal runs element-wise: lakeio.ReadRange → transforms.Parse →
	// transforms.Dedupe (run-wide) → the event-level views.
	PlanGlobal = "global"
)

// Plans are the --plan choices, the default first.
var Plans = []string{PlanHourly, PlanGlobal}

// compute adds the plan's reading and computing steps: the rows of each of
// p.Views (in that order) and the dead letters.
func (p plan) compute(s beam.Scope) (rows []beam.PCollection, dead beam.PCollection) {
	opts := transforms.ParseOptions{
		Pipeline: pipelineName, RunID: p.RunID, Now: p.Start,
		From: p.From.In(time.UTC), To: p.Through.In(time.UTC), CountLakeDates: true,
	}
	if p.Plan == PlanGlobal {
		raws := lakeio.ReadRange(s, p.Lake, p.From, p.Through)
		events, dead := transforms.Parse(s, raws, opts)
		unique := transforms.Dedupe(s, events)
		for _, v := range p.Views {
			rows = append(rows, v.Build(s.Scope(v.Name), unique))
		}
		return rows, dead
	}
	parts, dead := hourStage(s, lakeio.ReadHourPartitions(s, p.Lake, p.Dates), transforms.NewLineParser(opts))
	for _, v := range p.Views {
		rows = append(rows, v.FromPartials(s.Scope(v.Name), parts))
	}
	return rows, dead
}
