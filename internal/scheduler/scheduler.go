package scheduler

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/internal/clock"
	"github.com/railyard-dev/railyard/internal/lock"
	"github.com/railyard-dev/railyard/internal/schedule"
	"github.com/railyard-dev/railyard/schemas"
)

// DefaultPoll is how often the daemon rereads the ledger when no firing
// comes sooner, and how often a backfill retries a lock held elsewhere.
const DefaultPoll = 30 * time.Second

// Options configure a Scheduler.
type Options struct {
	File *schedule.File
	// BQ is the BigQuery project, endpoint and dataset prefix of the ledger
	// and the jobs; beam jobs get them as --bq_project, --bq_endpoint,
	// --dataset_prefix.
	BQ cliflags.BigQuery
	// Lock holds one partition to one run across processes (required).
	Lock *lock.Locker
	// Clock is the time source (default: the real clock).
	Clock clock.Clock
	// Log receives the JSON logs (default: discard).
	Log *slog.Logger
	// Metrics are updated as runs go (default: a new, unserved set).
	Metrics *Metrics
	// Source is the railyard module root, where beam jobs' pipelines are
	// built (required for beam jobs).
	Source string
	// BuildDir receives the pipeline binaries (default: a temporary
	// directory removed by Close).
	BuildDir string
	// JobLogs receives one log file per pipeline attempt (default:
	// railyard-job-logs in the temporary directory).
	JobLogs string
	// Poll: see DefaultPoll.
	Poll time.Duration
	// Env is added to the environment of pipeline attempts.
	Env []string
	// Executor, when set, runs every job instead of the beam and sql
	// executors: tests use it to make attempts fail, hang or succeed on
	// cue while everything else (ledger, locks, clock) stays real.
	Executor func(*schedule.Job) Executor
}

// Scheduler runs a schedule file's jobs: due firings (Once, Run), backfills
// and status, with its state in the ledger.
type Scheduler struct {
	opts     Options
	client   *bigquery.Client
	ledger   *Ledger
	exec     map[string]Executor
	order    []*schedule.Job // dependencies first
	tmpBuild string
}

// New checks the options and connects to BigQuery.
func New(ctx context.Context, o Options) (*Scheduler, error) {
	if o.File == nil || len(o.File.Jobs) == 0 {
		return nil, errors.New("scheduler: no schedule file")
	}
	if o.Lock == nil {
		return nil, errors.New("scheduler: no lock (--lock gs://BUCKET/PREFIX or file:///DIR)")
	}
	if err := o.BQ.Validate(); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.JobLogs == "" {
		o.JobLogs = filepath.Join(os.TempDir(), "railyard-job-logs")
	}
	s := &Scheduler{opts: o, exec: map[string]Executor{}}
	client, err := o.BQ.Client(ctx)
	if err != nil {
		return nil, err
	}
	s.client = client
	s.ledger = newLedger(client, o.BQ.Catalog())
	needBuild := false
	for _, j := range o.File.Jobs {
		if o.Executor == nil && j.Kind == schedule.KindBeam {
			needBuild = true
		}
	}
	var b *builder
	if needBuild {
		if o.Source == "" {
			client.Close()
			return nil, errors.New("scheduler: beam jobs need the railyard source tree to build their pipelines (--source DIR)")
		}
		dir := o.BuildDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "railyard-pipelines-"); err != nil {
				client.Close()
				return nil, err
			}
			s.tmpBuild = dir
		}
		b = &builder{source: o.Source, dir: dir, log: o.Log}
	}
	for _, j := range o.File.Jobs {
		switch {
		case o.Executor != nil:
			s.exec[j.Name] = o.Executor(j)
		case j.Kind == schedule.KindBeam:
			s.exec[j.Name] = &beamExecutor{builder: b, bq: o.BQ, logDir: o.JobLogs, env: o.Env}
		default:
			s.exec[j.Name] = &sqlExecutor{client: client, bq: o.BQ}
		}
	}
	s.order = dependencyOrder(o.File)
	return s, nil
}

// Close releases the BigQuery client and the temporary build directory.
func (s *Scheduler) Close() error {
	if s.tmpBuild != "" {
		os.RemoveAll(s.tmpBuild)
	}
	return s.client.Close()
}

// Ledger is the scheduler's view of ops.batch_runs.
func (s *Scheduler) Ledger() *Ledger { return s.ledger }

