// Package java lists Maven artifacts inside Java archives (.jar, .war,
// .ear): META-INF/maven/**/pom.properties, MANIFEST.MF as a fallback, and
// nested archives (WEB-INF/lib, BOOT-INF/lib, ...) down to a depth limit,
// reading everything from memory with a budget against zip bombs.
package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// Limits bound the work done on one archive.
type Limits struct {
	// MaxDepth is how many archives deep nested archives are opened (the
	// outer archive is depth 1).
	MaxDepth int
	// MaxBytes is the total uncompressed bytes read from the archive and
	// everything nested in it.
	MaxBytes int64
	// MaxEntries is the total number of zip entries looked at.
	MaxEntries int
}

// DefaultLimits are used by the zero Extractor.
var DefaultLimits = Limits{MaxDepth: 3, MaxBytes: 1 << 30, MaxEntries: 200000}

// Extractor reads Java archives. The zero value uses DefaultLimits.
type Extractor struct {
	Limits Limits
}

// Name identifies the extractor.
func (Extractor) Name() string { return "java" }

// Wants reports whether p is a Java archive by its extension.
func (Extractor) Wants(p string, _ fs.FileMode) bool { return isArchive(p) }

func isArchive(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".jar", ".war", ".ear", ".par", ".sar", ".jpi", ".hpi":
		return true
	}
	return false
}

// ErrLimit is wrapped by errors for archives beyond the limits.
var ErrLimit = errors.New("archive exceeds limits")

type walker struct {
	lim      Limits
	budget   int64
	entries  int
	out      []inventory.Package
	seen     map[string]bool
	rootPath string
}

// Extract returns the artifacts of the archive and of the archives nested
// in it.
func (e Extractor) Extract(p string, content []byte) ([]inventory.Package, error) {
	lim := e.Limits
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultLimits.MaxDepth
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultLimits.MaxEntries
	}
	w := &walker{lim: lim, budget: lim.MaxBytes, seen: map[string]bool{}, rootPath: p}
	if err := w.archive(p, content, 1); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	sort.Slice(w.out, func(i, j int) bool {
		if w.out[i].Name != w.out[j].Name {
			return w.out[i].Name < w.out[j].Name
		}
		return w.out[i].Version < w.out[j].Version
	})
	return w.out, nil
}

func (w *walker) archive(name string, content []byte, depth int) error {
	zr, err := zip.NewReader(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		return fmt.Errorf("open %s as zip: %w", name, err)
	}
	foundPom := false
	var manifest []byte
	for _, f := range zr.File {
		w.entries++
		if w.entries > w.lim.MaxEntries {
			return fmt.Errorf("more than %d entries: %w", w.lim.MaxEntries, ErrLimit)
		}
		if f.FileInfo().IsDir() {
			continue
		}
		switch {
		case strings.HasPrefix(f.Name, "META-INF/maven/") && path.Base(f.Name) == "pom.properties":
			b, err := w.read(f)
			if err != nil {
				return fmt.Errorf("%s!%s: %w", name, f.Name, err)
			}
			if w.addPom(b) {
				foundPom = true
			}
		case f.Name == "META-INF/MANIFEST.MF":
			b, err := w.read(f)
			if err != nil {
				return fmt.Errorf("%s!%s: %w", name, f.Name, err)
			}
			manifest = b
		case isArchive(f.Name) && depth < w.lim.MaxDepth:
			b, err := w.read(f)
			if err != nil {
				return fmt.Errorf("%s!%s: %w", name, f.Name, err)
			}
			if err := w.archive(name+"!"+f.Name, b, depth+1); err != nil {
				if errors.Is(err, ErrLimit) {
					return err
				}
				// A broken nested archive does not hide the rest.
				continue
			}
		}
	}
	if !foundPom && manifest != nil {
		w.addManifest(name, manifest)
	}
	return nil
}

