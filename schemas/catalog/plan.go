package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// ChangeKind is what a plan step does.
type ChangeKind string

// Additive change kinds: apply performs these.
const (
	CreateDataset     ChangeKind = "create dataset"
	CreateTable       ChangeKind = "create table"
	CreateView        ChangeKind = "create view"
	AddColumn         ChangeKind = "add column"
	RelaxColumn       ChangeKind = "relax column"
	UpdateDescription ChangeKind = "update description"
	UpdateClustering  ChangeKind = "update clustering"
	UpdateRetention   ChangeKind = "update retention"
	UpdateViewQuery   ChangeKind = "update view query"
)

// Breaking change kinds: apply refuses a plan that has any.
const (
	DropColumn         ChangeKind = "drop column"
	ChangeColumnType   ChangeKind = "change column type"
	TightenColumn      ChangeKind = "tighten column mode"
	AddRequiredColumn  ChangeKind = "add REQUIRED column"
	ChangePartitioning ChangeKind = "change partitioning"
	ChangeTableKind    ChangeKind = "change table kind"
)

// Change is one difference between the catalog and a live BigQuery.
type Change struct {
	Kind     ChangeKind
	Breaking bool
	Dataset  string // BigQuery dataset ID
	Table    string // "" for dataset-level changes
	Column   string // "" for dataset- and table-level changes
	Detail   string
}

// Target is the change's object: dataset, dataset.table or dataset.table column c.
func (c Change) Target() string {
	s := c.Dataset
	if c.Table != "" {
		s += "." + c.Table
	}
	if c.Column != "" {
		s += " column " + c.Column
	}
	return s
}

func (c Change) String() string {
	mark := "+"
	if c.Breaking {
		mark = "!"
	}
	s := fmt.Sprintf("%s %s %s", mark, c.Kind, c.Target())
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Plan is the ordered list of changes that would bring a live BigQuery in line
// with the catalog.
type Plan struct {
	Project string
	Changes []Change
}

// Breaking returns the plan's breaking changes.
func (p Plan) Breaking() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Breaking {
			out = append(out, c)
		}
	}
	return out
}

func (p Plan) String() string {
	if len(p.Changes) == 0 {
		return fmt.Sprintf("project %s is up to date with the catalog: no changes.\n", p.Project)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "project %s: %d change(s), %d breaking\n", p.Project, len(p.Changes), len(p.Breaking()))
	for _, c := range p.Changes {
		b.WriteString("  " + c.String() + "\n")
	}
	return b.String()
}

// BreakingChangeError is returned by Apply when the plan holds breaking changes.
type BreakingChangeError struct{ Changes []Change }

