// Package extract combines the inventory extractors into one layer
// analyzer, and resolves the packages of an image's final filesystem from
// the per-layer facts.
package extract

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/inventory/apk"
	"github.com/kensa-sec/kensa/internal/inventory/dotnet"
	"github.com/kensa-sec/kensa/internal/inventory/dpkg"
	"github.com/kensa-sec/kensa/internal/inventory/gobin"
	"github.com/kensa-sec/kensa/internal/inventory/golang"
	"github.com/kensa-sec/kensa/internal/inventory/java"
	"github.com/kensa-sec/kensa/internal/inventory/npm"
	"github.com/kensa-sec/kensa/internal/inventory/osrelease"
	"github.com/kensa-sec/kensa/internal/inventory/php"
	"github.com/kensa-sec/kensa/internal/inventory/python"
	"github.com/kensa-sec/kensa/internal/inventory/rpm"
	"github.com/kensa-sec/kensa/internal/inventory/ruby"
	"github.com/kensa-sec/kensa/internal/inventory/rust"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

// Extractor reads packages from one kind of file. Wants is called for
// every file of every layer and must only look at the path and mode;
// Extract is a pure function of the bytes and returns an error naming the
// file when they are malformed.
type Extractor interface {
	Name() string
	Wants(path string, mode fs.FileMode) bool
	Extract(path string, content []byte) ([]inventory.Package, error)
}

// DefaultMaxFileSize caps the files the analyzer asks for.
const DefaultMaxFileSize = 256 << 20

// Options configure the analyzer.
type Options struct {
	// Extractors to run; nil means All(TempDir).
	Extractors []Extractor
	// MaxFileSize is the largest file offered to any extractor; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// TempDir is where the rpm extractor copies a database for its reader
	// (removed right after); "" means os.TempDir().
	TempDir string
}

// All returns every extractor, in a fixed order; tempDir is passed to the
// rpm extractor.
func All(tempDir string) []Extractor {
	return []Extractor{
		dpkg.Extractor{},
		apk.Extractor{},
		rpm.Extractor{TempDir: tempDir},
		java.Extractor{},
		npm.Extractor{},
		python.Extractor{},
		golang.Extractor{},
		gobin.Extractor{},
		rust.Extractor{},
		ruby.Extractor{},
		php.Extractor{},
		dotnet.Extractor{},
	}
}

// analyzerVersion is bumped whenever any extractor's output changes for the
// same bytes (it is part of the layer-cache key).
const analyzerVersion = 7

type analyzer struct {
	extractors []Extractor
	maxSize    int64
}

// Analyzer returns a layer analyzer that runs the extractors on the files
// they want, records packages in LayerFacts.Packages (Path and Layer set)
// and the OS in LayerFacts.OS, and keeps release files in LayerFacts.Files
// for image rules and Resolve.
func Analyzer(opts Options) layerfs.Analyzer {
	a := &analyzer{extractors: opts.Extractors, maxSize: opts.MaxFileSize}
	if a.extractors == nil {
		a.extractors = All(opts.TempDir)
	}
	if a.maxSize <= 0 {
		a.maxSize = DefaultMaxFileSize
	}
	return a
}

// Name identifies the analyzer in the layer cache key.
func (a *analyzer) Name() string { return "inventory" }

// Version is part of the layer cache key.
func (a *analyzer) Version() int { return analyzerVersion }

// Wants reports whether any extractor (or the OS detection) wants the
// file; it looks at the path, size and mode only.
func (a *analyzer) Wants(path string, size int64, mode fs.FileMode) bool {
	if osrelease.Wants(path) {
		return size <= osrelease.MaxSize
	}
	if size > a.maxSize {
		return false
	}
	if isDpkgList(path) {
		return true
	}
	for _, e := range a.extractors {
		if e.Wants(path, mode) {
			return true
		}
	}
	return false
}

// Analyze runs the extractors that want f. A file an extractor cannot
// parse is recorded in out.Skipped with the reason; it never fails the walk.
func (a *analyzer) Analyze(ctx context.Context, f *layerfs.File, out *layerfs.LayerFacts) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if osrelease.Wants(f.Path) {
		a.analyzeRelease(f, out)
		return nil
	}
	if isDpkgList(f.Path) {
		a.analyzeDpkgList(f, out)
		return nil
	}
	for _, e := range a.extractors {
		if !e.Wants(f.Path, f.Mode) {
			continue
		}
		pkgs, err := safeExtract(e, f.Path, f.Content)
		if err != nil {
			out.Skipped = append(out.Skipped, layerfs.Skip{Path: f.Path, Reason: fmt.Sprintf("%s extractor: %v", e.Name(), err)})
			continue
		}
		for _, p := range pkgs {
			p.Path = f.Path
			p.Layer = f.Layer
			p.LayerDigest = out.Digest
			out.Packages = append(out.Packages, p)
		}
	}
	return nil
}

// dpkgInfoDir holds one <package>[:arch].list file per installed Debian
// package, naming every path the package installed.
const dpkgInfoDir = "/var/lib/dpkg/info/"

