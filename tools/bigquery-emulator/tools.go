//go:build tools

// Package tools pins goccy's bigquery-emulator in a module of its own, so its
// cgo dependency graph (go-zetasql) never enters railyard's main module.
package tools

import _ "github.com/goccy/bigquery-emulator/cmd/bigquery-emulator"