func dependencyOrder(f *schedule.File) []*schedule.Job {
	var out []*schedule.Job
	seen := map[string]bool{}
	var visit func(j *schedule.Job)
	visit = func(j *schedule.Job) {
		if seen[j.Name] {
			return
		}
		seen[j.Name] = true
		for _, d := range j.DependsOn {
			visit(f.Job(d))
		}
		out = append(out, j)
	}
	for _, j := range f.Jobs {
		visit(j)
	}
	return out
}

// Outcome statuses besides the ledger's SUCCEEDED, FAILED and CANCELLED.
const (
	OutcomeRunningElsewhere = "RUNNING ELSEWHERE"
	OutcomeDoneElsewhere    = "DONE ELSEWHERE"
	OutcomeWaiting          = "WAITING"
	OutcomeExcluded         = "EXCLUDED"
	OutcomeDryRun           = "DRY RUN"
	OutcomeBlocked          = "BLOCKED"
	OutcomeError            = "ERROR"
)

// Outcome is what became of one firing (or backfill date) in this process.
type Outcome struct {
	Job          string
	Partition    civil.Date
	ScheduledFor time.Time
	Status       string
	Attempts     int
	Rows         int64
	Duration     time.Duration
	RunID        string // of the last attempt
	Error        string // or what it waits for
}

// Failed reports whether the outcome is a failure the caller should exit
// non-zero for.
func (o Outcome) Failed() bool {
	switch o.Status {
	case schemas.RunFailed, OutcomeBlocked, OutcomeError:
		return true
	}
	return false
}

// runGroup names the attempts of one firing (or backfill date): attempt n
// runs as runGroup + "-a" + n, and the lock carries the group.
func runGroup(job string, p civil.Date, trigger string, t time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s-%s-%x", job, p, trigger, t.UTC().Format("20060102T150405Z"), b)
}

// prioSem is a counting semaphore that hands free slots to the waiter with
// the earliest priority time first: catch-up runs oldest first. Callers
// that start goroutines in order enqueue synchronously, so that the order
// does not depend on which goroutine runs first.
type prioSem struct {
	mu      sync.Mutex
	free    int
	seq     uint64
	waiters []*semWaiter
}

type semWaiter struct {
	prio    time.Time
	seq     uint64
	ch      chan struct{}
	granted bool
}

func newPrioSem(n int) *prioSem { return &prioSem{free: n} }

// enqueue puts a waiter in line (and grants it at once if a slot is free
// and nobody earlier waits).
func (p *prioSem) enqueue(prio time.Time) *semWaiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	w := &semWaiter{prio: prio, seq: p.seq, ch: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	sort.SliceStable(p.waiters, func(i, j int) bool {
		a, b := p.waiters[i], p.waiters[j]
		return a.prio.Before(b.prio) || a.prio.Equal(b.prio) && a.seq < b.seq
	})
	p.dispatch()
	return w
}

// wait blocks until w is granted a slot, or ctx ends.
func (p *prioSem) wait(ctx context.Context, w *semWaiter) (release func(), err error) {
	select {
	case <-w.ch:
		return p.releaser(), nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		if w.granted {
			p.free++
			p.dispatch()
		} else {
			for i, x := range p.waiters {
				if x == w {
					p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
					break
				}
			}
		}
		return nil, context.Cause(ctx)
	}
}

func (p *prioSem) acquire(ctx context.Context, prio time.Time) (release func(), err error) {
	return p.wait(ctx, p.enqueue(prio))
}

func (p *prioSem) releaser() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.free++
			p.dispatch()
		})
	}
}

// dispatch grants free slots to the first waiters; p.mu must be held.
func (p *prioSem) dispatch() {
	for p.free > 0 && len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.free--
		w.granted = true
		close(w.ch)
	}
}

// errLockLost cancels an attempt whose lock lease could not be renewed.
var errLockLost = errors.New("lost the partition's lock (its lease could not be renewed): another scheduler may take over")

// attemptResult is one finished attempt.
type attemptResult struct {
	Status   string // SUCCEEDED, FAILED, CANCELLED
	Metric   string // succeeded, failed, timeout, cancelled
	Rows     int64
	Err      string
	Duration time.Duration
	LockLost bool
}

