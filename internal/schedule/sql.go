package schedule

import (
	"bytes"
	"fmt"
	"os"
	"text/template"

	"github.com/railyard-dev/railyard/schemas/catalog"
)

// A sql job's script may name tables through these template functions, so
// that one file works in every project and with every dataset prefix:
//
//	{{destination}}           the job's destination, project.prefixdataset.table
//	{{table "batch.x"}}       any table, project.prefixbatch.x
//	{{dataset "batch"}}       a dataset, project.prefixbatch
//	{{project}}               the project
//
// Write them inside backquotes: `{{table "batch.team_scores_hourly"}}`.
var templateFuncsForCheck = template.FuncMap{
	"destination": func() string { return "" },
	"table":       func(string) string { return "" },
	"dataset":     func(string) string { return "" },
	"project":     func() string { return "" },
}

// RenderSQL reads a sql job's script and expands its table references for
// project and the catalog's dataset prefix.
func (j *Job) RenderSQL(project string, c catalog.Catalog) (string, error) {
	text, err := os.ReadFile(j.SQLPath)
	if err != nil {
		return "", fmt.Errorf("job %s: %w", j.Name, err)
	}
	tmpl, err := template.New(j.SQL).Option("missingkey=error").Funcs(template.FuncMap{
		"destination": func() string { return project + "." + c.TableID(j.Destination) },
		"table":       func(ref string) string { return project + "." + c.TableID(ref) },
		"dataset":     func(name string) string { return project + "." + c.DatasetID(name) },
		"project":     func() string { return project },
	}).Parse(string(text))
	if err != nil {
		return "", fmt.Errorf("job %s: %s: %w", j.Name, j.SQL, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("job %s: %s: %w", j.Name, j.SQL, err)
	}
	return b.String(), nil
}
