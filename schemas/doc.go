// Package schemas holds railyard's shared data contracts: the GameEvent wire and
// lake format with its decoder and validation rules, and the row types of every
// BigQuery view and operational table.
//
// Batch and streaming pipelines, the ingest gateway and the catalog all build on
// these types, so a rule changed here changes everywhere at once. Validation
// failures are typed (see Reason) so dead letters can be counted and queried by
// cause rather than by free-form message. DecodeJSON tries a single-pass fast
// path (decodefast.go) for plain, valid events and falls back to the reference
// encoding/json decoder whenever it is not certain of an identical result.
//
// Row types carry three struct tags per field: `json` for the wire, `beam` for
// Beam schema coding and `bigquery` for the column name (the snake_case of the
// Go field name). A `desc` tag holds the column description that the catalog
// publishes to BigQuery and to the data dictionary.
package schemas