func (e *BreakingChangeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refusing to apply %d breaking change(s); they need a planned migration:", len(e.Changes))
	for _, c := range e.Changes {
		b.WriteString("\n  " + c.String())
	}
	return b.String()
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// Plan compares the catalog with the live BigQuery behind client. Changes
// are ordered so they can be applied in sequence: datasets first, then
// tables, then views (which may read any table).
func (c Catalog) Plan(ctx context.Context, client *bigquery.Client) (Plan, error) {
	if err := c.Validate(); err != nil {
		return Plan{}, err
	}
	var datasetChanges, tableChanges, viewChanges []Change
	add := func(t Table, ch ...Change) {
		if t.IsView() {
			viewChanges = append(viewChanges, ch...)
		} else {
			tableChanges = append(tableChanges, ch...)
		}
	}
	for _, d := range c.Datasets {
		dsID := c.DatasetID(d.Name)
		ds := client.Dataset(dsID)
		md, err := withTimeout(ctx, func(ctx context.Context) (*bigquery.DatasetMetadata, error) { return ds.Metadata(ctx) })
		switch {
		case isNotFound(err):
			datasetChanges = append(datasetChanges, Change{Kind: CreateDataset, Dataset: dsID, Detail: string(d.Layer) + " layer"})
			for _, t := range c.TablesIn(d.Name) {
				add(t, createChange(dsID, t))
			}
			continue
		case err != nil:
			return Plan{}, fmt.Errorf("reading dataset %s: %w", dsID, err)
		}
		if md.Description != d.Description {
			datasetChanges = append(datasetChanges, Change{Kind: UpdateDescription, Dataset: dsID})
		}
		for _, t := range c.TablesIn(d.Name) {
			tmd, err := withTimeout(ctx, func(ctx context.Context) (*bigquery.TableMetadata, error) { return ds.Table(t.Name).Metadata(ctx) })
			switch {
			case isNotFound(err):
				add(t, createChange(dsID, t))
				continue
			case err != nil:
				return Plan{}, fmt.Errorf("reading table %s.%s: %w", dsID, t.Name, err)
			}
			changes, err := c.diffTable(dsID, t, tmd, client.Project())
			if err != nil {
				return Plan{}, err
			}
			add(t, changes...)
		}
	}
	changes := append(append(datasetChanges, tableChanges...), viewChanges...)
	return Plan{Project: client.Project(), Changes: changes}, nil
}

// opTimeout bounds each BigQuery API call: the client retries 5xx answers
// until its context ends, and an emulator can answer 500 for good.
const opTimeout = 2 * time.Minute

func withTimeout[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return f(ctx)
}

func createChange(dsID string, t Table) Change {
	if t.IsView() {
		return Change{Kind: CreateView, Dataset: dsID, Table: t.Name}
	}
	return Change{Kind: CreateTable, Dataset: dsID, Table: t.Name}
}

func (c Catalog) diffTable(dsID string, t Table, live *bigquery.TableMetadata, project string) ([]Change, error) {
	at := func(kind ChangeKind, breaking bool, column, format string, args ...any) Change {
		return Change{Kind: kind, Breaking: breaking, Dataset: dsID, Table: t.Name, Column: column, Detail: fmt.Sprintf(format, args...)}
	}
	var out []Change
	if live.Description != t.Description {
		out = append(out, at(UpdateDescription, false, "", ""))
	}
	if t.IsView() {
		if live.Type != bigquery.ViewTable {
			return append(out, at(ChangeTableKind, true, "", "live is a %s, the catalog declares a view", live.Type)), nil
		}
		q, err := c.ExpandView(t, project)
		if err != nil {
			return nil, err
		}
		if normalizeSQL(live.ViewQuery) != normalizeSQL(q) {
			out = append(out, at(UpdateViewQuery, false, "", ""))
		}
		return out, nil
	}
	if live.Type == bigquery.ViewTable {
		return append(out, at(ChangeTableKind, true, "", "live is a view, the catalog declares a table")), nil
	}
	want, err := SchemaOf(t.RowType)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Ref(), err)
	}
	out = append(out, diffColumns(at, "", want, live.Schema)...)
	out = append(out, diffPartitioning(at, t.Partitioning, live.TimePartitioning)...)
	var liveClustering []string
	if live.Clustering != nil {
		liveClustering = live.Clustering.Fields
	}
	if !slices.Equal(liveClustering, t.Clustering) {
		out = append(out, at(UpdateClustering, false, "", "[%s] → [%s]", strings.Join(liveClustering, ", "), strings.Join(t.Clustering, ", ")))
	}
	return out, nil
}

type changeAt func(kind ChangeKind, breaking bool, column, format string, args ...any) Change

func diffColumns(at changeAt, prefix string, want, live bigquery.Schema) []Change {
	var out []Change
	liveByName := map[string]*bigquery.FieldSchema{}
	for _, f := range live {
		liveByName[f.Name] = f
	}
	wantByName := map[string]bool{}
	for _, w := range want {
		wantByName[w.Name] = true
		name := prefix + w.Name
		l, ok := liveByName[w.Name]
		if !ok {
			if w.Required {
				out = append(out, at(AddRequiredColumn, true, name, "BigQuery can only add NULLABLE or REPEATED columns to an existing table; tag the field bqmode:\"NULLABLE\""))
			} else {
				out = append(out, at(AddColumn, false, name, "%s %s", w.Type, Mode(w)))
			}
			continue
		}
		if l.Type != w.Type {
			out = append(out, at(ChangeColumnType, true, name, "live type %s, catalog type %s", l.Type, w.Type))
			continue
		}
		switch lm, wm := Mode(l), Mode(w); {
		case lm == wm:
		case lm == "REQUIRED" && wm == "NULLABLE":
			out = append(out, at(RelaxColumn, false, name, "REQUIRED → NULLABLE"))
		case lm == "NULLABLE" && wm == "REQUIRED":
			out = append(out, at(TightenColumn, true, name, "live mode NULLABLE, catalog mode REQUIRED"))
		default:
			out = append(out, at(ChangeColumnType, true, name, "live mode %s, catalog mode %s", lm, wm))
		}
		if l.Description != w.Description {
			out = append(out, at(UpdateDescription, false, name, ""))
		}
		if w.Type == bigquery.RecordFieldType {
			out = append(out, diffColumns(at, name+".", w.Schema, l.Schema)...)
		}
	}
	for _, l := range live {
		if !wantByName[l.Name] {
			out = append(out, at(DropColumn, true, prefix+l.Name, "live has %s %s, the catalog does not declare it", l.Type, Mode(l)))
		}
	}
	return out
}

