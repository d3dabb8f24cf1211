// Package python lists Python packages from installed metadata
// (*.dist-info/METADATA, *.egg-info) and from requirements*.txt pins,
// poetry.lock and Pipfile.lock.
package python

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest file Extract accepts.
const MaxSize = 32 << 20

// Extractor reads Python package metadata and lockfiles. The zero value is
// ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "python" }

// Wants reports whether p is a file the extractor reads.
func (Extractor) Wants(p string, _ fs.FileMode) bool {
	return kind(p) != ""
}

func kind(p string) string {
	base := path.Base(p)
	dir := ""
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		dir = path.Base(p[:i])
	}
	switch {
	case base == "METADATA" && strings.HasSuffix(dir, ".dist-info"):
		return "metadata"
	case base == "PKG-INFO" && strings.HasSuffix(dir, ".egg-info"):
		return "metadata"
	case strings.HasSuffix(base, ".egg-info"):
		return "metadata" // a single-file egg-info
	case installedTree(p):
		// Lockfiles shipped inside installed packages are not what the
		// image installed.
		return ""
	case base == "poetry.lock":
		return "poetry"
	case base == "Pipfile.lock":
		return "pipfile"
	case strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt"):
		return "requirements"
	}
	return ""
}

func installedTree(p string) bool {
	return strings.Contains(p, "/site-packages/") || strings.Contains(p, "/dist-packages/") || strings.Contains(p, "/node_modules/")
}

// Extract parses the file named by p.
func (Extractor) Extract(p string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit", p, len(content), MaxSize)
	}
	var (
		pkgs []inventory.Package
		err  error
	)
	switch kind(p) {
	case "metadata":
		pkgs, err = ParseMetadata(p, content)
	case "poetry":
		pkgs, err = ParsePoetryLock(p, content)
	case "pipfile":
		pkgs, err = ParsePipfileLock(p, content)
	case "requirements":
		pkgs, err = ParseRequirements(p, content)
	default:
		return nil, fmt.Errorf("%s: not a Python package file", p)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return pkgs, nil
}

var separators = regexp.MustCompile(`[-_.]+`)

// Normalize returns the PEP 503 normalized form of a project name:
// lower case, with runs of "-", "_" and "." replaced by one "-".
func Normalize(name string) string {
	return separators.ReplaceAllString(strings.ToLower(strings.TrimSpace(name)), "-")
}

// NewPackage returns a PyPI package with a normalized name.
func NewPackage(name, version, p string) inventory.Package {
	return inventory.NewPackage("pypi", "PyPI", "", Normalize(name), version, p, nil)
}

// ParseMetadata reads the RFC 822 header of a METADATA or PKG-INFO file
// (Name, Version, License); the body after the first blank line is
// ignored.
func ParseMetadata(p string, content []byte) ([]inventory.Package, error) {
	var name, version, license string
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "Name":
			name = strings.TrimSpace(v)
		case "Version":
			version = strings.TrimSpace(v)
		case "License":
			license = strings.TrimSpace(v)
		case "License-Expression":
			license = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	if name == "" || version == "" {
		return nil, fmt.Errorf("metadata has no Name or Version field")
	}
	pkg := NewPackage(name, version, p)
	if license != "" && license != "UNKNOWN" && len(license) < 200 {
		pkg.Licenses = []string{license}
	}
	return []inventory.Package{pkg}, nil
}

var pin = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9][A-Za-z0-9._+!-]*)\s*$`)

// ParseRequirements reads exact pins ("name==1.2.3", with optional
// extras, environment markers, hashes and comments) from a requirements
// file; ranges, options, editable installs and URLs are skipped.
func ParseRequirements(p string, content []byte) ([]inventory.Package, error) {
	var out []inventory.Package
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var logical strings.Builder
	handle := func(line string) {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(line, "#") {
			return
		}
		line, _, _ = strings.Cut(line, ";")
		if i := strings.Index(line, " --"); i >= 0 { // --hash=...
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "-") {
			return
		}
		if m := pin.FindStringSubmatch(line); m != nil {
			out = append(out, NewPackage(m[1], m[2], p))
		}
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasSuffix(line, "\\") {
			logical.WriteString(strings.TrimSuffix(line, "\\"))
			logical.WriteByte(' ')
			if logical.Len() > 1<<20 {
				return nil, fmt.Errorf("continued line longer than 1 MiB")
			}
			continue
		}
		logical.WriteString(line)
		handle(strings.TrimSpace(logical.String()))
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read requirements: %w", err)
	}
	if logical.Len() > 0 {
		handle(strings.TrimSpace(logical.String()))
	}
	return sortPkgs(out), nil
}

// ParsePoetryLock reads the [[package]] tables of poetry.lock.
func ParsePoetryLock(p string, content []byte) ([]inventory.Package, error) {
	var lock struct {
		Package []struct {
			Name     string `toml:"name"`
			Version  string `toml:"version"`
			Category string `toml:"category"`
		} `toml:"package"`
	}
	if _, err := toml.Decode(string(content), &lock); err != nil {
		return nil, fmt.Errorf("parse poetry.lock: %w", err)
	}
	var out []inventory.Package
	for _, e := range lock.Package {
		if e.Name == "" || e.Version == "" {
			continue
		}
		pkg := NewPackage(e.Name, e.Version, p)
		pkg.Dev = e.Category == "dev"
		out = append(out, pkg)
	}
	return sortPkgs(out), nil
}

// ParsePipfileLock reads the "default" and "develop" sections of
// Pipfile.lock; only exact "==" versions are kept.
func ParsePipfileLock(p string, content []byte) ([]inventory.Package, error) {
	type entry struct {
		Version string `json:"version"`
	}
	var lock struct {
		Default map[string]entry `json:"default"`
		Develop map[string]entry `json:"develop"`
	}
	if err := json.Unmarshal(content, &lock); err != nil {
		return nil, fmt.Errorf("parse Pipfile.lock: %w", err)
	}
	var out []inventory.Package
	seen := map[string]bool{}
	add := func(m map[string]entry, dev bool) {
		for name, e := range m {
			v, ok := strings.CutPrefix(e.Version, "==")
			if !ok || v == "" || name == "" {
				continue
			}
			pkg := NewPackage(name, v, p)
			if seen[pkg.Name+"@"+v] {
				continue
			}
			seen[pkg.Name+"@"+v] = true
			pkg.Dev = dev
			out = append(out, pkg)
		}
	}
	add(lock.Default, false)
	add(lock.Develop, true)
	return sortPkgs(out), nil
}

func sortPkgs(out []inventory.Package) []inventory.Package {
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// InstalledDist describes where installed metadata at p lives: the
// site-packages (or dist-packages) folder that holds the distribution, and
// whether it is the modern *.dist-info form. ok is false for paths that are
// not installed metadata (lockfiles, requirements files).
//
// One installed distribution can carry both forms: Debian's
// python3-cryptography ships cryptography-38.0.4.dist-info and
// cryptography.egg-info side by side. The pair (normalised name and
// version, site folder) identifies it.
func InstalledDist(p string) (siteDir string, distInfo, ok bool) {
	if kind(p) != "metadata" {
		return "", false, false
	}
	dir := path.Dir(p)
	switch {
	case strings.HasSuffix(dir, ".dist-info"):
		return path.Dir(dir), true, true
	case strings.HasSuffix(dir, ".egg-info"):
		return path.Dir(dir), false, true
	}
	return dir, false, true // a single-file egg-info
}
