// Package catalog is the single definition of railyard's data: every BigQuery
// dataset, table and view, and the lake's layout, as Go values.
//
// From it come the data dictionary (Markdown), BigQuery DDL, and the plan and
// apply steps that bring a live BigQuery in line with it. Apply makes additive
// changes only (new datasets, tables, views and NULLABLE columns; relaxed
// modes; descriptions, clustering and retention); anything that could lose or
// reinterpret data (a dropped column, a changed type, a tightened mode, a
// changed partitioning) is refused with a message naming the table and column,
// because such a change needs a migration that a person plans.
//
// Dataset names carry a prefix, so one project can host several environments
// (dev_batch, prod_batch, …); table names never do.
package catalog
