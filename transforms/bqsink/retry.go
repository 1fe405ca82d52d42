package bqsink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// retryableReasons are BigQuery error reasons worth another try, whatever
// the HTTP status (BigQuery answers quota errors with 403).
var retryableReasons = []string{"backendError", "internalError", "rateLimitExceeded", "jobRateLimitExceeded", "jobBackendError"}

// Retryable reports whether err, from one attempt of a BigQuery call, is
// transient: HTTP 429 or 5xx, a retryable BigQuery reason (backendError,
// internalError, rateLimitExceeded, …), a timed-out attempt, or a
// connection-level error. Other 4xx answers (400 invalid, 403 denied, 404,
// 409) are not. The caller must check its own context first: a deadline
// of the whole operation is not an attempt timeout.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var rre *retryRowsError
	if errors.As(err, &rre) {
		return true
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		if ge.Code == http.StatusTooManyRequests || ge.Code >= 500 {
			return true
		}
		for _, e := range ge.Errors {
			if slices.Contains(retryableReasons, e.Reason) {
				return true
			}
		}
		if strings.Contains(ge.Message, "concurrent update") {
			return true // a transaction aborted by a concurrent DML: run it again
		}
		// A structured 4xx: the request itself is wrong. (An attempt
		// timeout after a 4xx cannot happen: the client does not retry
		// those.)
		return false
	}
	var be *bigquery.Error // a failed job's status
	if errors.As(err, &be) {
		return slices.Contains(retryableReasons, be.Reason) ||
			strings.Contains(be.Message, "concurrent update") // transaction aborted by a concurrent DML
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the attempt's own deadline: a hung request
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true // dial, read or write failed: refused, reset, unreachable
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTimeout || de.IsTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection reset", "connection refused", "broken pipe", "http2: stream closed", "http2: client connection lost", "server closed idle connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// retrier runs BigQuery calls with per-attempt deadlines and jittered
// exponential backoff.
type retrier struct {
	opts Retry
	// onRetry is called before each retry (metrics, logs) with the
	// context given to do.
	onRetry func(ctx context.Context, op string, attempt int, err error)
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func newRetrier(opts Retry, onRetry func(ctx context.Context, op string, attempt int, err error)) *retrier {
	return &retrier{opts: opts.withDefaults(), onRetry: onRetry, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the pause before retry number n (1 for the first retry):
// uniform in [b/2, b] with b = min(Initial·2^(n-1), Max).
func (r *retrier) backoff(n int) time.Duration {
	b := r.opts.Initial
	for i := 1; i < n && b < r.opts.Max; i++ {
		b *= 2
	}
	b = min(b, r.opts.Max)
	half := b / 2
	return half + rand.N(b-half+1)
}

// permanentError marks an error that must not be retried, whatever it
// wraps.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// do runs fn until it succeeds, fails permanently, or runs out of
// attempts; each attempt gets a context with the given timeout.
func (r *retrier) do(ctx context.Context, op string, timeout time.Duration, fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		var pe permanentError
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s: %w (after %d attempt(s); last error: %v)", op, ctx.Err(), attempt, err)
		case errors.As(err, &pe) || !Retryable(err):
			return fmt.Errorf("%s: %w", op, err)
		case attempt >= r.opts.Attempts:
			return fmt.Errorf("%s: giving up after %d attempts: %w", op, attempt, err)
		}
		if r.onRetry != nil {
			r.onRetry(ctx, op, attempt, err)
		}
		if serr := r.sleep(ctx, r.backoff(attempt)); serr != nil {
			return fmt.Errorf("%s: %w (after %d attempt(s); last error: %v)", op, serr, attempt, err)
		}
	}
}