func diffPartitioning(at changeAt, want *Partitioning, live *bigquery.TimePartitioning) []Change {
	switch {
	case want == nil && live == nil:
		return nil
	case want == nil:
		return []Change{at(ChangePartitioning, true, "", "live is partitioned on %s, the catalog declares no partitioning", live.Field)}
	case live == nil:
		return []Change{at(ChangePartitioning, true, "", "live is not partitioned, the catalog partitions on %s", want.Field)}
	}
	liveType := live.Type
	if liveType == "" {
		liveType = bigquery.DayPartitioningType
	}
	if live.Field != want.Field || liveType != want.Granularity {
		return []Change{at(ChangePartitioning, true, "", "live %s on %q, catalog %s on %q", liveType, live.Field, want.Granularity, want.Field)}
	}
	if live.Expiration != want.Expiration {
		return []Change{at(UpdateRetention, false, "", "partition expiration %s → %s", retention(live.Expiration), retention(want.Expiration))}
	}
	return nil
}

func normalizeSQL(q string) string { return strings.Join(strings.Fields(q), " ") }

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Progress, if not nil, is called before each change.
	Progress func(Change)
	// RecreateOnEmulator applies schema, description and view changes by
	// recreating the table (copy, drop, create, copy back) instead of
	// updating it, for goccy's BigQuery emulator, which acknowledges table
	// and dataset updates without persisting them. Never use it against
	// BigQuery itself: recreating a table drops its streaming buffer,
	// time travel and policies.
	RecreateOnEmulator bool
}

// Apply performs the plan's changes, or refuses with a *BreakingChangeError
// and changes nothing when any change is breaking. Every update is read
// back, so an update the server acknowledged but did not persist is an error.
func (c Catalog) Apply(ctx context.Context, client *bigquery.Client, plan Plan, opts ApplyOptions) error {
	if b := plan.Breaking(); len(b) > 0 {
		return &BreakingChangeError{Changes: b}
	}
	// Changes to one table are applied together, after everything is
	// created. Views come last, after the table updates: a new view may
	// read a column that an update is about to add (BigQuery, and the
	// emulator, check a view's query when it is created).
	var updates, viewChanges []Change
	pending := map[string]bool{}
	apply := func(ch Change) error {
		if opts.Progress != nil {
			opts.Progress(ch)
		}
		var err error
		switch {
		case ch.Kind == CreateDataset:
			err = c.createDataset(ctx, client, ch.Dataset)
		case ch.Kind == CreateTable || ch.Kind == CreateView:
			err = c.createTable(ctx, client, ch.Dataset, ch.Table)
		case ch.Table == "":
			err = c.updateDataset(ctx, client, ch.Dataset)
		case !pending[ch.Dataset+"."+ch.Table]:
			pending[ch.Dataset+"."+ch.Table] = true
			updates = append(updates, ch)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", ch.Kind, ch.Target(), err)
		}
		return nil
	}
	for _, ch := range plan.Changes {
		if ch.Table != "" && c.isView(ch.Dataset, ch.Table) {
			viewChanges = append(viewChanges, ch)
			continue
		}
		if err := apply(ch); err != nil {
			return err
		}
	}
	update := func() error {
		for _, ch := range updates {
			if err := c.updateTable(ctx, client, ch.Dataset, ch.Table, opts.RecreateOnEmulator); err != nil {
				return fmt.Errorf("updating %s.%s: %w", ch.Dataset, ch.Table, err)
			}
		}
		updates = nil
		return nil
	}
	if err := update(); err != nil {
		return err
	}
	for _, ch := range viewChanges {
		if err := apply(ch); err != nil {
			return err
		}
	}
	return update()
}

// isView reports whether dsID.name is a view in the catalog.
func (c Catalog) isView(dsID, name string) bool {
	t, err := c.tableByID(dsID, name)
	return err == nil && t.IsView()
}

