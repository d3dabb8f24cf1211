package vulndb

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Sink receives each parsed advisory.
type Sink func(*Advisory) error

// maxSecDBSize bounds an Alpine secdb file.
const maxSecDBSize = 64 << 20

// ImportPath reads advisories from path and passes them to sink: an OSV
// zip (records at any depth, `<ecosystem>/all.zip` style), a folder (OSV
// JSON files and zips inside, recursively), one OSV JSON record, or an
// Alpine secdb file (YAML, or the JSON form from secdb.alpinelinux.org).
// It returns the number of records read.
func ImportPath(path string, sink Sink) (int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("import %s: %w", path, err)
	}
	if st.IsDir() {
		return importDir(path, sink)
	}
	return importFile(path, sink)
}

func importDir(dir string, sink Sink) (int, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			ext := strings.ToLower(filepath.Ext(p))
			if ext == ".json" || ext == ".zip" || ext == ".yaml" || ext == ".yml" {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import %s: %w", dir, err)
	}
	sort.Strings(files)
	total := 0
	for _, f := range files {
		n, err := importFile(f, sink)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func importFile(path string, sink Sink) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("import %s: %w", path, err)
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	if n == 4 && string(head) == "PK\x03\x04" {
		return ImportZip(f, st.Size(), path, sink)
	}
	if st.Size() > maxSecDBSize {
		return 0, fmt.Errorf("import %s: %d bytes is too large for one record or secdb file", path, st.Size())
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("import %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, fmt.Errorf("import %s: %w", path, err)
	}
	if looksLikeSecDB(data) {
		return ImportSecDB(path, data, sink)
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		a, err := ParseRecord(path, data)
		if err != nil {
			return 0, err
		}
		return 1, sink(a)
	}
	return 0, fmt.Errorf("import %s: neither an OSV zip, an OSV JSON record nor an Alpine secdb file", path)
}

// ImportZip reads every *.json entry of an OSV zip as a record.
func ImportZip(r io.ReaderAt, size int64, name string, sink Sink) (int, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return 0, fmt.Errorf("import %s: not a readable zip: %w", name, err)
	}
	n := 0
	buf := new(bytes.Buffer)
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(zf.Name), ".json") {
			continue
		}
		entry := name + ":" + zf.Name
		if zf.UncompressedSize64 > maxRecordSize {
			return n, fmt.Errorf("import %s: %d bytes, larger than the %d-byte record limit", entry, zf.UncompressedSize64, maxRecordSize)
		}
		rc, err := zf.Open()
		if err != nil {
			return n, fmt.Errorf("import %s: %w", entry, err)
		}
		buf.Reset()
		_, err = io.Copy(buf, io.LimitReader(rc, maxRecordSize+1))
		rc.Close()
		if err != nil {
			return n, fmt.Errorf("import %s: %w", entry, err)
		}
		a, err := ParseRecord(entry, buf.Bytes())
		if err != nil {
			return n, err
		}
		if err := sink(a); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// secDB is the Alpine secdb schema (YAML in alpine-secdb, JSON on
// secdb.alpinelinux.org).
type secDB struct {
	DistroVersion string `yaml:"distroversion" json:"distroversion"`
	RepoName      string `yaml:"reponame" json:"reponame"`
	Packages      []struct {
		Pkg struct {
			Name     string               `yaml:"name" json:"name"`
			Secfixes map[string]yaml.Node `yaml:"secfixes" json:"secfixes"`
		} `yaml:"pkg" json:"pkg"`
	} `yaml:"packages" json:"packages"`
}

func looksLikeSecDB(data []byte) bool {
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	return bytes.Contains(head, []byte("distroversion")) && bytes.Contains(data, []byte("secfixes"))
}

// ImportSecDB turns an Alpine secdb document into advisories for
// "Alpine:vX.Y": one per source package and vulnerability ID, with ID
// "ALPINE-<release>-<package>-<vuln>" and the vulnerability ID (CVE-...) as
// alias, affected from version 0 up to the secfix version. Secfixes at
// version "0" (never affected in this release) are skipped.
func ImportSecDB(name string, data []byte, sink Sink) (int, error) {
	if len(data) > maxSecDBSize {
		return 0, fmt.Errorf("secdb %s: %d bytes is larger than the %d-byte limit", name, len(data), maxSecDBSize)
	}
	var doc secDB
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return 0, fmt.Errorf("secdb %s: %w", name, err)
	}
	rel := strings.TrimSpace(doc.DistroVersion)
	if rel == "" {
		return 0, fmt.Errorf("secdb %s: no distroversion", name)
	}
	if !strings.HasPrefix(rel, "v") {
		rel = "v" + rel
	}
	if strings.ContainsAny(rel, ":\n\x00") || len(rel) > 32 {
		return 0, fmt.Errorf("secdb %s: distroversion %.40q is not a release such as v3.19", name, rel)
	}
	eco := "Alpine:" + rel
	n := 0
	for _, p := range doc.Packages {
		pkg := strings.TrimSpace(p.Pkg.Name)
		if pkg == "" {
			continue
		}
		// vuln ID → fixed versions, in a stable order.
		fixes := map[string][]string{}
		var order []string
		versions := make([]string, 0, len(p.Pkg.Secfixes))
		for v := range p.Pkg.Secfixes {
			versions = append(versions, v)
		}
		sort.Strings(versions)
		for _, ver := range versions {
			node := p.Pkg.Secfixes[ver]
			var ids []string
			if err := node.Decode(&ids); err != nil {
				return n, fmt.Errorf("secdb %s: package %s version %s: secfixes must be a list of IDs: %w", name, pkg, ver, err)
			}
			ver = strings.TrimSpace(ver)
			if ver == "0" || ver == "" {
				continue
			}
			for _, line := range ids {
				for _, id := range strings.Fields(line) {
					if _, ok := fixes[id]; !ok {
						order = append(order, id)
					}
					fixes[id] = append(fixes[id], ver)
				}
			}
		}
		for _, id := range order {
			events := []Event{{Introduced: "0"}}
			for _, v := range fixes[id] {
				events = append(events, Event{Fixed: v})
			}
			a := &Advisory{
				ID:       "ALPINE-" + rel + "-" + pkg + "-" + id,
				Aliases:  []string{id},
				Summary:  id + " in " + pkg + " (Alpine " + rel + " secdb)",
				Modified: time.Time{},
				Affected: []Affected{{
					Package: Package{Ecosystem: eco, Name: pkg},
					Ranges:  []Range{{Type: "ECOSYSTEM", Events: events}},
				}},
			}
			if strings.HasPrefix(id, "CVE-") {
				a.References = []Reference{{Type: "ADVISORY", URL: "https://security.alpinelinux.org/vuln/" + id}}
			}
			if err := a.validate(); err != nil {
				return n, fmt.Errorf("secdb %s: package %s: %w", name, pkg, err)
			}
			if err := sink(a); err != nil {
				return n, err
			}
			n++
		}
	}
	if n == 0 && len(doc.Packages) == 0 {
		return 0, errors.New("secdb " + name + ": no packages")
	}
	return n, nil
}
