// Package testkit holds helpers for railyard's tests.
//
// Collect hands a pipeline's elements back to the test: the tests run their
// pipelines on prism with loopback workers, in the test's own process, so
// a DoFn can keep what it sees in package state, under a key unique to the
// test, and the test reads it back with Elements or Take — for assertions on
// whole rows, dead letters and payloads that passert's equality helpers do
// not express well (type switches, partial comparisons, reading while a
// streaming pipeline still runs).
//
// SyncBuffer is a bytes.Buffer that a command or server can write to while
// the test reads it.
package testkit
