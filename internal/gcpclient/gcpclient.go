package gcpclient

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Config selects the project and, per service, the endpoint railyard's
// clients talk to. The zero value of an endpoint means production.
type Config struct {
	// Project is the Google Cloud project ID. For BigQuery and Pub/Sub an
	// empty Project against production means "detect from the environment"
	// (credentials file, metadata server); against an emulator it is an
	// error.
	Project string
	// BigQueryEndpoint is the BigQuery REST base URL of an emulator, for
	// example "http://127.0.0.1:9050". Empty: production.
	BigQueryEndpoint string
	// StorageEndpoint is the base URL of a Cloud Storage emulator such as
	// fake-gcs-server, for example "http://127.0.0.1:4443" (a "host:port"
	// without scheme means http). Empty: production, or
	// STORAGE_EMULATOR_HOST when that is set.
	StorageEndpoint string
	// PubSubEndpoint is the gRPC "host:port" of a Pub/Sub emulator such as
	// pstest. Empty: production, or PUBSUB_EMULATOR_HOST when that is set.
	PubSubEndpoint string
}

// BigQuery returns a BigQuery client. Extra options are appended after
// railyard's own, so they take precedence.
func (c Config) BigQuery(ctx context.Context, opts ...option.ClientOption) (*bigquery.Client, error) {
	project := c.Project
	var o []option.ClientOption
	if c.BigQueryEndpoint != "" {
		if project == "" {
			return nil, fmt.Errorf("gcpclient: BigQuery emulator endpoint %q needs a project", c.BigQueryEndpoint)
		}
		ep, err := normalizeHTTPEndpoint(c.BigQueryEndpoint)
		if err != nil {
			return nil, fmt.Errorf("gcpclient: BigQuery endpoint: %w", err)
		}
		o = append(o, option.WithEndpoint(ep), option.WithoutAuthentication())
	} else if project == "" {
		project = bigquery.DetectProjectID
	}
	client, err := bigquery.NewClient(ctx, project, append(o, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("gcpclient: BigQuery client: %w", err)
	}
	return client, nil
}

// Storage returns a Cloud Storage client. Extra options are appended after
// railyard's own, so they take precedence.
func (c Config) Storage(ctx context.Context, opts ...option.ClientOption) (*storage.Client, error) {
	var o []option.ClientOption
	if c.StorageEndpoint != "" {
		ep, err := StorageJSONEndpoint(c.StorageEndpoint)
		if err != nil {
			return nil, fmt.Errorf("gcpclient: Storage endpoint: %w", err)
		}
		o = append(o, option.WithEndpoint(ep), option.WithoutAuthentication(), storage.WithJSONReads())
	}
	client, err := storage.NewClient(ctx, append(o, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("gcpclient: Storage client: %w", err)
	}
	return client, nil
}

// PubSub returns a Pub/Sub (v2) client. Extra options are appended after
// railyard's own, so they take precedence.
func (c Config) PubSub(ctx context.Context, opts ...option.ClientOption) (*pubsub.Client, error) {
	project := c.Project
	var o []option.ClientOption
	if c.PubSubEndpoint != "" {
		if project == "" {
			return nil, fmt.Errorf("gcpclient: Pub/Sub emulator endpoint %q needs a project", c.PubSubEndpoint)
		}
		o = append(o,
			option.WithEndpoint(grpcHostPort(c.PubSubEndpoint)),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithTelemetryDisabled(),
		)
	} else if project == "" {
		project = pubsub.DetectProjectID
	}
	client, err := pubsub.NewClient(ctx, project, append(o, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("gcpclient: Pub/Sub client: %w", err)
	}
	return client, nil
}

// IsEmulated reports whether any endpoint is set.
func (c Config) IsEmulated() bool {
	return c.BigQueryEndpoint != "" || c.StorageEndpoint != "" || c.PubSubEndpoint != ""
}

// StorageJSONEndpoint turns a Cloud Storage emulator base URL
// ("http://127.0.0.1:4443", "127.0.0.1:4443") into the JSON API endpoint
// the storage client expects ("http://127.0.0.1:4443/storage/v1/"). An
// endpoint that already has a path is returned with a trailing slash only.
func StorageJSONEndpoint(endpoint string) (string, error) {
	u, err := parseHTTPEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/storage/v1/"
	} else if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

// normalizeHTTPEndpoint adds a missing http scheme and checks the URL.
func normalizeHTTPEndpoint(endpoint string) (string, error) {
	u, err := parseHTTPEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func parseHTTPEndpoint(endpoint string) (*url.URL, error) {
	s := strings.TrimSpace(endpoint)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid endpoint %q: scheme must be http or https", endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid endpoint %q: no host", endpoint)
	}
	return u, nil
}

// grpcHostPort strips a URL scheme and path, should a caller pass
// "http://host:port/" for a gRPC endpoint.
func grpcHostPort(endpoint string) string {
	s := strings.TrimSpace(endpoint)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}
