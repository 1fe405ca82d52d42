package catalog

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
)

// Layer is the role a dataset plays in the Lambda architecture.
type Layer string

// The layers, in the order data flows through them.
const (
	LayerLake     Layer = "lake"
	LayerBatch    Layer = "batch"
	LayerRealtime Layer = "realtime"
	LayerServing  Layer = "serving"
	LayerOps      Layer = "ops"
)

// Dataset is a BigQuery dataset. Name is the logical name; the BigQuery
// dataset ID is the catalog prefix followed by Name.
type Dataset struct {
	Name        string
	Layer       Layer
	Description string
	Owner       string
}

// Partitioning is a table's time partitioning on one of its columns.
type Partitioning struct {
	Field       string
	Granularity bigquery.TimePartitioningType // bigquery.DayPartitioningType or HourPartitioningType
	// Expiration is how long a partition is kept; 0 keeps it forever.
	Expiration time.Duration
}

// Table is a BigQuery table, or a view when ViewQuery is set.
type Table struct {
	Dataset     string // logical dataset name
	Name        string
	Description string
	Owner       string
	// RowType is the Go struct whose fields are the table's columns (see
	// SchemaOf). Nil for views.
	RowType      reflect.Type
	Partitioning *Partitioning
	Clustering   []string
	// ViewQuery is the view's SQL. Write dataset references as
	// {{dataset "name"}}; they expand to `project.prefixname`.
	ViewQuery string
}

// IsView reports whether the table is a view.
func (t Table) IsView() bool { return t.ViewQuery != "" }

// Ref is the table's logical reference, dataset.name.
func (t Table) Ref() string { return t.Dataset + "." + t.Name }

// Lake is a dataset of files in the lake: the append-only master dataset the
// batch layer recomputes from.
type Lake struct {
	Name        string
	Description string
	Owner       string
	RowType     reflect.Type
	// Format is the files' encoding, e.g. "jsonl.gz": gzip-compressed JSON,
	// one object per line.
	Format string
	// PathTemplate documents the object layout under the lake root.
	PathTemplate string
	// Retention is how long files are kept; 0 keeps them forever.
	Retention time.Duration
}

// Catalog is the whole data definition of one environment.
type Catalog struct {
	// Prefix is prepended to every dataset name, e.g. "dev_".
	Prefix   string
	Datasets []Dataset
	Tables   []Table
	Lakes    []Lake
}

// WithPrefix returns a copy of the catalog whose datasets carry prefix.
func (c Catalog) WithPrefix(prefix string) Catalog {
	c.Prefix = prefix
	return c
}

// DatasetID is the BigQuery dataset ID of the logical dataset name.
func (c Catalog) DatasetID(name string) string { return c.Prefix + name }

// TableID returns the BigQuery "dataset.table" of a logical "dataset.table".
func (c Catalog) TableID(ref string) string {
	ds, name, _ := strings.Cut(ref, ".")
	return c.DatasetID(ds) + "." + name
}

// Table looks a table or view up by its logical reference "dataset.name".
func (c Catalog) Table(ref string) (Table, bool) {
	for _, t := range c.Tables {
		if t.Ref() == ref {
			return t, true
		}
	}
	return Table{}, false
}

// Dataset looks a dataset up by its logical name.
func (c Catalog) Dataset(name string) (Dataset, bool) {
	for _, d := range c.Datasets {
		if d.Name == name {
			return d, true
		}
	}
	return Dataset{}, false
}

// TablesIn returns the tables and views of one dataset, sorted by name.
func (c Catalog) TablesIn(dataset string) []Table {
	var out []Table
	for _, t := range c.Tables {
		if t.Dataset == dataset {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Validate checks the catalog's internal consistency: unique names, tables in
// declared datasets, partitioning and clustering on existing columns of the
// right types, row types that BigQuery can represent.
func (c Catalog) Validate() error {
	var errs []string
	datasets := map[string]bool{}
	for _, d := range c.Datasets {
		if datasets[d.Name] {
			errs = append(errs, fmt.Sprintf("dataset %s declared twice", d.Name))
		}
		datasets[d.Name] = true
		if d.Description == "" || d.Owner == "" {
			errs = append(errs, fmt.Sprintf("dataset %s needs a description and an owner", d.Name))
		}
	}
	seen := map[string]bool{}
	for _, t := range c.Tables {
		ref := t.Ref()
		if seen[ref] {
			errs = append(errs, fmt.Sprintf("table %s declared twice", ref))
		}
		seen[ref] = true
		if !datasets[t.Dataset] {
			errs = append(errs, fmt.Sprintf("table %s is in undeclared dataset %s", ref, t.Dataset))
		}
		if t.Description == "" || t.Owner == "" {
			errs = append(errs, fmt.Sprintf("table %s needs a description and an owner", ref))
		}
		if t.IsView() {
			if t.RowType != nil || t.Partitioning != nil || len(t.Clustering) > 0 {
				errs = append(errs, fmt.Sprintf("view %s cannot have a row type, partitioning or clustering", ref))
			}
			continue
		}
		schema, err := SchemaOf(t.RowType)
		if err != nil {
			errs = append(errs, fmt.Sprintf("table %s: %v", ref, err))
			continue
		}
		cols := map[string]*bigquery.FieldSchema{}
		for _, f := range schema {
			cols[f.Name] = f
			if f.Description == "" {
				errs = append(errs, fmt.Sprintf("table %s column %s has no description (desc tag)", ref, f.Name))
			}
		}
		if p := t.Partitioning; p != nil {
			f, ok := cols[p.Field]
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("table %s partitions on missing column %s", ref, p.Field))
			case f.Type != bigquery.TimestampFieldType && f.Type != bigquery.DateFieldType:
				errs = append(errs, fmt.Sprintf("table %s partitions on %s of type %s, want TIMESTAMP or DATE", ref, p.Field, f.Type))
			}
		}
		for _, name := range t.Clustering {
			if _, ok := cols[name]; !ok {
				errs = append(errs, fmt.Sprintf("table %s clusters on missing column %s", ref, name))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("catalog is inconsistent:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
