// Package gobin lists the Go modules compiled into a Go executable, read
// from the module build information the Go linker embeds (debug/buildinfo).
package gobin

import (
	"bytes"
	"debug/buildinfo"
	"io/fs"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/inventory/elfsec"
)

// MaxSize is the largest executable Extract reads.
const MaxSize = 512 << 20

// Extractor reads Go executables. The zero value is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "gobin" }

// Wants reports whether a file may be a Go executable: any regular file
// with an execute bit. The format check happens in Extract, on the bytes.
func (Extractor) Wants(_ string, mode fs.FileMode) bool {
	return mode.IsRegular() && mode.Perm()&0o111 != 0
}

// IsExecutable reports whether content starts with an ELF, Mach-O or PE
// header.
func IsExecutable(content []byte) bool {
	switch {
	case bytes.HasPrefix(content, []byte("\x7fELF")):
		return true
	case bytes.HasPrefix(content, []byte("MZ")):
		return true
	case bytes.HasPrefix(content, []byte{0xfe, 0xed, 0xfa, 0xce}), bytes.HasPrefix(content, []byte{0xfe, 0xed, 0xfa, 0xcf}),
		bytes.HasPrefix(content, []byte{0xce, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(content, []byte{0xcf, 0xfa, 0xed, 0xfe}):
		return true
	}
	return false
}

// Extract returns the main module (unless it is a local "(devel)" build),
// every dependency (the replacement when one is recorded; none for a local
// directory replacement) and the Go
// standard library as package "stdlib" at the toolchain version, the way
// OSV's Go advisories name it. Each package lists in GoPackages the
// packages of that module whose code is linked into the executable (for
// ELF files with a readable pclntab), so matching can tell an advisory on
// a package the binary never linked. A file that is not a Go executable
// gives no packages and no error.
func (Extractor) Extract(path string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize || !IsExecutable(content) {
		return nil, nil
	}
	// Go's linker writes the build information into .go.buildinfo (ELF).
	if !elfsec.MayHave(content, ".go.buildinfo") {
		return nil, nil
	}
	bi, err := buildinfo.Read(bytes.NewReader(content))
	if err != nil {
		return nil, nil // not a Go binary, or built without module info
	}
	pkgs := FromBuildInfo(path, bi)
	if linked := LinkedPackages(content); linked != nil {
		mods := make([]string, len(pkgs))
		for i, p := range pkgs {
			mods[i] = p.Name
		}
		for i := range pkgs {
			pkgs[i].GoPackages = packagesOf(pkgs[i].Name, mods, linked)
		}
	}
	return pkgs, nil
}

// FromBuildInfo converts build information into packages.
func FromBuildInfo(path string, bi *debug.BuildInfo) []inventory.Package {
	var out []inventory.Package
	add := func(mod, version string) {
		if mod == "" || version == "" || version == "(devel)" {
			return
		}
		out = append(out, NewPackage(mod, version, path))
	}
	add(bi.Main.Path, mainVersion(bi))
	for _, d := range bi.Deps {
		if d.Replace != nil {
			// A replacement by a local directory has no version: it is
			// local code, which no advisory names.
			add(d.Replace.Path, d.Replace.Version)
			continue
		}
		add(d.Path, d.Version)
	}
	if v := GoVersion(bi.GoVersion); v != "" {
		out = append(out, NewPackage("stdlib", "v"+v, path))
	}
	return out
}

// mainVersion is the main module's version; for a build outside a module
// proxy ("(devel)") with VCS stamping, the pseudo-version of the stamped
// commit (v0.0.0-<commit time>-<12 hex>), as `go list -m` would name it.
func mainVersion(bi *debug.BuildInfo) string {
	if bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	var rev, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		}
	}
	t, err := time.Parse(time.RFC3339, at)
	if len(rev) < 12 || err != nil {
		return ""
	}
	return "v0.0.0-" + t.UTC().Format("20060102150405") + "-" + rev[:12]
}

// GoVersion turns a toolchain string such as "go1.22.1 X:boringcrypto" into
// the semantic version OSV uses for stdlib ("1.22.1"; "1.21" becomes
// "1.21.0").
func GoVersion(s string) string {
	s, _, _ = strings.Cut(s, " ")
	v, ok := strings.CutPrefix(s, "go")
	if !ok || v == "" {
		return ""
	}
	// Drop any "-suffix" (e.g. "1.22.1-bigcorp") the toolchain carries.
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	if strings.Count(v, ".") == 1 && !strings.ContainsAny(v, "abcdefghijklmnopqrstuvwxyz") {
		v += ".0"
	}
	return v
}

// NewPackage returns a Go module package. version is a module version
// ("v0.3.0"); Package.Version drops the "v" as OSV's Go records do, the
// purl keeps it.
func NewPackage(module, version, path string) inventory.Package {
	ns, name := "", module
	if i := strings.LastIndexByte(module, '/'); i >= 0 {
		ns, name = module[:i], module[i+1:]
	}
	p := inventory.NewPackage("golang", "Go", ns, name, version, path, nil)
	p.Name = module
	p.Version = strings.TrimPrefix(version, "v")
	return p
}
