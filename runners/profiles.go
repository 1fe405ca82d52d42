package runners

import (
	"bufio"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Profiles are embedded from profiles/NAME.profile. The format is one
// flag=value per line (a leading "--" is allowed); blank lines and lines
// starting with '#' are ignored. The comment lines before the first setting
// are the profile's description.
//
//go:embed profiles/*.profile
var profileFS embed.FS

const profileExt = ".profile"

// Setting is one flag value of a profile.
type Setting struct {
	Flag  string // flag name without "--"
	Value string
}

// String returns "--flag=value".
func (s Setting) String() string { return "--" + s.Flag + "=" + s.Value }

// Profile is a named set of flag defaults.
type Profile struct {
	Name        string
	Description string
	Settings    []Setting
}

// Profiles returns the embedded profiles sorted by name.
func Profiles() []Profile {
	names := profileNames()
	out := make([]Profile, 0, len(names))
	for _, n := range names {
		p, err := LookupProfile(n)
		if err != nil {
			// Embedded profiles are checked by the tests; a broken one is a
			// build defect, not a user error.
			panic(err)
		}
		out = append(out, p)
	}
	return out
}

func profileNames() []string {
	entries, err := fs.ReadDir(profileFS, "profiles")
	if err != nil {
		panic(err)
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), profileExt); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// LookupProfile returns the named embedded profile. An unknown name is an
// error listing the known profiles.
func LookupProfile(name string) (Profile, error) {
	var data []byte
	err := fs.ErrNotExist
	if name != "" && !strings.ContainsAny(name, "/\\.") {
		data, err = profileFS.ReadFile(path.Join("profiles", name+profileExt))
	}
	if err != nil {
		return Profile{}, fmt.Errorf("runners: unknown profile %q (known: %s)", name, strings.Join(profileNames(), ", "))
	}
	return parseProfile(name, string(data))
}

func parseProfile(name, text string) (Profile, error) {
	p := Profile{Name: name}
	var desc []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#"):
			if len(p.Settings) == 0 {
				if d := strings.TrimSpace(strings.TrimPrefix(line, "#")); d != "" {
					desc = append(desc, d)
				}
			}
			continue
		}
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "--"), "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return Profile{}, fmt.Errorf("runners: profile %q line %d: want flag=value, got %q", name, ln, line)
		}
		if key == "profile" {
			return Profile{}, fmt.Errorf("runners: profile %q line %d: profiles cannot set --profile", name, ln)
		}
		if seen[key] {
			return Profile{}, fmt.Errorf("runners: profile %q line %d: --%s set twice", name, ln, key)
		}
		seen[key] = true
		p.Settings = append(p.Settings, Setting{Flag: key, Value: value})
	}
	if err := sc.Err(); err != nil {
		return Profile{}, fmt.Errorf("runners: profile %q: %v", name, err)
	}
	p.Description = strings.Join(desc, " ")
	return p, nil
}

// ApplyProfile sets the named profile's flags on set, except for flags that
// were set explicitly (set.Visit), which win. It must run after set.Parse. The
// empty name is a no-op. It returns the settings it applied.
func ApplyProfile(set *flag.FlagSet, name string) ([]Setting, error) {
	if name == "" {
		return nil, nil
	}
	p, err := LookupProfile(name)
	if err != nil {
		return nil, err
	}
	explicit := map[string]bool{}
	set.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	// Check every flag first so that a bad profile changes nothing.
	for _, s := range p.Settings {
		if set.Lookup(s.Flag) == nil {
			return nil, fmt.Errorf("runners: profile %q sets --%s, which this program does not define", name, s.Flag)
		}
	}
	var applied []Setting
	for _, s := range p.Settings {
		if explicit[s.Flag] {
			continue
		}
		if err := set.Set(s.Flag, s.Value); err != nil {
			return applied, fmt.Errorf("runners: profile %q: --%s=%s: %v", name, s.Flag, s.Value, err)
		}
		applied = append(applied, s)
	}
	return applied, nil
}

// ProfilesMarkdown renders the embedded profiles as a Markdown table.
func ProfilesMarkdown() string {
	var b strings.Builder
	b.WriteString("| profile | flags | description |\n|---|---|---|\n")
	for _, p := range Profiles() {
		fl := make([]string, len(p.Settings))
		for i, s := range p.Settings {
			fl[i] = "`" + s.String() + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", p.Name, strings.Join(fl, " "), strings.ReplaceAll(p.Description, "|", "\\|"))
	}
	return b.String()
}