func (c Catalog) byDatasetID(dsID string) (Dataset, error) {
	for _, d := range c.Datasets {
		if c.DatasetID(d.Name) == dsID {
			return d, nil
		}
	}
	return Dataset{}, fmt.Errorf("dataset %s is not in the catalog", dsID)
}

func (c Catalog) tableByID(dsID, name string) (Table, error) {
	d, err := c.byDatasetID(dsID)
	if err != nil {
		return Table{}, err
	}
	t, ok := c.Table(d.Name + "." + name)
	if !ok {
		return Table{}, fmt.Errorf("table %s.%s is not in the catalog", dsID, name)
	}
	return t, nil
}

func (c Catalog) createDataset(ctx context.Context, client *bigquery.Client, dsID string) error {
	d, err := c.byDatasetID(dsID)
	if err != nil {
		return err
	}
	_, err = withTimeout(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, client.Dataset(dsID).Create(ctx, &bigquery.DatasetMetadata{
			Description: d.Description,
			Labels:      map[string]string{"layer": string(d.Layer), "owner": LabelValue(d.Owner)},
		})
	})
	return err
}

func (c Catalog) updateDataset(ctx context.Context, client *bigquery.Client, dsID string) error {
	d, err := c.byDatasetID(dsID)
	if err != nil {
		return err
	}
	ds := client.Dataset(dsID)
	if _, err := withTimeout(ctx, func(ctx context.Context) (*bigquery.DatasetMetadata, error) {
		return ds.Update(ctx, bigquery.DatasetMetadataToUpdate{Description: d.Description}, "")
	}); err != nil {
		return err
	}
	md, err := withTimeout(ctx, func(ctx context.Context) (*bigquery.DatasetMetadata, error) { return ds.Metadata(ctx) })
	if err != nil {
		return err
	}
	if md.Description != d.Description {
		return fmt.Errorf("the server acknowledged the description update of dataset %s but did not persist it (goccy's BigQuery emulator does this; see the README's known limits)", dsID)
	}
	return nil
}

func (c Catalog) tableMetadata(t Table, project string) (*bigquery.TableMetadata, error) {
	md := &bigquery.TableMetadata{
		Description: t.Description,
		Labels:      map[string]string{"owner": LabelValue(t.Owner)},
	}
	if t.IsView() {
		q, err := c.ExpandView(t, project)
		if err != nil {
			return nil, err
		}
		md.ViewQuery = q
		return md, nil
	}
	schema, err := SchemaOf(t.RowType)
	if err != nil {
		return nil, err
	}
	md.Schema = schema
	if p := t.Partitioning; p != nil {
		md.TimePartitioning = &bigquery.TimePartitioning{Type: p.Granularity, Field: p.Field, Expiration: p.Expiration}
	}
	if len(t.Clustering) > 0 {
		md.Clustering = &bigquery.Clustering{Fields: t.Clustering}
	}
	return md, nil
}

func (c Catalog) createTable(ctx context.Context, client *bigquery.Client, dsID, name string) error {
	t, err := c.tableByID(dsID, name)
	if err != nil {
		return err
	}
	md, err := c.tableMetadata(t, client.Project())
	if err != nil {
		return err
	}
	_, err = withTimeout(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, client.Dataset(dsID).Table(name).Create(ctx, md)
	})
	return err
}

// updateTable brings an existing table's mutable metadata in line with the
// catalog, then reads it back and fails if any additive change is left.
// The new schema is the live one with new columns appended, so existing
// column order never changes.
func (c Catalog) updateTable(ctx context.Context, client *bigquery.Client, dsID, name string, recreate bool) error {
	t, err := c.tableByID(dsID, name)
	if err != nil {
		return err
	}
	ref := client.Dataset(dsID).Table(name)
	live, err := withTimeout(ctx, func(ctx context.Context) (*bigquery.TableMetadata, error) { return ref.Metadata(ctx) })
	if err != nil {
		return err
	}
	want, err := c.tableMetadata(t, client.Project())
	if err != nil {
		return err
	}
	if !t.IsView() {
		want.Schema = mergeSchema(live.Schema, want.Schema)
	}
	if recreate {
		err = recreateTable(ctx, client, dsID, name, live, want)
	} else {
		err = patchTable(ctx, ref, t, live, want)
	}
	if err != nil {
		return err
	}
	after, err := withTimeout(ctx, func(ctx context.Context) (*bigquery.TableMetadata, error) { return ref.Metadata(ctx) })
	if err != nil {
		return err
	}
	left, err := c.diffTable(dsID, t, after, client.Project())
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("the server acknowledged the update but did not persist it (%s); goccy's BigQuery emulator does this unless the endpoint is on loopback, which makes apply recreate the table", left[0])
	}
	return nil
}

