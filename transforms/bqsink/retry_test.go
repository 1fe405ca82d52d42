package bqsink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

func TestRetryable(t *testing.T) {
	gerr := func(code int, reason string) error {
		e := &googleapi.Error{Code: code, Message: "m"}
		if reason != "" {
			e.Errors = []googleapi.ErrorItem{{Reason: reason}}
		}
		return e
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", gerr(429, ""), true},
		{"500", gerr(500, ""), true},
		{"502", gerr(502, ""), true},
		{"503", gerr(503, ""), true},
		{"504", gerr(504, ""), true},
		{"403 rateLimitExceeded", gerr(403, "rateLimitExceeded"), true},
		{"400 backendError", gerr(400, "backendError"), true},
		{"400 invalid", gerr(400, "invalid"), false},
		{"400 jobInternalError (the emulator's SQL errors)", gerr(400, "jobInternalError"), false},
		{"400 concurrent update", &googleapi.Error{Code: 400, Message: "Transaction is aborted due to concurrent update against table p.d.t"}, true},
		{"401", gerr(401, ""), false},
		{"403 accessDenied", gerr(403, "accessDenied"), false},
		{"404", gerr(404, "notFound"), false},
		{"409", gerr(409, "duplicate"), false},
		{"wrapped 503", fmt.Errorf("insertAll: %w", gerr(503, "")), true},
		{"client retry gave up on a 503", fmt.Errorf("retry failed with %w; last error: %w", context.DeadlineExceeded, gerr(503, "")), true},
		{"attempt deadline", context.DeadlineExceeded, true},
		{"attempt deadline in url.Error", &url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, true},
		{"canceled", context.Canceled, false},
		{"unexpected EOF", &url.Error{Op: "Post", URL: "http://x", Err: io.ErrUnexpectedEOF}, true},
		{"connection refused", &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"DNS temporary", &net.DNSError{Err: "x", IsTemporary: true}, true},
		{"DNS not found", &net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{"job failed: backendError", &bigquery.Error{Reason: "backendError", Message: "m"}, true},
		{"job failed: invalidQuery", &bigquery.Error{Reason: "invalidQuery", Message: "Syntax error"}, false},
		{"job failed: concurrent update", &bigquery.Error{Reason: "invalidQuery", Message: "Transaction is aborted due to concurrent update"}, true},
		{"rows to resend", &retryRowsError{rows: 1}, true},
		{"other", errors.New("boom"), false},
	} {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// fakeRetrier records its pauses instead of sleeping.
func fakeRetrier(opts Retry) (*retrier, *[]time.Duration, *int) {
	var pauses []time.Duration
	retried := 0
	r := newRetrier(opts, func(context.Context, string, int, error) { retried++ })
	r.sleep = func(_ context.Context, d time.Duration) error {
		pauses = append(pauses, d)
		return nil
	}
	return r, &pauses, &retried
}

func TestRetrierBackoff(t *testing.T) {
	r, pauses, retried := fakeRetrier(Retry{Initial: 100 * time.Millisecond, Max: 1 * time.Second, Attempts: 7})
	calls := 0
	err := r.do(context.Background(), "op", time.Second, func(context.Context) error {
		calls++
		return &googleapi.Error{Code: 503}
	})
	if err == nil || calls != 7 || *retried != 6 {
		t.Fatalf("err = %v, calls = %d, retries = %d; want an error after 7 calls and 6 retries", err, calls, *retried)
	}
	caps := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, p := range *pauses {
		hi := caps[i] * time.Millisecond
		if p < hi/2 || p > hi {
			t.Errorf("pause %d = %s, want in [%s, %s]", i+1, p, hi/2, hi)
		}
	}
}

func TestRetrierOutcomes(t *testing.T) {
	opts := Retry{Initial: time.Millisecond, Max: time.Millisecond, Attempts: 5}
	t.Run("success after transient errors", func(t *testing.T) {
		r, _, retried := fakeRetrier(opts)
		errs := []error{&googleapi.Error{Code: 429}, &googleapi.Error{Code: 503}, context.DeadlineExceeded, nil}
		calls := 0
		err := r.do(context.Background(), "op", time.Second, func(context.Context) error {
			calls++
			return errs[calls-1]
		})
		if err != nil || calls != 4 || *retried != 3 {
			t.Errorf("err = %v, calls = %d, retries = %d; want success on the 4th call", err, calls, *retried)
		}
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		r, _, retried := fakeRetrier(opts)
		calls := 0
		err := r.do(context.Background(), "op", time.Second, func(context.Context) error {
			calls++
			return &googleapi.Error{Code: 400, Message: "bad"}
		})
		var ge *googleapi.Error
		if !errors.As(err, &ge) || calls != 1 || *retried != 0 {
			t.Errorf("err = %v, calls = %d, retries = %d; want the 400 after one call", err, calls, *retried)
		}
	})
	t.Run("permanent wins", func(t *testing.T) {
		r, _, _ := fakeRetrier(opts)
		calls := 0
		r.do(context.Background(), "op", time.Second, func(context.Context) error {
			calls++
			return permanent(&googleapi.Error{Code: 503})
		})
		if calls != 1 {
			t.Errorf("calls = %d, want 1", calls)
		}
	})
	t.Run("each attempt has its own deadline", func(t *testing.T) {
		r, _, retried := fakeRetrier(opts)
		calls := 0
		err := r.do(context.Background(), "op", 20*time.Millisecond, func(ctx context.Context) error {
			calls++
			if calls == 1 {
				<-ctx.Done() // a hung request
				return ctx.Err()
			}
			return nil
		})
		if err != nil || calls != 2 || *retried != 1 {
			t.Errorf("err = %v, calls = %d, retries = %d; want success on the 2nd call", err, calls, *retried)
		}
	})
	t.Run("the caller's deadline is not retried", func(t *testing.T) {
		r, _, _ := fakeRetrier(opts)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		err := r.do(ctx, "op", time.Second, func(ctx context.Context) error {
			calls++
			return ctx.Err()
		})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("err = %v, calls = %d; want context.Canceled after one call", err, calls)
		}
	})
}