func isDpkgList(p string) bool {
	rest, ok := strings.CutPrefix(p, dpkgInfoDir)
	return ok && strings.HasSuffix(rest, ".list") && !strings.Contains(rest, "/")
}

// analyzeDpkgList records, from a dpkg .list file, the paths of language
// package metadata (the files the non-OS extractors read) that the Debian
// package installed, so Resolve can mark those packages as managed by it.
func (a *analyzer) analyzeDpkgList(f *layerfs.File, out *layerfs.LayerFacts) {
	name := strings.TrimSuffix(strings.TrimPrefix(f.Path, dpkgInfoDir), ".list")
	name, _, _ = strings.Cut(name, ":") // python3-cffi-backend:amd64
	for line := range strings.SplitSeq(string(f.Content), "\n") {
		if line == "" || line[0] != '/' || !a.wantsLanguageFile(line) {
			continue
		}
		if out.Owners == nil {
			out.Owners = map[string]layerfs.Owner{}
		}
		out.Owners[line] = layerfs.Owner{Manager: "deb", Name: name, List: f.Path}
	}
}

// wantsLanguageFile reports whether an extractor other than the OS
// package databases' would read the regular file at p.
func (a *analyzer) wantsLanguageFile(p string) bool {
	for _, e := range a.extractors {
		switch e.(type) {
		case dpkg.Extractor, apk.Extractor, rpm.Extractor:
			continue
		}
		if e.Wants(p, 0o644) {
			return true
		}
	}
	return false
}

// analyzeRelease keeps a release file and sets the layer's OS from the
// most authoritative release file the layer holds.
func (a *analyzer) analyzeRelease(f *layerfs.File, out *layerfs.LayerFacts) {
	if out.Files == nil {
		out.Files = map[string][]byte{}
	}
	out.Files[f.Path] = append([]byte(nil), f.Content...)
	o, err := osrelease.Parse(f.Path, f.Content)
	if err != nil {
		out.Skipped = append(out.Skipped, layerfs.Skip{Path: f.Path, Reason: err.Error()})
		return
	}
	rank := osrelease.Rank(f.Path)
	for p := range out.Files {
		if r := osrelease.Rank(p); r >= 0 && r < rank && out.OS != nil {
			return // a better release file of this layer already set the OS
		}
	}
	out.OS = o
}

// Resolve returns the inventory of the image's final filesystem and its
// OS. A package counts only if the file it was read from is in the final
// view and was last written by the layer whose facts list it; it is
// attributed to the earliest layer from which the same package (path,
// name, version) was present without interruption, i.e. the layer that
// added it. OS packages get the distro in their purl and the OS's
// ecosystem family (Ubuntu packages are read by the dpkg extractor too).
// A package pinned by a lockfile and also installed is listed once, from
// its installed metadata.
// The result is sorted by type, name, version, path.
func Resolve(img *layerfs.Image) ([]inventory.Package, *inventory.OS) {
	osInfo := ResolveOS(img)
	type key struct{ path, name, version string }
	index := make([]map[key]bool, len(img.Layers))
	for i, l := range img.Layers {
		index[i] = map[key]bool{}
		for _, p := range l.Packages {
			index[i][key{p.Path, p.Name, p.Version}] = true
		}
	}
	var out []inventory.Package
	seen := map[string]bool{}
	for i, l := range img.Layers {
		for _, p := range l.Packages {
			st, ok := img.File(p.Path)
			if !ok || st.Layer != i {
				continue
			}
			k := key{p.Path, p.Name, p.Version}
			id := p.Type + "\x00" + p.Path + "\x00" + p.Name + "\x00" + p.Version
			if seen[id] {
				continue
			}
			seen[id] = true
			added := i
			hist := img.History(p.Path)
			// Walk back over the writes below layer i while each still
			// listed the package.
			pos := -1
			for j, c := range hist {
				if int(c.Layer) == i && c.Kind != layerfs.Deleted {
					pos = j
				}
			}
			for j := pos - 1; j >= 0; j-- {
				c := hist[j]
				if c.Kind == layerfs.Deleted || c.Layer < 0 || int(c.Layer) >= len(index) || !index[c.Layer][k] {
					break
				}
				added = int(c.Layer)
			}
			p.Layer = added
			p.LayerDigest = img.Layers[added].Digest
			if osInfo != nil {
				withDistro(&p, osInfo)
			}
			out = append(out, p)
		}
	}
	nameFromMavenRepo(img, out)
	out = dropLocked(out)
	Sort(out)
	out = dropDuplicateDists(out)
	markManaged(img, out)
	return out, osInfo
}

// markManaged sets ManagedBy on the language packages whose metadata file
// an OS package installed, as recorded by a package list that is still in
// the final view (a later layer may have removed the OS package).
func markManaged(img *layerfs.Image, pkgs []inventory.Package) {
	owners := map[string]layerfs.Owner{}
	for i, l := range img.Layers {
		for p, o := range l.Owners {
			if st, ok := img.File(o.List); ok && st.Layer == i {
				owners[p] = o
			}
		}
	}
	if len(owners) == 0 {
		return
	}
	for i := range pkgs {
		if pkgs[i].Type == "deb" || pkgs[i].Type == "apk" || pkgs[i].Type == "rpm" {
			continue
		}
		if o, ok := owners[pkgs[i].Path]; ok {
			pkgs[i].ManagedBy = o.Manager + ":" + o.Name
		}
	}
}

