package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits for it.
type Clock interface {
	Now() time.Time
	// After delivers the time on the channel once d has passed on this
	// clock (at once when d <= 0).
	After(d time.Duration) <-chan time.Time
}

// Real is the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Offset is a clock that reads start now and then advances with real time:
// "run as if it were start".
func Offset(start time.Time) Clock {
	return offsetClock{delta: time.Until(start)}
}

type offsetClock struct{ delta time.Duration }

func (c offsetClock) Now() time.Time                         { return time.Now().Add(c.delta) }
func (c offsetClock) After(d time.Duration) <-chan time.Time { return mapped(time.After(d), c.delta) }

func mapped(ch <-chan time.Time, delta time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() { out <- (<-ch).Add(delta) }()
	return out
}

// Sleep waits d on c, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-c.After(d):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