// attempt runs one attempt under its timeout and lease, and makes sure the
// ledger records it: the pipeline's own rows when it wrote them, otherwise
// one row written here.
func (s *Scheduler) attempt(ctx context.Context, req Request, lease *lock.Lease) attemptResult {
	j := req.Job
	c := s.opts.Clock
	log := s.opts.Log.With("job", j.Name, "partition", req.Partition.String(), "scheduled_for", req.ScheduledFor.UTC().Format(time.RFC3339),
		"attempt", req.Attempt, "run_id", req.RunID, "trigger", req.Trigger)
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeoutErr := fmt.Errorf("timeout: the attempt ran longer than its timeout of %s and was cancelled", j.Timeout)
	finished := make(chan struct{})
	go func() {
		var lost <-chan struct{}
		if lease != nil {
			lost = lease.Lost()
		}
		select {
		case <-c.After(j.Timeout):
			cancel(timeoutErr)
		case <-lost:
			cancel(errLockLost)
		case <-finished:
		}
	}()
	start := c.Now()
	log.Info("attempt started", "of", j.Attempts(), "timeout", j.Timeout.String())
	s.opts.Metrics.Running.WithLabelValues(j.Name).Inc()
	res, err := s.exec[j.Name].Execute(actx, req)
	close(finished)
	s.opts.Metrics.Running.WithLabelValues(j.Name).Dec()
	end := c.Now()
	out := attemptResult{Status: schemas.RunSucceeded, Metric: "succeeded", Rows: res.Rows, Duration: end.Sub(start)}
	if err != nil {
		out.Status, out.Metric, out.Err = schemas.RunFailed, "failed", err.Error()
		cause := context.Cause(actx)
		switch {
		case ctx.Err() != nil:
			out.Status, out.Metric = schemas.RunCancelled, "cancelled"
		case errors.Is(cause, timeoutErr):
			out.Metric = "timeout"
			if !errors.Is(err, timeoutErr) {
				out.Err = timeoutErr.Error() + ": " + err.Error()
			}
		case errors.Is(cause, errLockLost):
			out.LockLost = true
		}
	}
	// Record it. The ledger is the truth: a pipeline that recorded its
	// views recorded the attempt, whatever its exit said.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 3*ledgerTimeout)
	defer rcancel()
	rec, found, lerr := s.ledger.Run(rctx, req.RunID)
	switch {
	case lerr != nil:
		log.Error("reading the attempt's ledger rows failed", "error", lerr.Error())
	case found:
		out.Rows = rec.Rows
		if rec.Status == schemas.RunSucceeded && out.Status != schemas.RunSucceeded {
			log.Warn("the pipeline recorded success but did not exit cleanly; the ledger counts it as succeeded", "exit", out.Err)
			out.Status, out.Metric, out.Err = schemas.RunSucceeded, "succeeded", ""
		} else if rec.Status != schemas.RunSucceeded && out.Status == schemas.RunSucceeded {
			out.Status, out.Metric, out.Err = schemas.RunFailed, "failed", rec.Error
		}
	}
	if lerr != nil || !found {
		view := schemas.JobViewPrefix + j.Name
		if j.Kind == schedule.KindSQL {
			view = j.Destination
		}
		row := schemas.BatchRun{
			View: view, Partition: req.Partition.String(), RunID: req.RunID,
			StartTime: start.UTC(), EndTime: end.UTC(), RowsWritten: out.Rows, Status: out.Status,
			Job:          bigquery.NullString{StringVal: j.Name, Valid: true},
			Attempt:      bigquery.NullInt64{Int64: int64(req.Attempt), Valid: true},
			ScheduledFor: bigquery.NullTimestamp{Timestamp: req.ScheduledFor.UTC(), Valid: true},
			Runner:       bigquery.NullString{StringVal: res.Runner, Valid: res.Runner != ""},
		}
		if out.Err != "" {
			row.Error = bigquery.NullString{StringVal: clip(out.Err, maxErrorText), Valid: true}
		}
		if err := s.ledger.Record(rctx, row); err != nil {
			log.Error("recording the attempt in the ledger failed; another scheduler may run this partition again", "error", err.Error())
		}
	}
	s.opts.Metrics.Runs.WithLabelValues(j.Name, req.Trigger, out.Metric).Inc()
	attrs := []any{"status", out.Status, "seconds", out.Duration.Seconds(), "rows", out.Rows}
	if res.Log != "" {
		attrs = append(attrs, "log", res.Log)
	}
	if out.Status == schemas.RunSucceeded {
		s.opts.Metrics.LastSuccess.WithLabelValues(j.Name).Set(float64(end.Unix()))
		log.Info("attempt succeeded", attrs...)
	} else {
		log.Error("attempt "+strings.ToLower(out.Status), append(attrs, "error", out.Err)...)
	}
	return out
}

