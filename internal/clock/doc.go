// Package clock is the time source of the scheduler and its locks: Real
// for production, Offset for `railyard schedule run --now T` (time starts at
// T and runs at the real pace), and Fake for tests, which advance it by hand
// so that due runs, catch-up, retry backoff, timeouts and lock leases are
// tested without sleeping real time.
package clock
