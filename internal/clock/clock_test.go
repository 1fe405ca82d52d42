package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFakeFiresWaitersInOrderWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 11, 2, 2, 15, 0, 0, time.UTC)
	f := NewFake(start)
	a := f.After(time.Minute)
	b := f.After(30 * time.Second)
	now := f.After(0)
	if got := <-now; !got.Equal(start) {
		t.Fatalf("After(0) = %v, want %v at once", got, start)
	}
	if f.Waiters() != 2 {
		t.Fatalf("waiters = %d, want 2", f.Waiters())
	}
	if d, _ := f.NextDeadline(); !d.Equal(start.Add(30 * time.Second)) {
		t.Fatalf("next deadline %v", d)
	}
	f.Advance(45 * time.Second)
	select {
	case got := <-b:
		if !got.Equal(start.Add(45 * time.Second)) {
			t.Fatalf("b fired with %v", got)
		}
	default:
		t.Fatal("the 30 s waiter did not fire after 45 s")
	}
	select {
	case <-a:
		t.Fatal("the 1 min waiter fired after 45 s")
	default:
	}
	f.Set(start) // never backwards
	if !f.Now().Equal(start.Add(45 * time.Second)) {
		t.Fatalf("Set moved the clock backwards to %v", f.Now())
	}
	f.Advance(15 * time.Second)
	<-a
	if f.Waiters() != 0 {
		t.Fatalf("waiters = %d after all fired", f.Waiters())
	}
}

func TestWaitForWaitersAndSleep(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), f, time.Hour) }()
	if !f.WaitForWaiters(1, 10*time.Second) {
		t.Fatal("Sleep never registered a waiter")
	}
	f.Advance(time.Hour)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("stopped")
	cancel(cause)
	if err := Sleep(ctx, f, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("Sleep on a cancelled context = %v, want its cause", err)
	}
}

func TestOffsetStartsAtTheGivenTime(t *testing.T) {
	start := time.Date(2026, 11, 2, 2, 15, 0, 0, time.UTC)
	c := Offset(start)
	if d := c.Now().Sub(start); d < 0 || d > time.Second {
		t.Fatalf("Offset(start).Now() is %v after start", d)
	}
	if got := <-c.After(time.Millisecond); got.Before(start) {
		t.Fatalf("After delivered %v, before the offset start", got)
	}
}