// Once runs what is due at the clock's current time, catch-up included,
// waits for it (retries included) and returns what became of each firing.
// A second Once at the same time runs nothing: the ledger covers it.
func (s *Scheduler) Once(ctx context.Context) ([]Outcome, error) {
	e := newEngine(s, true)
	now := s.opts.Clock.Now()
	s.opts.Log.Info("running what is due", "now", now.UTC().Format(time.RFC3339), "file", s.opts.File.Path, "jobs", len(s.opts.File.Jobs))
	for {
		pending, err := e.pass(ctx, now)
		if err != nil {
			e.wg.Wait()
			return e.report(), err
		}
		if !pending && e.inflightCount() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			e.wg.Wait()
			return e.report(), context.Cause(ctx)
		case <-e.wake:
		case <-s.opts.Clock.After(s.opts.Poll):
		}
	}
	e.wg.Wait()
	return e.report(), nil
}

// Run is the daemon: it runs due firings as they come, until ctx ends;
// then it cancels the running attempts (recorded CANCELLED: they do not
// count against retries) and returns.
func (s *Scheduler) Run(ctx context.Context) error {
	e := newEngine(s, false)
	c := s.opts.Clock
	s.opts.Log.Info("scheduler started", "file", s.opts.File.Path, "jobs", len(s.opts.File.Jobs), "lock", s.opts.Lock.String(), "poll", s.opts.Poll.String())
	for {
		now := c.Now()
		if _, err := e.pass(ctx, now); err != nil {
			s.opts.Log.Error("pass failed; retrying", "error", err.Error(), "in", s.opts.Poll.String())
		}
		next := now.Add(s.opts.Poll)
		for _, j := range s.opts.File.Jobs {
			if n := j.Next(now); !n.IsZero() && n.Before(next) {
				next = n
			}
		}
		select {
		case <-ctx.Done():
			s.opts.Log.Info("scheduler stopping: cancelling running attempts", "running", e.inflightCount())
			e.wg.Wait()
			return nil
		case <-e.wake:
		case <-c.After(next.Sub(c.Now())):
		}
	}
}

// engine is one Once or Run: which firings are being handled in this
// process, their slots, and what became of them.
type engine struct {
	s    *Scheduler
	once bool
	wake chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	inflight  map[string]bool
	finished  map[string]time.Time // firing time of each firing this process finished with
	heldUntil map[string]time.Time // when to look again at a firing held elsewhere
	heldBy    map[string]heldBy    // who held it when we last looked
	waiting   map[string]Outcome
	outcomes  map[string]Outcome
	slots     map[string]*prioSem
	lagLogged map[string]bool
}

func newEngine(s *Scheduler, once bool) *engine {
	e := &engine{s: s, once: once, wake: make(chan struct{}, 1),
		inflight: map[string]bool{}, finished: map[string]time.Time{}, heldUntil: map[string]time.Time{}, heldBy: map[string]heldBy{},
		waiting: map[string]Outcome{}, outcomes: map[string]Outcome{}, slots: map[string]*prioSem{}, lagLogged: map[string]bool{}}
	for _, j := range s.opts.File.Jobs {
		e.slots[j.Name] = newPrioSem(j.MaxParallel)
	}
	return e
}

func (e *engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *engine) inflightCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.inflight)
}

// report lists the outcomes, oldest firing first, then what still waits.
func (e *engine) report() []Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Outcome
	for _, o := range e.outcomes {
		out = append(out, o)
	}
	for k, o := range e.waiting {
		if _, done := e.outcomes[k]; !done {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.ScheduledFor.Equal(b.ScheduledFor) {
			return a.ScheduledFor.Before(b.ScheduledFor)
		}
		return a.Job < b.Job
	})
	return out
}