func patchTable(ctx context.Context, ref *bigquery.Table, t Table, live, want *bigquery.TableMetadata) error {
	upd := bigquery.TableMetadataToUpdate{Description: t.Description}
	if t.IsView() {
		upd.ViewQuery = want.ViewQuery
	} else {
		upd.Schema = want.Schema
		upd.Clustering = want.Clustering
		if want.Clustering == nil && live.Clustering != nil {
			upd.Clustering = &bigquery.Clustering{}
		}
		if p := t.Partitioning; p != nil {
			// In an update, a zero expiration clears the live one.
			upd.TimePartitioning = &bigquery.TimePartitioning{Expiration: p.Expiration}
		}
	}
	_, err := withTimeout(ctx, func(ctx context.Context) (*bigquery.TableMetadata, error) {
		return ref.Update(ctx, upd, live.ETag)
	})
	return err
}

// recreateTable replaces a table by one with the wanted metadata, keeping its
// rows: CREATE TABLE copy AS SELECT, drop, create, INSERT … SELECT, drop the
// copy. A view is dropped with DROP VIEW (the emulator refuses tables.delete
// on a view) and created again.
func recreateTable(ctx context.Context, client *bigquery.Client, dsID, name string, live, want *bigquery.TableMetadata) error {
	ref := client.Dataset(dsID).Table(name)
	if live.Type == bigquery.ViewTable {
		if err := runQuery(ctx, client, fmt.Sprintf("DROP VIEW `%s.%s`", dsID, name)); err != nil {
			return err
		}
		_, err := withTimeout(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, ref.Create(ctx, want) })
		return err
	}
	copyName := name + "__railyard_recreate"
	var cols []string
	for _, f := range live.Schema {
		cols = append(cols, "`"+f.Name+"`")
	}
	colList := strings.Join(cols, ", ")
	steps := []func() error{
		func() error {
			return runQuery(ctx, client, fmt.Sprintf("CREATE TABLE `%s.%s` AS SELECT * FROM `%s.%s`", dsID, copyName, dsID, name))
		},
		func() error {
			_, err := withTimeout(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, ref.Delete(ctx) })
			return err
		},
		func() error {
			_, err := withTimeout(ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, ref.Create(ctx, want) })
			return err
		},
		func() error {
			return runQuery(ctx, client, fmt.Sprintf("INSERT INTO `%s.%s` (%s) SELECT %s FROM `%s.%s`", dsID, name, colList, colList, dsID, copyName))
		},
		func() error {
			_, err := withTimeout(ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, client.Dataset(dsID).Table(copyName).Delete(ctx)
			})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("recreating %s.%s, step %d of %d (rows are kept in %s.%s until the last step): %w", dsID, name, i+1, len(steps), dsID, copyName, err)
		}
	}
	return nil
}

func runQuery(ctx context.Context, client *bigquery.Client, sql string) error {
	_, err := withTimeout(ctx, func(ctx context.Context) (struct{}, error) {
		job, err := client.Query(sql).Run(ctx)
		if err != nil {
			return struct{}{}, err
		}
		status, err := job.Wait(ctx)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, status.Err()
	})
	if err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func mergeSchema(live, want bigquery.Schema) bigquery.Schema {
	wantByName := map[string]*bigquery.FieldSchema{}
	for _, w := range want {
		wantByName[w.Name] = w
	}
	liveNames := map[string]bool{}
	var out bigquery.Schema
	for _, l := range live {
		liveNames[l.Name] = true
		f := *l
		if w, ok := wantByName[l.Name]; ok {
			f.Description = w.Description
			if !w.Required && !w.Repeated {
				f.Required = false
			}
			if f.Type == bigquery.RecordFieldType {
				f.Schema = mergeSchema(l.Schema, w.Schema)
			}
		}
		out = append(out, &f)
	}
	for _, w := range want {
		if !liveNames[w.Name] {
			out = append(out, w)
		}
	}
	return out
}
