package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/railyard-dev/railyard/internal/cliflags"
	"github.com/railyard-dev/railyard/schemas/catalog"
	"github.com/spf13/cobra"
)

func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Document, render and apply railyard's catalog of datasets, tables and views",
		Long: `The catalog (package schemas/catalog) is the one definition of every BigQuery
dataset, table and view and of the lake layout. These commands render it as a
data dictionary or DDL, compare it with a live BigQuery, and apply additive
changes. Breaking changes (dropped column, changed type, tightened mode, changed
partitioning) are refused with the table and column named.`,
	}
	cmd.AddCommand(newCatalogDocsCommand(), newCatalogDDLCommand(), newCatalogPlanCommand(), newCatalogApplyCommand())
	return cmd
}

func bigQueryFlags(cmd *cobra.Command) *cliflags.BigQuery {
	var bq cliflags.BigQuery
	fs := flag.NewFlagSet(cmd.Name(), flag.ContinueOnError)
	bq.Register(fs)
	cmd.Flags().AddGoFlagSet(fs)
	return &bq
}

func newCatalogDocsCommand() *cobra.Command {
	var out, prefix string
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Write the Markdown data dictionary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			md, err := catalog.Default().WithPrefix(prefix).Docs()
			if err != nil {
				return err
			}
			return writeOutput(cmd, out, md)
		},
	}
	cmd.Flags().StringVar(&out, "out", "-", "file to write, - for standard output")
	cmd.Flags().StringVar(&prefix, "dataset_prefix", os.Getenv("RAILYARD_DATASET_PREFIX"), "prefix of every dataset name (env RAILYARD_DATASET_PREFIX)")
	return cmd
}

func newCatalogDDLCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "ddl",
		Short: "Print BigQuery DDL that creates the catalog's datasets, tables and views",
		Args:  cobra.NoArgs,
	}
	bq := bigQueryFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "-", "file to write, - for standard output")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		project := bq.Project
		if project == "" {
			project = "PROJECT"
		}
		ddl, err := bq.Catalog().DDL(project)
		if err != nil {
			return err
		}
		return writeOutput(cmd, out, ddl)
	}
	return cmd
}

func newCatalogPlanCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change in a live BigQuery",
		Long:  "Compares the catalog with the live BigQuery and lists the changes; '+' is additive, '!' breaking. Exits 2 when a change is breaking.",
		Args:  cobra.NoArgs,
	}
	bq := bigQueryFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		client, err := bq.Client(cmd.Context())
		if err != nil {
			return err
		}
		defer client.Close()
		plan, err := bq.Catalog().Plan(cmd.Context(), client)
		if err != nil {
			return err
		}
		fmt.Fprint(cmd.OutOrStdout(), plan.String())
		if b := plan.Breaking(); len(b) > 0 {
			return &catalog.BreakingChangeError{Changes: b}
		}
		return nil
	}
	return cmd
}

func newCatalogApplyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Create what is missing and apply additive changes; refuse breaking ones",
		Args:  cobra.NoArgs,
	}
	bq := bigQueryFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return applyCatalog(cmd, *bq)
	}
	return cmd
}

// applyCatalog plans and applies, printing each change as it goes.
func applyCatalog(cmd *cobra.Command, bq cliflags.BigQuery) error {
	ctx := cmd.Context()
	client, err := bq.Client(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	c := bq.Catalog()
	plan, err := c.Plan(ctx, client)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if len(plan.Changes) == 0 {
		fmt.Fprint(w, plan.String())
		return nil
	}
	n := 0
	err = c.Apply(ctx, client, plan, catalog.ApplyOptions{
		Progress: func(ch catalog.Change) {
			n++
			fmt.Fprintf(w, "[%d/%d] %s\n", n, len(plan.Changes), ch)
		},
		RecreateOnEmulator: bq.OnEmulator(),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "applied %d change(s) to project %s\n", len(plan.Changes), plan.Project)
	return nil
}

func writeOutput(cmd *cobra.Command, path, text string) error {
	if path == "-" || path == "" {
		_, err := fmt.Fprint(cmd.OutOrStdout(), text)
		return err
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", path)
	return nil
}
