package catalog

import (
	"fmt"
	"reflect"
	"strings"

	"cloud.google.com/go/bigquery"
)

// SchemaOf returns the BigQuery schema of a row type: the BigQuery client's
// inference (column names from `bigquery` tags, non-pointer fields REQUIRED),
// with column descriptions from `desc` tags, and REQUIRED relaxed to NULLABLE
// for fields tagged `bqmode:"NULLABLE"`. Columns added to an existing table
// must be NULLABLE, because BigQuery cannot add a REQUIRED column.
func SchemaOf(rt reflect.Type) (bigquery.Schema, error) {
	if rt == nil {
		return nil, fmt.Errorf("no row type")
	}
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	inferred, err := bigquery.InferSchema(reflect.New(rt).Elem().Interface())
	if err != nil {
		return nil, fmt.Errorf("row type %v: %w", rt, err)
	}
	// InferSchema returns the client's cached schema, shared with every
	// other caller (inserters included): annotate a copy.
	schema := cloneSchema(inferred)
	annotate(schema, rt)
	return schema, nil
}

func cloneSchema(s bigquery.Schema) bigquery.Schema {
	out := make(bigquery.Schema, len(s))
	for i, f := range s {
		c := *f
		c.Schema = cloneSchema(f.Schema)
		out[i] = &c
	}
	return out
}

func annotate(schema bigquery.Schema, rt reflect.Type) {
	byName := map[string]reflect.StructField{}
	// VisibleFields includes the fields of embedded structs, which
	// InferSchema flattens into the parent.
	for _, f := range reflect.VisibleFields(rt) {
		if f.Anonymous || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("bigquery"), ",")
		if name == "" {
			name = f.Name
		}
		byName[name] = f
	}
	for _, fs := range schema {
		f, ok := byName[fs.Name]
		if !ok {
			continue
		}
		fs.Description = f.Tag.Get("desc")
		if strings.EqualFold(f.Tag.Get("bqmode"), "NULLABLE") {
			fs.Required = false
		}
		if fs.Type == bigquery.RecordFieldType {
			et := f.Type
			for et.Kind() == reflect.Pointer || et.Kind() == reflect.Slice {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				annotate(fs.Schema, et)
			}
		}
	}
}

// Mode is a column's BigQuery mode: REQUIRED, NULLABLE or REPEATED.
func Mode(f *bigquery.FieldSchema) string {
	switch {
	case f.Repeated:
		return "REPEATED"
	case f.Required:
		return "REQUIRED"
	default:
		return "NULLABLE"
	}
}
