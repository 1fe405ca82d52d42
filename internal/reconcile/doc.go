// Package reconcile is the end-of-run account every railyard job prints and
// checks: read = valid + invalid, valid = unique + duplicates, every invalid
// input dead-lettered, and the rows written per table, from the job's Beam
// counters (namespace transforms.MetricsNamespace).
package reconcile
