// Package httpstatus records the status code an HTTP handler answered
// with, for the request metrics of railyard's HTTP servers (the ingest
// gateway and the serving layer).
package httpstatus
