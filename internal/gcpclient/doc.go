// Package gcpclient builds railyard's Google Cloud clients (BigQuery, Cloud
// Storage, Pub/Sub) from one endpoint-configurable Config, so that every
// component can be pointed at the local stand-ins (see internal/localstack)
// as easily as at production.
//
// An empty endpoint means production: the client library's default endpoint
// and Application Default Credentials. A non-empty endpoint means an
// emulator: the client talks to that endpoint without authentication (and,
// for Pub/Sub, over plaintext gRPC).
//
//   - BigQuery: the official client reads no emulator environment variable,
//     so the endpoint (for example "http://127.0.0.1:9050") is passed with
//     option.WithEndpoint. goccy's bigquery-emulator serves the API both with
//     and without the "/bigquery/v2" prefix, so a bare base URL works.
//   - Cloud Storage: the endpoint is the server's base URL (for example
//     "http://127.0.0.1:4443"); the JSON API path "/storage/v1/" is appended
//     and object reads go through the JSON API too, so nothing depends on
//     the XML-API host routing of fake-gcs-server. If StorageEndpoint is
//     empty the official client still honours STORAGE_EMULATOR_HOST.
//   - Pub/Sub: the endpoint is a gRPC "host:port". If PubSubEndpoint is empty
//     the client still honours PUBSUB_EMULATOR_HOST.
package gcpclient
