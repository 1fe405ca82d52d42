package scheduler

import (
	"context"
	"time"

	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/schedule"
)

// Request is one attempt to run.
type Request struct {
	Job          *schedule.Job
	Partition    civil.Date
	ScheduledFor time.Time
	Attempt      int
	RunID        string
	Trigger      string // "schedule" or "backfill"
}

// Result is what an executor reports about a finished attempt.
type Result struct {
	// Runner names what executed the attempt (a Beam runner, bigquery).
	Runner string
	// Rows is how many rows the attempt left in its destination
	// partition, when the executor counts them (sql jobs); the ledger
	// rows of a pipeline carry their own counts.
	Rows int64
	// Log is where the attempt's output went, if anywhere.
	Log string
}

// Executor runs one attempt. It must return when ctx ends (timeout,
// lock lost, scheduler stopping), with an error.
type Executor interface {
	Execute(ctx context.Context, req Request) (Result, error)
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, req Request) (Result, error)

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, req Request) (Result, error) { return f(ctx, req) }

// Triggers of an attempt.
const (
	triggerSchedule = "schedule"
	triggerBackfill = "backfill"
)