// pass reads the ledger and starts every due firing that is not running
// here, not held elsewhere and not waiting for a dependency. pending
// reports a firing that waits for a dependency that is still being run
// (here or elsewhere): Once keeps going for it.
func (e *engine) pass(ctx context.Context, now time.Time) (pending bool, err error) {
	s := e.s
	from := civil.Date{}
	for _, j := range s.order {
		if w := j.Latest(now, j.Catchup); len(w) > 0 {
			if p := j.PartitionOf(w[0]); !from.IsValid() || p.Before(from) {
				from = p
			}
		}
	}
	if !from.IsValid() {
		return false, nil // nothing has fired yet
	}
	hist, err := s.ledger.History(ctx, s.opts.File.Names(), from)
	if err != nil {
		return false, err
	}
	active := map[string]bool{} // job/partition being worked on, here or elsewhere
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prune(now)
	// What waits is decided afresh each pass: a firing done elsewhere
	// meanwhile no longer waits.
	waiting := e.waiting
	e.waiting = map[string]Outcome{}
	for _, j := range s.order {
		var oldestDue time.Time
		for _, st := range Evaluate(j, now, hist) {
			if st.State != StateDue {
				continue
			}
			k := st.key()
			if oldestDue.IsZero() {
				oldestDue = st.ScheduledFor
			}
			ak := lockKey(j.Name, st.Partition)
			switch {
			case e.inflight[k]:
				active[ak] = true
				continue
			case !e.finished[k].IsZero():
				continue
			case s.opts.Clock.Now().Before(e.heldUntil[k]):
				active[ak] = true // someone else is running it
				continue
			}
			var waits []string
			depPending := false
			for _, d := range Dependencies(s.opts.File, st.Interval, now, hist) {
				if d.Satisfied {
					continue
				}
				waits = append(waits, d.Reason)
				if d.Pending && active[lockKey(d.Job, d.Partition)] {
					depPending = true
				}
			}
			if len(waits) > 0 {
				reason := strings.Join(waits, "; ")
				if prev, ok := waiting[k]; !ok || prev.Error != reason {
					s.opts.Log.Info("waiting for a dependency", "job", j.Name, "partition", st.Partition.String(),
						"scheduled_for", st.ScheduledFor.UTC().Format(time.RFC3339), "waiting_for", reason)
				}
				e.waiting[k] = Outcome{Job: j.Name, Partition: st.Partition, ScheduledFor: st.ScheduledFor, Status: OutcomeWaiting, Error: reason}
				if depPending {
					pending, active[ak] = true, true
				}
				continue
			}
			e.inflight[k] = true
			active[ak] = true
			e.wg.Add(1)
			// Take a place in the job's line now: firings start oldest first.
			go e.handle(ctx, st, e.slots[j.Name].enqueue(st.ScheduledFor))
		}
		lag := 0.0
		if !oldestDue.IsZero() {
			lag = max(0, now.Sub(oldestDue).Seconds())
		}
		s.opts.Metrics.Lag.WithLabelValues(j.Name).Set(lag)
	}
	return pending, nil
}

// heldBy is the lock holder a firing was last found held by.
type heldBy struct {
	token  string
	firing time.Time
}

// prune forgets firings older than every job's catch-up window: a
// long-running daemon's memory stays bounded. e.mu must be held.
func (e *engine) prune(now time.Time) {
	var oldest time.Time
	for _, j := range e.s.opts.File.Jobs {
		if w := j.Latest(now, j.Catchup); len(w) > 0 && (oldest.IsZero() || w[0].Before(oldest)) {
			oldest = w[0]
		}
	}
	for k, t := range e.finished {
		if t.Before(oldest) {
			delete(e.finished, k)
		}
	}
	for k, o := range e.waiting {
		if o.ScheduledFor.Before(oldest) {
			delete(e.waiting, k)
		}
	}
	for k, until := range e.heldUntil {
		if until.Before(e.s.opts.Clock.Now()) {
			delete(e.heldUntil, k)
		}
	}
	for k, h := range e.heldBy {
		if h.firing.Before(oldest) {
			delete(e.heldBy, k)
		}
	}
}

