package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/railyard-dev/railyard/internal/localstack"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

func TestCatalogDocsAndDDL(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dictionary.md")
	if _, _, err := runRailyard(t, "catalog", "docs", "--dataset_prefix", "dev_", "--out", out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "### Table `dev_batch.team_scores_hourly`") {
		t.Fatalf("dictionary lacks the prefixed batch table:\n%.500s", md)
	}
	ddl, _, err := runRailyard(t, "catalog", "ddl", "--bq_project", "acme", "--dataset_prefix", "prod_")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ddl, "CREATE TABLE IF NOT EXISTS `acme.prod_ops.dead_letters`") {
		t.Fatalf("DDL lacks the dead letter table:\n%.500s", ddl)
	}
}

func TestCatalogPlanApplyOnEmulator(t *testing.T) {
	stack := localstack.StartForTest(t, localstack.Options{BigQuery: true})
	bqArgs := []string{"--bq_project", stack.Project, "--bq_endpoint", stack.BigQueryEndpoint, "--dataset_prefix", "cli_"}
	run := func(args ...string) (string, error) {
		out, _, err := runRailyard(t, append(args, bqArgs...)...)
		return out, err
	}

	out, err := run("catalog", "plan")
	if err != nil || !strings.Contains(out, "19 change(s), 0 breaking") || !strings.Contains(out, "+ create table cli_ops.dead_letters") {
		t.Fatalf("plan on an empty project: %v\n%s", err, out)
	}
	out, err = run("catalog", "apply")
	if err != nil || !strings.Contains(out, "[19/19] + create view cli_ops.dead_letter_summary") || !strings.Contains(out, "applied 19 change(s)") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	out, err = run("catalog", "plan")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("plan after apply: %v\n%s", err, out)
	}

	// A column someone added by hand is a breaking difference: plan and apply
	// both fail (main exits 2) and name the table and column.
	ctx := context.Background()
	client, err := stack.GCPConfig().BigQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Dataset("cli_serving").Table("hand_made").Create(ctx, &bigquery.TableMetadata{
		Schema: bigquery.Schema{{Name: "x", Type: bigquery.StringFieldType}},
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := run("catalog", "plan"); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("a table the catalog does not manage must be left alone: %v\n%s", err, out)
	}
	if err := client.Dataset("cli_ops").Table("batch_runs").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.Dataset("cli_ops").Table("batch_runs").Create(ctx, &bigquery.TableMetadata{
		Schema: bigquery.Schema{{Name: "view", Type: bigquery.StringFieldType, Required: true}, {Name: "legacy", Type: bigquery.StringFieldType}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"plan", "apply"} {
		out, err := run("catalog", sub)
		var bce *catalog.BreakingChangeError
		if !errors.As(err, &bce) {
			t.Fatalf("catalog %s: err = %v, want a breaking change error\n%s", sub, err, out)
		}
		if !strings.Contains(err.Error(), "! drop column cli_ops.batch_runs column legacy") {
			t.Fatalf("catalog %s error does not name table and column: %v", sub, err)
		}
	}
}

// TestDataDictionaryIsCurrent keeps docs/data-dictionary.md in step with the
// catalog; regenerate it with
// `go run ./cmd/railyard catalog docs --out docs/data-dictionary.md`.
func TestDataDictionaryIsCurrent(t *testing.T) {
	want, err := catalog.Default().Docs()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/data-dictionary.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/data-dictionary.md is stale: run go run ./cmd/railyard catalog docs --out docs/data-dictionary.md")
	}
}
