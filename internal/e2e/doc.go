// Package e2e holds railyard's end-to-end tests across layers: events
// posted to the ingest gateway travel through Pub/Sub and the archiver into
// the lake, and the batch layer reads them back to the counts the generator
// produced. Every component is real and runs on loopback: pstest,
// fake-gcs-server, prism, the gateway's HTTP server.
package e2e
