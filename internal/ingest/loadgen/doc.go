// Command loadgen is the ingest gateway's load generator, for
// scripts/bench-ingest.sh: it sends a bounded number of requests, each a
// JSON array (or NDJSON body) of distinct valid events from internal/gen,
// at a fixed concurrency, and reports events accepted per second and the
// latency percentiles. With -serve_bare it is instead the bare baseline: an
// HTTP server whose handler only reads the body and answers 202, so that
// the gateway can be compared with what net/http alone costs on the same
// machine.
//
//	loadgen -url http://127.0.0.1:8080/v1/events -requests 2000 -concurrency 8 -batch 100
//	loadgen -serve_bare 127.0.0.1:0
package main
