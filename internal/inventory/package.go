// Package inventory is the package model shared by every extractor and the
// vulnerability matcher: what a package is (name, version, ecosystem, purl),
// where it was found (file and layer), and which operating system an image runs.
// Extractors live in subpackages (dpkg, apk, rpm, npm, python, gobin, java, ...).
package inventory

import "strings"

// Package is one installed or locked software package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// SourceName and SourceVersion are the source package for OS packages
	// (Debian and Alpine advisories are keyed on the source package).
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	// Ecosystem is the OSV ecosystem without release ("Debian", "Alpine",
	// "Red Hat", "Go", "npm", "PyPI", "Maven", "RubyGems", "crates.io",
	// "Packagist", "NuGet"). OS packages get the release appended at match
	// time from the image's OS (Debian:12).
	Ecosystem string `json:"ecosystem"`
	// Type is the purl type ("deb", "apk", "rpm", "npm", "pypi", "golang",
	// "maven", "gem", "cargo", "composer", "nuget").
	Type string `json:"type"`
	PURL string `json:"purl"`
	// Path is the file the package was read from, inside the image or
	// folder (e.g. "/var/lib/dpkg/status", "/app/node_modules/x/package.json").
	Path string `json:"path"`
	// Layer is the 0-based index of the layer that added the package, and
	// LayerDigest its digest; -1 / "" when not from an image.
	Layer       int      `json:"layer"`
	LayerDigest string   `json:"layer_digest,omitempty"`
	Licenses    []string `json:"licenses,omitempty"`
	Arch        string   `json:"arch,omitempty"`
	// GoPackages lists, for a Go module compiled into an executable, the
	// import paths of the module's packages whose code is linked into it
	// (gobin.LinkedPackages); nil when unknown.
	GoPackages []string `json:"go_packages,omitempty"`
	// Dev is true for development-only dependencies (npm devDependencies).
	Dev bool `json:"dev,omitempty"`
	// ManagedBy names the OS package that installed this language package
	// ("deb:python3-urllib3"): its files belong to the distribution, which
	// may backport fixes without changing the upstream version.
	ManagedBy string `json:"managed_by,omitempty"`
	// IdentifiedBy says where the name and version came from when not from
	// the package's own metadata: "manifest" (a Java archive without
	// pom.properties, named from its MANIFEST.MF and file name: the group
	// is a best guess) or "maven-repo" (a Maven repository layout, such as
	// Debian's /usr/share/maven-repo, that links to the archive).
	IdentifiedBy string `json:"identified_by,omitempty"`
}

// Key identifies a package independent of where it was found.
func (p Package) Key() string { return p.Type + ":" + p.Name + "@" + p.Version }

// OS identifies an image's operating system, from /etc/os-release and
// friends.
type OS struct {
	ID         string `json:"id"`         // os-release ID: "debian", "alpine", "ubuntu", "rhel", ...
	VersionID  string `json:"version_id"` // "12", "3.19.1"
	Codename   string `json:"codename,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
}

// Ecosystem returns the OSV ecosystem for the OS packages of this release,
// such as "Debian:12", "Alpine:v3.19" or "Ubuntu:22.04"; "" when unknown.
func (o OS) Ecosystem() string {
	switch o.ID {
	case "debian":
		major, _, _ := strings.Cut(o.VersionID, ".")
		return "Debian:" + major
	case "alpine":
		parts := strings.SplitN(o.VersionID, ".", 3)
		if len(parts) < 2 {
			return ""
		}
		return "Alpine:v" + parts[0] + "." + parts[1]
	case "ubuntu":
		return "Ubuntu:" + o.VersionID
	case "rhel":
		major, _, _ := strings.Cut(o.VersionID, ".")
		return "Red Hat:" + major
	case "rocky":
		major, _, _ := strings.Cut(o.VersionID, ".")
		return "Rocky Linux:" + major
	case "almalinux":
		major, _, _ := strings.Cut(o.VersionID, ".")
		return "AlmaLinux:" + major
	}
	return ""
}

// IsOS reports whether p is an operating-system package (deb, apk, rpm)
// rather than a language library or binary.
func (p Package) IsOS() bool {
	switch p.Type {
	case "deb", "apk", "rpm":
		return true
	}
	return false
}