// dropDuplicateDists keeps one package per installed Python distribution:
// metadata read from both the *.dist-info and the *.egg-info form of the
// same distribution (same normalised name and version, same site-packages
// folder) is one package, listed from the dist-info. The same
// distribution in two site folders (a virtualenv and the system) stays
// two packages. pkgs must be sorted (Sort); the order is kept.
func dropDuplicateDists(pkgs []inventory.Package) []inventory.Package {
	type key struct{ name, version, site string }
	type kept struct {
		i        int
		distInfo bool
	}
	best := map[key]kept{}
	drop := map[int]bool{}
	for i, p := range pkgs {
		if p.Type != "pypi" {
			continue
		}
		site, distInfo, ok := python.InstalledDist(p.Path)
		if !ok {
			continue
		}
		k := key{python.Normalize(p.Name), p.Version, site}
		b, seen := best[k]
		switch {
		case !seen:
			best[k] = kept{i, distInfo}
		case distInfo && !b.distInfo:
			drop[b.i] = true
			best[k] = kept{i, distInfo}
		default:
			drop[i] = true
		}
	}
	if len(drop) == 0 {
		return pkgs
	}
	out := pkgs[:0]
	for i, p := range pkgs {
		if !drop[i] {
			out = append(out, p)
		}
	}
	return out
}

// lockfiles are the manifests that pin what a build installs rather than
// what is installed.
var lockfiles = map[string]bool{
	"package-lock.json": true, "npm-shrinkwrap.json": true, "yarn.lock": true, "pnpm-lock.yaml": true,
	"poetry.lock": true, "Pipfile.lock": true, "Gemfile.lock": true, "gems.locked": true,
	"Cargo.lock": true, "composer.lock": true, "go.mod": true,
}

func isLockfile(p string) bool {
	base := path.Base(p)
	return lockfiles[base] || (strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt"))
}

// dropLocked removes a package read from a lockfile when the image also
// holds it installed (same type, name and version from installed
// metadata): /app/package-lock.json and /app/node_modules/x/package.json
// name the same software, and listing both would double every finding.
func dropLocked(pkgs []inventory.Package) []inventory.Package {
	installed := map[string]bool{}
	for _, p := range pkgs {
		if !isLockfile(p.Path) {
			installed[p.Key()] = true
		}
	}
	out := pkgs[:0]
	for _, p := range pkgs {
		if isLockfile(p.Path) && installed[p.Key()] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// ResolveOS returns the OS named by the most authoritative release file
// of the final filesystem, or nil.
func ResolveOS(img *layerfs.Image) *inventory.OS {
	for _, p := range osrelease.Paths {
		b, ok := img.FileContent(p)
		if !ok {
			continue
		}
		if o, err := osrelease.Parse(p, b); err == nil {
			return o
		}
	}
	return nil
}

// Sort orders packages by type, name, version, path and layer.
func Sort(pkgs []inventory.Package) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		switch {
		case a.Type != b.Type:
			return a.Type < b.Type
		case a.Name != b.Name:
			return a.Name < b.Name
		case a.Version != b.Version:
			return a.Version < b.Version
		case a.Path != b.Path:
			return a.Path < b.Path
		}
		return a.Layer < b.Layer
	})
}

// withDistro sets the OS family as ecosystem and namespace of an OS
// package and adds the distro qualifier ("debian-12") to its purl.
func withDistro(p *inventory.Package, o *inventory.OS) {
	switch p.Type {
	case "deb", "apk", "rpm":
	default:
		return
	}
	if fam, _, ok := strings.Cut(o.Ecosystem(), ":"); ok && fam != "" {
		p.Ecosystem = fam
	} else if p.Type == "apk" && (o.ID == "wolfi" || o.ID == "chainguard") {
		// apk-based, but with their own OSV ecosystems (no release).
		p.Ecosystem = map[string]string{"wolfi": "Wolfi", "chainguard": "Chainguard"}[o.ID]
	}
	u, err := packageurl.FromString(p.PURL)
	if err != nil {
		return
	}
	if o.ID != "" && (p.Type != "rpm" || u.Namespace == "") {
		u.Namespace = o.ID
	}
	q := u.Qualifiers.Map()
	q["distro"] = o.ID + "-" + o.VersionID
	if o.VersionID == "" {
		delete(q, "distro")
	}
	u.Qualifiers = packageurl.QualifiersFromMap(q)
	p.PURL = u.ToString()
}

// safeExtract runs one extractor, turning a panic (a bug, or a third-party
// reader choking on hostile bytes) into an error naming the file.
func safeExtract(e Extractor, path string, content []byte) (pkgs []inventory.Package, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("%s: extractor crashed: %v", path, r)
		}
	}()
	return e.Extract(path, content)
}
