package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/spf13/cobra"
)

func newStackCommand() *cobra.Command {
	var (
		opts      localstack.Options
		buildOnly bool
		verbose   bool
	)
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Run the local stand-ins for Pub/Sub, Cloud Storage and BigQuery until interrupted",
		Long: `Starts pstest (Pub/Sub), fake-gcs-server (Cloud Storage) and goccy's BigQuery
emulator on free loopback ports and prints the settings that point railyard's
commands and pipelines at them. Stops them on Ctrl-C.

The BigQuery emulator is built from tools/bigquery-emulator once (it needs
clang; about 9 minutes on 2 cores) and cached; --build_only just does that.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if buildOnly {
				bin, err := localstack.EnsureBigQueryEmulator(ctx, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "BigQuery emulator ready: %s\n", bin)
				return nil
			}
			if verbose {
				opts.Log = cmd.ErrOrStderr()
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "starting the local stack …")
			stack, err := localstack.Start(ctx, opts)
			if err != nil {
				return err
			}
			defer stack.Close()
			printStack(cmd.OutOrStdout(), stack)
			fmt.Fprintln(cmd.ErrOrStderr(), "running; press Ctrl-C to stop")
			<-ctx.Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping the local stack")
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", localstack.DefaultProject, "project ID the stand-ins serve")
	cmd.Flags().StringSliceVar(&opts.Buckets, "bucket", []string{"railyard-lake"}, "bucket to create on the Cloud Storage stand-in (repeatable)")
	cmd.Flags().BoolVar(&buildOnly, "build_only", false, "only build (or find cached) the BigQuery emulator and print its path")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the stand-ins' own logs")
	return cmd
}

// printStack prints the endpoints and the flags and variables that use them.
func printStack(w io.Writer, s *localstack.Stack) {
	fmt.Fprintf(w, "project:   %s\n", s.Project)
	if s.PubSubEndpoint != "" {
		fmt.Fprintf(w, "pubsub:    %s (pstest)\n", s.PubSubEndpoint)
	}
	if s.GCSEndpoint != "" {
		fmt.Fprintf(w, "gcs:       %s (fake-gcs-server)\n", s.GCSEndpoint)
	}
	if s.BigQueryEndpoint != "" {
		fmt.Fprintf(w, "bigquery:  %s (bigquery-emulator)\n", s.BigQueryEndpoint)
	}
	fmt.Fprintln(w, "\nin another shell:")
	for _, kv := range s.Env() {
		fmt.Fprintf(w, "  export %s\n", kv)
	}
	if s.BigQueryEndpoint != "" {
		fmt.Fprintf(w, "  export RAILYARD_BQ_PROJECT=%s RAILYARD_BQ_ENDPOINT=%s\n", s.Project, s.BigQueryEndpoint)
	}
	fmt.Fprintln(w, "  "+strings.TrimSpace("go run ./cmd/railyard catalog plan"))
}
