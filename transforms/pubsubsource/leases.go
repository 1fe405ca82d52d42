package pubsubsource

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
)

// leases keeps the ack deadlines of in-flight messages (pulled, not yet
// acked or handed back) extended. Each ProcessElement call holds its
// messages under its own token, so a bundle only ever touches its own
// messages; whoever settles a token first — its finalization callback,
// the resumed reader it handed its ack IDs to, or the failure path that
// nacks — removes the lease, and the others then leave the messages alone.
//
// A lease is extended only until its horizon: while its bundle runs,
// pendingHorizon after the Pull (a bundle that failed where the reader
// could not see it stops being extended, and Pub/Sub redelivers its
// messages); once the bundle finished, until its finalization callback
// expires (finalizeWithin).
//
// There is one leases per subscription, pipeline label and ack deadline
// in a process, shared by the reader's DoFn instances: the Go harness runs
// consecutive bundles of one reader on different instances, and the
// bundle that settles a token may run on another instance than the one
// that pulled. Its goroutine runs only while there are leases.
type leases struct {
	sub          *subscriber
	subscription string
	deadline     time.Duration // what each extension sets
	every        time.Duration // how often a lease is extended
	counts       *pendingCounts
	label        string

	mu       sync.Mutex
	users    int
	held     map[int64]*lease
	settled  map[int64]time.Time
	settles  int
	running  bool
	wake     chan struct{}
	registry string
}

type lease struct {
	ackIDs     []string
	fresh      []string  // added since the last extension: extended at once
	until      time.Time // horizon: not extended after this
	nextExtend time.Time // when all of ackIDs are extended next
}

var (
	leasesMu    sync.Mutex
	leasesByKey = map[string]*leases{}
	leaseTokens atomic.Int64
)

func newLeaseToken() int64 { return leaseTokens.Add(1) }

// acquireLeases returns the process's leases for cfg, creating it (and
// taking a reference to sub) on first use; release with releaseLeases.
func acquireLeases(cfg Config, sub *subscriber, counts *pendingCounts, label string) *leases {
	key := cfg.Subscription + "|" + cfg.Pipeline + "|" + cfg.Endpoint + "|" + cfg.AckDeadline.String()
	leasesMu.Lock()
	defer leasesMu.Unlock()
	if l := leasesByKey[key]; l != nil {
		l.mu.Lock()
		l.users++
		l.mu.Unlock()
		return l
	}
	clientsMu.Lock()
	sub.refs++
	clientsMu.Unlock()
	// Extending at a third of the deadline leaves two chances before it
	// runs out.
	every := max(cfg.AckDeadline/3, 250*time.Millisecond)
	l := &leases{sub: sub, subscription: cfg.Subscription, deadline: cfg.AckDeadline, every: every, counts: counts,
		label: label, users: 1, held: map[int64]*lease{}, settled: map[int64]time.Time{},
		wake: make(chan struct{}, 1), registry: key}
	leasesByKey[key] = l
	return l
}

// releaseLeases drops a user's reference. The last user's release stops
// the extensions (a process whose readers are all torn down extends
// nothing, and Pub/Sub redelivers what was left) and releases the client.
func releaseLeases(l *leases) {
	if l == nil {
		return
	}
	leasesMu.Lock()
	defer leasesMu.Unlock()
	l.mu.Lock()
	l.users--
	last := l.users == 0
	if last {
		clear(l.held)
	}
	l.mu.Unlock()
	if !last {
		return
	}
	l.poke()
	delete(leasesByKey, l.registry)
	releaseSubscriber(l.sub)
}

// add puts ackIDs under token with the given horizon; they are extended
// right away, because the subscription's own ack deadline may be as short
// as 10 s.
func (l *leases) add(token int64, ackIDs []string, until time.Time) {
	l.mu.Lock()
	ls := l.held[token]
	if ls == nil {
		ls = &lease{nextExtend: time.Now().Add(l.every)}
		l.held[token] = ls
	}
	ls.ackIDs = append(ls.ackIDs, ackIDs...)
	ls.fresh = append(ls.fresh, ackIDs...)
	ls.until = until
	if !l.running {
		l.running = true
		go l.run()
	}
	l.mu.Unlock()
	l.poke()
}

func (l *leases) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// extendUntil moves the horizon of the given tokens.
func (l *leases) extendUntil(tokens []int64, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range tokens {
		if ls := l.held[t]; ls != nil {
			ls.until = until
		}
	}
}

// settle removes token's lease and reports whether the caller is the
// first to settle it (and so the one to ack or nack its messages).
func (l *leases) settle(token int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, done := l.settled[token]; done {
		return false
	}
	now := time.Now()
	delete(l.held, token)
	l.settled[token] = now
	if l.settles++; l.settles%256 == 0 {
		// A token cannot come back after its leases' horizons.
		for t, at := range l.settled {
			if now.Sub(at) > finalizeWithin+pendingHorizon {
				delete(l.settled, t)
			}
		}
	}
	return true
}

func (l *leases) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		var due []string
		next := now.Add(l.every)
		l.mu.Lock()
		for t, ls := range l.held {
			if now.After(ls.until) {
				// Its bundle failed unseen or was never finalized: let
				// the deadline run out so that Pub/Sub redelivers.
				delete(l.held, t)
				continue
			}
			if !ls.nextExtend.After(now) {
				due = append(due, ls.ackIDs...)
				ls.nextExtend = now.Add(l.every)
			} else {
				due = append(due, ls.fresh...)
			}
			ls.fresh = nil
			if ls.nextExtend.Before(next) {
				next = ls.nextExtend
			}
		}
		if len(l.held) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()

		if len(due) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), l.every)
			n, err := l.sub.modifyAckDeadline(ctx, l.subscription, due, l.deadline)
			cancel()
			l.counts.extended.Add(int64(n))
			if err != nil {
				log.Warnf(context.Background(), "pubsubsource%s: extending the ack deadline of in-flight messages: %v", l.label, err)
			}
		}
		timer.Reset(max(time.Until(next), 0))
		select {
		case <-timer.C:
		case <-l.wake:
		}
	}
}
