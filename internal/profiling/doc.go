// Package profiling writes the profiles railyard's commands offer for
// performance work: a CPU profile of a whole run (--cpuprofile) and a heap
// profile taken at the run's largest Go heap (--memprofile).
//
// The heap profile is the one at the peak rather than at exit because a
// streaming job releases its state when its windows fire at the end: a
// profile written on the way out would show little of what the run held.
package profiling