// handle runs one due firing to its end: its attempts with backoff, under
// the partition's lock (kept through the retries), a slot of the job's
// max_parallel each.
func (e *engine) handle(ctx context.Context, st IntervalState, place *semWaiter) {
	s := e.s
	j := st.Job
	k := st.key()
	c := s.opts.Clock
	log := s.opts.Log.With("job", j.Name, "partition", st.Partition.String(), "scheduled_for", st.ScheduledFor.UTC().Format(time.RFC3339))
	out := Outcome{Job: j.Name, Partition: st.Partition, ScheduledFor: st.ScheduledFor, Attempts: 0}
	final := true
	var lease *lock.Lease
	defer func() {
		if lease != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			if err := lease.Release(rctx); err != nil {
				log.Warn("releasing the lock failed; it expires by itself", "error", err.Error())
			}
			cancel()
		}
		e.mu.Lock()
		delete(e.inflight, k)
		if out.Status != "" && e.once {
			e.outcomes[k] = out
		}
		if final {
			e.finished[k] = st.ScheduledFor
		}
		e.mu.Unlock()
		e.signal()
		e.wg.Done()
	}()
	failures, notBefore := len(st.Failures), st.NotBefore
	group := runGroup(j.Name, st.Partition, triggerSchedule, st.ScheduledFor)
	for {
		if wait := notBefore.Sub(c.Now()); wait > 0 {
			log.Info("retry waits for its backoff", "attempt", failures+1, "wait", wait.String())
			if err := clock.Sleep(ctx, c, wait); err != nil {
				out.Status, out.Error = schemas.RunCancelled, err.Error()
				return
			}
		}
		if place == nil {
			place = e.slots[j.Name].enqueue(st.ScheduledFor)
		}
		release, err := e.slots[j.Name].wait(ctx, place)
		place = nil
		if err != nil {
			out.Status, out.Error = schemas.RunCancelled, err.Error()
			return
		}
		if lease == nil {
			l, holder, err := s.opts.Lock.TryAcquire(ctx, lockKey(j.Name, st.Partition), group)
			if err != nil || holder != nil {
				release()
				final = false
				e.mu.Lock()
				e.heldUntil[k] = c.Now().Add(s.opts.Poll)
				e.mu.Unlock()
				if err != nil {
					log.Error("taking the partition's lock failed; will retry", "error", err.Error())
					out.Status, out.Error = OutcomeError, err.Error()
					return
				}
				// Count and report a wait once per holder, not once per look.
				e.mu.Lock()
				known := e.heldBy[k].token == holder.Token
				e.heldBy[k] = heldBy{token: holder.Token, firing: st.ScheduledFor}
				e.mu.Unlock()
				if !known {
					s.opts.Metrics.LockWaits.WithLabelValues(j.Name).Inc()
					log.Info("partition is running elsewhere; not running it twice", "holder", holder.String())
				}
				out.Status, out.Error = OutcomeRunningElsewhere, "held by "+holder.String()
				return
			}
			lease = l
		}
		// Under the lock, read the partition's ledger again: another
		// instance may have run it (or failed it for good) since the pass.
		ph, err := s.ledger.Partition(ctx, j.Name, st.Partition)
		if err != nil {
			release()
			final = false
			log.Error("reading the ledger failed; will retry", "error", err.Error())
			out.Status, out.Error = OutcomeError, err.Error()
			return
		}
		cur := evaluate(j, st.ScheduledFor, ph)
		switch {
		case cur.State == StateDone:
			release()
			log.Info("already done by another run", "run_id", cur.DoneBy.RunID)
			if out.Status == "" {
				out.Status, out.RunID, out.Rows = OutcomeDoneElsewhere, cur.DoneBy.RunID, cur.DoneBy.Rows
			}
			return
		case cur.State == StateFailed:
			release()
			if out.Status == "" {
				out.Status, out.Error = schemas.RunFailed, fmt.Sprintf("failed %d times elsewhere: %s", len(cur.Failures), cur.LastError())
			}
			return
		case len(cur.Failures) > failures:
			// Another instance failed it meanwhile: honour its backoff.
			failures, notBefore = len(cur.Failures), cur.NotBefore
			if notBefore.After(c.Now()) {
				release()
				continue
			}
		}
		n := failures + 1
		req := Request{Job: j, Partition: st.Partition, ScheduledFor: st.ScheduledFor, Attempt: n, RunID: fmt.Sprintf("%s-a%d", group, n), Trigger: triggerSchedule}
		res := s.attempt(ctx, req, lease)
		release()
		out.Attempts++
		out.Duration += res.Duration
		out.RunID, out.Rows, out.Status, out.Error = req.RunID, res.Rows, res.Status, res.Err
		switch {
		case res.Status == schemas.RunSucceeded, res.Status == schemas.RunCancelled:
			return
		case res.LockLost:
			final = false
			lease = nil // not ours any more: do not release it
			return
		}
		failures++
		if failures >= j.Attempts() {
			log.Error("giving up: every attempt failed", "attempts", failures, "error", firstLine(res.Err))
			return
		}
		notBefore = c.Now().Add(Backoff(j.Retries, failures, k))
		log.Info("attempt failed; will retry", "attempt", failures, "of", j.Attempts(), "retry_at", notBefore.UTC().Format(time.RFC3339))
	}
}
