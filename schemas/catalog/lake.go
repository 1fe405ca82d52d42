package catalog

import (
	"fmt"
	"strings"
	"time"
)

// PartitionDir is the directory, relative to the lake root, that holds the
// files of the given event hour: "<name>/dt=YYYY-MM-DD/hr=HH".
func (l Lake) PartitionDir(eventTime time.Time) string {
	t := eventTime.UTC()
	return fmt.Sprintf("%s/dt=%s/hr=%02d", l.Name, t.Format(time.DateOnly), t.Hour())
}

// DateDir is the directory, relative to the lake root, of one event date.
func (l Lake) DateDir(date time.Time) string {
	return fmt.Sprintf("%s/dt=%s", l.Name, date.UTC().Format(time.DateOnly))
}

// ParsePartition returns the event hour encoded in a path under the lake root
// (anything containing ".../dt=YYYY-MM-DD/hr=HH/...").
func (l Lake) ParsePartition(path string) (time.Time, error) {
	i := strings.Index(path, l.Name+"/dt=")
	if i < 0 {
		return time.Time{}, fmt.Errorf("path %q is not under %s/dt=…", path, l.Name)
	}
	rest := path[i+len(l.Name)+len("/dt="):]
	date, rest, ok := strings.Cut(rest, "/hr=")
	if !ok || len(rest) < 2 {
		return time.Time{}, fmt.Errorf("path %q has no hr= partition", path)
	}
	t, err := time.Parse("2006-01-02 15", date+" "+rest[:2])
	if err != nil {
		return time.Time{}, fmt.Errorf("path %q: bad partition: %v", path, err)
	}
	return t, nil
}

// Lake looks a lake dataset up by name.
func (c Catalog) Lake(name string) (Lake, bool) {
	for _, l := range c.Lakes {
		if l.Name == name {
			return l, true
		}
	}
	return Lake{}, false
}
