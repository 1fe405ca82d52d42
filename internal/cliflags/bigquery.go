package cliflags

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/url"
	"os"

	"cloud.google.com/go/bigquery"
	"github.com/railyard-dev/railyard/internal/gcpclient"
	"github.com/railyard-dev/railyard/schemas/catalog"
)

// BigQuery selects a BigQuery project, endpoint and environment prefix.
type BigQuery struct {
	Project       string
	Endpoint      string
	DatasetPrefix string
}

// Register adds --bq_project, --bq_endpoint and --dataset_prefix to fs.
func (b *BigQuery) Register(fs *flag.FlagSet) {
	fs.StringVar(&b.Project, "bq_project", os.Getenv("RAILYARD_BQ_PROJECT"),
		"Google Cloud project that holds railyard's BigQuery datasets (env RAILYARD_BQ_PROJECT)")
	fs.StringVar(&b.Endpoint, "bq_endpoint", os.Getenv("RAILYARD_BQ_ENDPOINT"),
		"BigQuery API endpoint, e.g. http://127.0.0.1:9050 for the emulator; empty means Google's (env RAILYARD_BQ_ENDPOINT)")
	fs.StringVar(&b.DatasetPrefix, "dataset_prefix", os.Getenv("RAILYARD_DATASET_PREFIX"),
		"prefix of every dataset name, e.g. dev_ for dev_batch, dev_ops, … (env RAILYARD_DATASET_PREFIX)")
}

// Validate reports missing settings.
func (b BigQuery) Validate() error {
	if b.Project == "" {
		return errors.New("--bq_project is required (or set RAILYARD_BQ_PROJECT)")
	}
	return nil
}

// OnEmulator reports whether the endpoint is on this machine's loopback
// interface, which railyard takes to mean goccy's BigQuery emulator: code
// that must work around the emulator's limits checks this.
func (b BigQuery) OnEmulator() bool {
	if b.Endpoint == "" {
		return false
	}
	u, err := url.Parse(b.Endpoint)
	if err != nil || u.Host == "" {
		u, err = url.Parse("http://" + b.Endpoint)
		if err != nil {
			return false
		}
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Catalog is railyard's catalog with the configured dataset prefix.
func (b BigQuery) Catalog() catalog.Catalog {
	return catalog.Default().WithPrefix(b.DatasetPrefix)
}

// Client opens a BigQuery client for the configured project and endpoint.
func (b BigQuery) Client(ctx context.Context) (*bigquery.Client, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return gcpclient.Config{Project: b.Project, BigQueryEndpoint: b.Endpoint}.BigQuery(ctx)
}

// ApplyCatalog brings the configured project up to railyard's catalog (with
// the dataset prefix): it plans and applies every additive change, the way
// `railyard catalog apply` does without progress output. Tests, benchmarks
// and the demo use it on the emulator.
func (b BigQuery) ApplyCatalog(ctx context.Context, client *bigquery.Client) error {
	c := b.Catalog()
	plan, err := c.Plan(ctx, client)
	if err != nil {
		return err
	}
	return c.Apply(ctx, client, plan, catalog.ApplyOptions{RecreateOnEmulator: b.OnEmulator()})
}