// read returns an entry's content, charging it to the byte budget; the
// declared size is not trusted.
func (w *walker) read(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > uint64(w.budget) {
		return nil, fmt.Errorf("entry of %d bytes is over the remaining %d-byte budget: %w", f.UncompressedSize64, w.budget, ErrLimit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, w.budget+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > w.budget {
		return nil, fmt.Errorf("uncompressed content over the %d-byte budget: %w", w.lim.MaxBytes, ErrLimit)
	}
	w.budget -= int64(len(b))
	return b, nil
}

func (w *walker) add(group, artifact, version string) bool {
	if artifact == "" || version == "" {
		return false
	}
	name := artifact
	if group != "" {
		name = group + ":" + artifact
	}
	if w.seen[name+"@"+version] {
		return true
	}
	w.seen[name+"@"+version] = true
	pkg := inventory.NewPackage("maven", "Maven", group, artifact, version, w.rootPath, nil)
	pkg.Name = name
	w.out = append(w.out, pkg)
	return true
}

func (w *walker) addPom(b []byte) bool {
	props := properties(b)
	return w.add(props["groupId"], props["artifactId"], props["version"])
}

// addManifest names an archive that has no pom.properties from its
// MANIFEST.MF and file name, as Maven would: the artifact is the file name
// without its version ("xz-1.9.jar" is xz), the version is
// Implementation-Version or Bundle-Version (else the file name's), and the
// group is Implementation-Vendor-Id, else the OSGi Bundle-SymbolicName or
// Automatic-Module-Name without a last segment that repeats the artifact
// ("org.tukaani.xz" gives org.tukaani). Implementation-Title is a human
// title ("XZ data compression"), never a coordinate. The package is marked
// IdentifiedBy "manifest": a Maven repository layout linking to the archive
// (Debian's /usr/share/maven-repo) may name it exactly later.
func (w *walker) addManifest(name string, b []byte) {
	m := manifestAttrs(b)
	version := m["Implementation-Version"]
	if version == "" {
		version = m["Bundle-Version"]
	}
	artifact, fileVersion := SplitArchiveName(name, version)
	if version == "" {
		version = fileVersion
	}
	group := m["Implementation-Vendor-Id"]
	if group == "" {
		id, _, _ := strings.Cut(m["Bundle-SymbolicName"], ";")
		if id = strings.TrimSpace(id); id == "" {
			id = m["Automatic-Module-Name"]
		}
		group = groupOf(id, artifact)
	}
	if n := len(w.out); w.add(group, artifact, version) && len(w.out) > n {
		w.out[n].IdentifiedBy = "manifest"
	}
}

// SplitArchiveName returns the artifact and version in an archive's file
// name (the part after the last "!" for a nested one): "xz-1.9.jar" gives
// xz and 1.9, "guice-assistedinject.jar" guice-assistedinject and no
// version. A known version (may be empty) is cut off as given; otherwise
// the version is the name's tail from the last "-" followed by a digit.
func SplitArchiveName(name, version string) (artifact, fileVersion string) {
	base := path.Base(name[strings.LastIndex(name, "!")+1:])
	base = strings.TrimSuffix(base, path.Ext(base))
	if version != "" {
		if a, ok := strings.CutSuffix(base, "-"+version); ok && a != "" {
			return a, version
		}
	}
	for i := len(base) - 2; i > 0; i-- {
		if base[i] == '-' && base[i+1] >= '0' && base[i+1] <= '9' {
			return base[:i], base[i+1:]
		}
	}
	return base, ""
}

// groupOf derives a Maven group from an OSGi or module identifier: its
// last segment goes when the artifact ends with it ("org.mongodb.bson" and
// bson give org.mongodb; "org.mongodb.driver-core" and mongodb-driver-core
// too).
func groupOf(id, artifact string) string {
	i := strings.LastIndexByte(id, '.')
	if i <= 0 {
		return id
	}
	if last := id[i+1:]; last == artifact || strings.HasSuffix(artifact, "-"+last) {
		return id[:i]
	}
	return id
}

// properties parses a Java .properties file (key=value or key: value).
func properties(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}

// manifestAttrs parses the main section of a MANIFEST.MF (continuation
// lines start with one space).
func manifestAttrs(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	last := ""
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break // end of the main section
		}
		if line[0] == ' ' && last != "" {
			out[last] += line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		out[last] = strings.TrimSpace(v)
	}
	return out
}
