// Package localstack starts railyard's local stand-ins for Google Cloud on
// free loopback ports and stops them cleanly:
//
//   - Pub/Sub: cloud.google.com/go/pubsub/v2/pstest, in process (gRPC).
//   - Cloud Storage: github.com/fsouza/fake-gcs-server, in process (HTTP).
//     Its public host is set to exactly "127.0.0.1:<port>": with
//     STORAGE_EMULATOR_HOST the official client reads objects through the
//     XML-API route "/<bucket>/<object>", which fake-gcs-server only serves
//     when the request's Host equals its public host. Use 127.0.0.1, not
//     localhost, in anything that talks to it.
//   - BigQuery: goccy's bigquery-emulator, a separate process built once
//     from the tools/bigquery-emulator module (its go-zetasql dependency is
//     C++ and needs clang) and cached; see EnsureBigQueryEmulator. It runs in
//     its own process group and is killed with that group on Close; on Linux
//     it also gets SIGKILL if the parent dies, so it never outlives a test
//     binary that panics or times out.
//
// Start returns a Stack with the endpoints; Stack.GCPConfig hands them to
// internal/gcpclient, and Stack.Env / Stack.SetEnv give the environment
// variables (PUBSUB_EMULATOR_HOST, STORAGE_EMULATOR_HOST) for code that
// builds its own clients, such as Beam's gs:// filesystem. StartForTest is
// the same for tests, with cleanup registered on the test.
//
// Environment:
//
//	RAILYARD_BQ_EMULATOR  path of a prebuilt bigquery-emulator binary (skips the build)
//	RAILYARD_CACHE_DIR    cache directory for the built binary (default: os.UserCacheDir()/railyard)
package localstack
