// Package transforms holds railyard's domain-neutral PTransforms: parsing raw
// input into events and dead letters, deduplication by event id, and event
// time stamping. Sources, sinks and the gaming views live in sub-packages.
//
// Every transform keeps the platform's contracts: nothing is dropped silently
// (rejects become schemas.DeadLetter rows with a typed reason), and counts
// reconcile: read = valid + invalid, valid = unique + duplicates. Each count
// is a Beam metric in the namespace "railyard", so runners, logs and the
// batch ledger report the same figures.
//
// For code that parses and deduplicates many records inside one DoFn (the
// batch job's hour-staged plan), LineParser, ParseCounts, KeptCopy and
// UniqueEvents are the same rules in plain Go.
package transforms
