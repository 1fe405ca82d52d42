package main

import (
	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "railyard",
		Short: "Operate the railyard Lambda-architecture data platform",
		Long: `railyard is a Lambda-architecture data platform on Apache Beam (Go): the same
transforms run as scheduled batch jobs over the lake and as streaming jobs over
Pub/Sub, and write to BigQuery, where serving views merge the two.

This CLI manages the catalog, generates synthetic game events and runs a local
demo on embedded stand-ins for Pub/Sub, Cloud Storage and BigQuery.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newCatalogCommand())
	root.AddCommand(newGenCommand())
	root.AddCommand(newStackCommand())
	root.AddCommand(newDemoCommand())
	root.AddCommand(newIngestCommand())
	// Scheduling (issue 12).
	root.AddCommand(newScheduleCommand(), newBackfillCommand())
	root.AddCommand(newServeCommand())
	return root
}
