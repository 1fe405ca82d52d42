// Package batchjob is the batch layer's job: it recomputes the batch views of
// a range of event dates from the lake and replaces their date partitions in
// BigQuery, sends every reject to ops.dead_letters, records each view and
// date in the ops.batch_runs ledger, and reconciles its counts
// (read = valid + invalid, valid = unique + duplicates).
//
// pipelines/batch is its command; the demo runs it too. The graph is
// lakeio → transforms.Parse → transforms.Dedupe → the gaming views →
// bqsink.ReplacePartitions, on whichever runner package runners selects.
package batchjob
