package vulndb

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// DBPath is the database file to rebuild.
	DBPath string
	// Paths are OSV zips, folders, records or Alpine secdb files.
	Paths []string
	// Replace starts from an empty database; otherwise the current
	// database's records are kept for every ecosystem the import does not
	// cover.
	Replace bool
	// Log receives one line per path; nil discards.
	Log io.Writer
}

// Import rebuilds the database from local files, atomically.
func Import(o ImportOptions) (Meta, error) {
	if len(o.Paths) == 0 {
		return Meta{}, errors.New("import: no paths given")
	}
	b, err := NewBuilder(o.DBPath)
	if err != nil {
		return Meta{}, err
	}
	covered := map[string]bool{}
	for _, p := range o.Paths {
		ecos := map[string]bool{}
		distinct := map[string]struct{}{}
		n, err := ImportPath(p, func(a *Advisory) error {
			for _, e := range a.ecosystems() {
				ecos[e] = true
			}
			distinct[a.ID] = struct{}{}
			return b.Add(a)
		})
		if err != nil {
			b.Abort()
			return Meta{}, err
		}
		// Records counts distinct IDs (a folder may hold a record both as
		// JSON and inside a zip).
		src := Source{Name: sourceName(p), Origin: p, Records: len(distinct)}
		if abs, err := filepath.Abs(p); err == nil {
			src.Origin = abs
		}
		if st, err := os.Stat(p); err == nil {
			src.Date = st.ModTime().UTC()
		}
		src.Fetched = time.Now().UTC()
		b.SetSource(src)
		for e := range ecos {
			covered[e] = true
		}
		if o.Log != nil {
			fmt.Fprintf(o.Log, "%s: %d records read, %d distinct\n", p, n, len(distinct))
		}
	}
	if !o.Replace {
		old, err := Open(o.DBPath)
		switch {
		case err == nil:
			drop := func(ecos []string) bool {
				for _, e := range ecos {
					if covered[e] {
						return true
					}
				}
				return false
			}
			_, err = b.KeepFrom(old, drop, func(string) bool { return true })
			old.Close()
			if err != nil {
				b.Abort()
				return Meta{}, err
			}
		case errors.Is(err, ErrNoDB):
		default:
			if o.Log != nil {
				fmt.Fprintf(o.Log, "not keeping records of the current database: %v\n", err)
			}
		}
	}
	return b.Commit()
}

// sourceName names an imported path in metadata: "<parent>/<file>" so that
// "osv/Go/all.zip" reads as "Go/all.zip".
func sourceName(p string) string {
	p = filepath.Clean(p)
	base := filepath.Base(p)
	parent := filepath.Base(filepath.Dir(p))
	if parent == "." || parent == string(filepath.Separator) {
		return base
	}
	return strings.Join([]string{parent, base}, "/")
}
