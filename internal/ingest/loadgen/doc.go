// Command loadgen is the ingest gateway's load generator, for
// scripts/bench-ingest.sh: it sends a bounded number of requests, each a
// JSON array (or NDJSON body) of distinct valid events from internal/gen,
// at a fixed concurrency, and reports events accepted per second and the
// latency percentiles. Its other modes are the benchmark's baselines and
// stand-ins, each in a process of its own so that CPU time is measured per
// role:
//
//   - -serve_bare: an HTTP server whose handler only reads the body and
//     answers 202, what net/http alone costs on the same machine;
//
//   - -serve_pubsub: the Pub/Sub emulator (pstest) with the given topics;
//
//   - -ceiling: the same events published straight to that emulator with
//     the bare gRPC stub, one Publish RPC per request, which bounds what
//     any gateway publishing there can reach on this machine.
//
//     loadgen -url http://127.0.0.1:8080/v1/events -requests 2000 -concurrency 8 -batch 100
//     loadgen -serve_bare 127.0.0.1:0
//     loadgen -serve_pubsub 127.0.0.1:0 -topics projects/p/topics/game-events,projects/p/topics/game-events-dead-letters
//     loadgen -ceiling 127.0.0.1:8085 -topics projects/p/topics/game-events -requests 2000 -concurrency 8 -batch 100
package main
