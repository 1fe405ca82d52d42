package cliflags

import (
	"flag"
	"testing"
)

func TestOnEmulator(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"":                                  false,
		"http://127.0.0.1:9050":             true,
		"127.0.0.1:9050":                    true,
		"http://localhost:9050/":            true,
		"http://[::1]:9050":                 true,
		"https://bigquery.googleapis.com":   false,
		"https://bigquery.example.internal": false,
	} {
		if got := (BigQuery{Endpoint: endpoint}).OnEmulator(); got != want {
			t.Errorf("OnEmulator(%q) = %v, want %v", endpoint, got, want)
		}
	}
}

func TestRegisterReadsEnvironmentDefaults(t *testing.T) {
	t.Setenv("RAILYARD_BQ_PROJECT", "p-env")
	t.Setenv("RAILYARD_DATASET_PREFIX", "dev_")
	var bq BigQuery
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	bq.Register(fs)
	if err := fs.Parse([]string{"--bq_endpoint=http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if bq.Project != "p-env" || bq.DatasetPrefix != "dev_" || bq.Endpoint != "http://127.0.0.1:1" {
		t.Fatalf("flags = %+v", bq)
	}
	if got := bq.Catalog().DatasetID("ops"); got != "dev_ops" {
		t.Fatalf("catalog prefix not applied: %s", got)
	}
	if err := (BigQuery{}).Validate(); err == nil {
		t.Fatal("Validate accepted an empty project")
	}
}
