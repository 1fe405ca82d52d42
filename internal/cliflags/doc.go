// Package cliflags defines the flags that several railyard commands and
// pipelines share, once, so that every command that talks to BigQuery spells
// --bq_project, --bq_endpoint and --dataset_prefix the same way.
//
// Flags are registered on a standard library flag.FlagSet: Beam pipelines use
// flag.CommandLine directly and cobra commands add the set with AddGoFlagSet.
// Each flag also reads a RAILYARD_* environment variable as its default, so a
// shell or a scheduler can set an environment once.
package cliflags
