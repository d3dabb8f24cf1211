// Package npm lists JavaScript packages from npm, Yarn and pnpm lockfiles
// and from installed node_modules trees.
package npm

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest lockfile or package.json Extract accepts.
const MaxSize = 64 << 20

// Extractor reads package-lock.json (v1-v3, and npm-shrinkwrap.json),
// yarn.lock (v1 and Berry), pnpm-lock.yaml and node_modules/**/package.json.
// The zero value is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "npm" }

// Wants reports whether p is a lockfile or an installed package manifest.
func (Extractor) Wants(p string, _ fs.FileMode) bool {
	switch path.Base(p) {
	case "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml":
		// npm also writes node_modules/.package-lock.json: the installed
		// package.json files are read instead.
		return !strings.Contains(p, "/node_modules/")
	case "package.json":
		return InstalledManifest(p)
	}
	return false
}

// InstalledManifest reports whether p is the package.json of an installed
// package: node_modules/<name>/package.json or
// node_modules/@scope/<name>/package.json.
func InstalledManifest(p string) bool {
	if !strings.Contains(p, "/node_modules/") {
		return false
	}
	dir := dirOf(p)
	parent := dirOf(dir)
	if path.Base(parent) == "node_modules" {
		return !strings.HasPrefix(path.Base(dir), ".")
	}
	return strings.HasPrefix(path.Base(parent), "@") && path.Base(dirOf(parent)) == "node_modules"
}

// dirOf is path.Dir for the clean absolute paths of a layer walk, without
// allocating.
func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "/"
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
	switch path.Base(p) {
	case "package-lock.json", "npm-shrinkwrap.json":
		pkgs, err = ParsePackageLock(p, content)
	case "yarn.lock":
		pkgs, err = ParseYarnLock(p, content)
	case "pnpm-lock.yaml":
		pkgs, err = ParsePnpmLock(p, content)
	case "package.json":
		pkgs, err = ParseManifest(p, content)
	default:
		return nil, fmt.Errorf("%s: not an npm file", p)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return pkgs, nil
}

// NewPackage returns an npm package ("@scope/name" puts the scope in the
// purl namespace).
func NewPackage(name, version, p string, dev bool) inventory.Package {
	ns, n := "", name
	if strings.HasPrefix(name, "@") {
		if i := strings.IndexByte(name, '/'); i > 0 {
			ns, n = name[:i], name[i+1:]
		}
	}
	pkg := inventory.NewPackage("npm", "npm", ns, n, version, p, nil)
	pkg.Name = name
	pkg.Dev = dev
	return pkg
}

// ParseManifest reads an installed package.json; one without a name or
// version (a workspace or private folder) gives nothing.
func ParseManifest(p string, content []byte) ([]inventory.Package, error) {
	var m struct {
		Name    string          `json:"name"`
		Version string          `json:"version"`
		License json.RawMessage `json:"license"`
	}
	if err := json.Unmarshal(content, &m); err != nil {
		return nil, fmt.Errorf("parse package.json: %w", err)
	}
	if m.Name == "" || m.Version == "" {
		return nil, nil
	}
	pkg := NewPackage(m.Name, m.Version, p, false)
	var lic string
	if json.Unmarshal(m.License, &lic) == nil && lic != "" {
		pkg.Licenses = []string{lic}
	}
	return []inventory.Package{pkg}, nil
}

type lockDep struct {
	Version      string              `json:"version"`
	Dev          bool                `json:"dev"`
	Dependencies map[string]*lockDep `json:"dependencies"`
}

type lockPkg struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Dev     bool   `json:"dev"`
	Link    bool   `json:"link"`
	License any    `json:"license"`
}

// ParsePackageLock reads package-lock.json: the "packages" map (v2, v3)
// when present, else the nested "dependencies" tree (v1).
func ParsePackageLock(p string, content []byte) ([]inventory.Package, error) {
	var lock struct {
		LockfileVersion int                 `json:"lockfileVersion"`
		Packages        map[string]lockPkg  `json:"packages"`
		Dependencies    map[string]*lockDep `json:"dependencies"`
	}
	if err := json.Unmarshal(content, &lock); err != nil {
		return nil, fmt.Errorf("parse package-lock: %w", err)
	}
	var out []inventory.Package
	if len(lock.Packages) > 0 {
		for key, lp := range lock.Packages {
			if key == "" || lp.Link || lp.Version == "" {
				continue // the root project, or a workspace symlink
			}
			// An alias ("string-width-cjs": npm:string-width@4) is keyed
			// by the alias and names the real package in "name".
			name := lp.Name
			if i := strings.LastIndex(key, "node_modules/"); i >= 0 && name == "" {
				name = key[i+len("node_modules/"):]
			}
			if name == "" || strings.HasPrefix(lp.Version, "file:") {
				continue
			}
			out = append(out, NewPackage(name, lp.Version, p, lp.Dev))
		}
	} else {
		var walk func(map[string]*lockDep)
		walk = func(deps map[string]*lockDep) {
			for name, d := range deps {
				if d == nil {
					continue
				}
				if d.Version != "" && !strings.HasPrefix(d.Version, "file:") {
					out = append(out, NewPackage(aliasName(name, d.Version), npmVersion(d.Version), p, d.Dev))
				}
				walk(d.Dependencies)
			}
		}
		walk(lock.Dependencies)
	}
	return dedupe(out), nil
}

// aliasName returns the real package of a v1 lockfile alias
// ("npm:string-width@4.2.3"), else name.
func aliasName(name, version string) string {
	if rest, ok := strings.CutPrefix(version, "npm:"); ok {
		if i := strings.LastIndexByte(rest, '@'); i > 0 {
			return rest[:i]
		}
	}
	return name
}

// npmVersion turns a v1 lockfile alias ("npm:string-width@4.2.3") into its
// version.
func npmVersion(v string) string {
	if rest, ok := strings.CutPrefix(v, "npm:"); ok {
		if i := strings.LastIndexByte(rest, '@'); i > 0 {
			return rest[i+1:]
		}
	}
	return v
}

// dedupe drops entries without name or version and repeated
// name@version entries (a package nested at several
// places of a tree) and sorts the result.
func dedupe(in []inventory.Package) []inventory.Package {
	seen := map[string]int{}
	var out []inventory.Package
	for _, p := range in {
		if p.Name == "" || p.Version == "" {
			continue
		}
		k := p.Name + "@" + p.Version
		if i, ok := seen[k]; ok {
			// Needed at runtime anywhere means not dev-only.
			out[i].Dev = out[i].Dev && p.Dev
			continue
		}
		seen[k] = len(out)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}
