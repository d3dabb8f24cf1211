// Package sbom reads existing SBOMs — CycloneDX 1.4–1.6 JSON and SPDX
// 2.2/2.3 JSON — into kensa's package inventory, so `kensa scan sbom.json`
// can match them against the vulnerability database.
package sbom

import (
	"bytes"
	"encoding/json"

	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
)

// MaxSize bounds how much of an SBOM is read.
const MaxSize = 256 << 20

// maxDepth bounds component nesting in CycloneDX documents.
const maxDepth = 32

// Result is what an SBOM says about the software it describes.
type Result struct {
	// Format is "cyclonedx" or "spdx"; SpecVersion e.g. "1.6" or "SPDX-2.3".
	Format      string
	SpecVersion string
	// Name is the described component or document name.
	Name     string
	OS       *inventory.OS
	Packages []inventory.Package
	// Skipped counts components without a usable name or version.
	Skipped int
}

// ReadFile reads an SBOM file.
func ReadFile(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sbom %s: %w", path, err)
	}
	defer f.Close()
	return Read(path, f)
}

// Read parses an SBOM from r; name is used in errors.
func Read(name string, r io.Reader) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("sbom %s: read: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("sbom %s: larger than %d bytes", name, MaxSize)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("sbom %s: not a JSON object: %v", name, err)
	}
	switch {
	case probe["bomFormat"] != nil:
		res, err := readCycloneDX(data)
		if err != nil {
			return nil, fmt.Errorf("sbom %s: CycloneDX: %w", name, err)
		}
		return res, nil
	case probe["spdxVersion"] != nil:
		res, err := readSPDX(data)
		if err != nil {
			return nil, fmt.Errorf("sbom %s: SPDX: %w", name, err)
		}
		return res, nil
	}
	return nil, fmt.Errorf("sbom %s: neither CycloneDX (no bomFormat) nor SPDX (no spdxVersion) JSON", name)
}

func readCycloneDX(data []byte) (*Result, error) {
	var head struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, err
	}
	if head.BOMFormat != "CycloneDX" {
		return nil, fmt.Errorf("bomFormat %q, want \"CycloneDX\"", head.BOMFormat)
	}
	switch head.SpecVersion {
	case "1.2", "1.3", "1.4", "1.5", "1.6", "1.7":
	default:
		return nil, fmt.Errorf("unsupported specVersion %q (want 1.4–1.6)", head.SpecVersion)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, err
	}
	res := &Result{Format: "cyclonedx", SpecVersion: head.SpecVersion}
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		res.Name = bom.Metadata.Component.Name
		// The described thing may itself be (or contain) the OS.
		res.addCDX(*bom.Metadata.Component, 0, true)
	}
	if bom.Components != nil {
		for _, c := range *bom.Components {
			res.addCDX(c, 0, false)
		}
	}
	res.finish()
	return res, nil
}

func (res *Result) addCDX(c cdx.Component, depth int, root bool) {
	if depth > maxDepth {
		res.Skipped++
		return
	}
	switch {
	case c.Type == cdx.ComponentTypeOS:
		if res.OS == nil && c.Name != "" {
			res.OS = &inventory.OS{ID: strings.ToLower(c.Name), VersionID: c.Version, PrettyName: c.Description}
		}
	case root:
		// metadata.component describes the target, not a package in it.
	case c.PackageURL != "":
		p, ok := fromPURL(c.PackageURL)
		if !ok {
			res.Skipped++
			break
		}
		if c.Licenses != nil {
			for _, l := range *c.Licenses {
				switch {
				case l.Expression != "":
					p.Licenses = append(p.Licenses, l.Expression)
				case l.License != nil && l.License.ID != "":
					p.Licenses = append(p.Licenses, l.License.ID)
				case l.License != nil && l.License.Name != "":
					p.Licenses = append(p.Licenses, l.License.Name)
				}
			}
		}
		if c.Properties != nil {
			for _, prop := range *c.Properties {
				applyProperty(&p, prop.Name, prop.Value)
			}
		}
		res.Packages = append(res.Packages, p)
	default:
		if c.Type == cdx.ComponentTypeLibrary || c.Type == cdx.ComponentTypeApplication || c.Type == cdx.ComponentTypeFramework {
			res.Skipped++ // no purl: no ecosystem to match against
		}
	}
	if c.Components != nil {
		for _, sub := range *c.Components {
			res.addCDX(sub, depth+1, false)
		}
	}
}

// applyProperty reads back kensa's own per-package properties.
func applyProperty(p *inventory.Package, name, value string) {
	switch name {
	case "kensa:layer_digest":
		p.LayerDigest = value
	case "kensa:layer_index":
		if n, err := strconv.Atoi(value); err == nil && n >= 0 {
			p.Layer = n
		}
	case "kensa:path":
		p.Path = value
	case "kensa:source_name":
		p.SourceName = value
	case "kensa:source_version":
		p.SourceVersion = value
	case "kensa:dev":
		p.Dev = value == "true"
	case "kensa:managed_by":
		p.ManagedBy = value
	case "kensa:identified_by":
		p.IdentifiedBy = value
	}
}

func readSPDX(data []byte) (*Result, error) {
	doc, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	res := &Result{Format: "spdx", SpecVersion: doc.SPDXVersion, Name: doc.DocumentName}
	for _, sp := range doc.Packages {
		if sp == nil {
			continue
		}
		if sp.PrimaryPackagePurpose == "OPERATING-SYSTEM" {
			if res.OS == nil && sp.PackageName != "" {
				res.OS = &inventory.OS{ID: strings.ToLower(sp.PackageName), VersionID: sp.PackageVersion, PrettyName: sp.PackageDescription}
			}
			continue
		}
		purl := ""
		for _, ref := range sp.PackageExternalReferences {
			if ref != nil && strings.EqualFold(ref.RefType, "purl") {
				purl = ref.Locator
				break
			}
		}
		if purl == "" {
			if sp.PrimaryPackagePurpose != "CONTAINER" && sp.PrimaryPackagePurpose != "FILE" {
				res.Skipped++
			}
			continue
		}
		p, ok := fromPURL(purl)
		if !ok {
			res.Skipped++
			continue
		}
		for _, l := range []string{sp.PackageLicenseDeclared, sp.PackageLicenseConcluded} {
			if l != "" && l != "NOASSERTION" && l != "NONE" {
				p.Licenses = []string{l}
				break
			}
		}
		if info, ok := strings.CutPrefix(sp.PackageSourceInfo, "found by kensa: "); ok {
			for _, kv := range strings.Fields(info) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					applyProperty(&p, k, v)
				}
			}
		}
		res.Packages = append(res.Packages, p)
	}
	res.finish()
	return res, nil
}

// finish fills the OS from distro qualifiers when the SBOM did not name one.
func (res *Result) finish() {
	if res.OS != nil {
		return
	}
	for _, p := range res.Packages {
		if os := osFromPURL(p.PURL); os != nil {
			res.OS = os
			return
		}
	}
}

// purlEcosystem maps purl types to OSV ecosystems.
var purlEcosystem = map[string]string{
	"npm": "npm", "pypi": "PyPI", "golang": "Go", "maven": "Maven", "gem": "RubyGems",
	"cargo": "crates.io", "composer": "Packagist", "nuget": "NuGet", "hex": "Hex", "pub": "Pub",
	"swift": "SwiftURL", "cocoapods": "CocoaPods", "conan": "ConanCenter",
}

// osEcosystem maps purl namespaces of OS package types to OSV ecosystems.
var osEcosystem = map[string]string{
	"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine", "wolfi": "Wolfi", "chainguard": "Chainguard",
	"redhat": "Red Hat", "rhel": "Red Hat", "rocky": "Rocky Linux", "almalinux": "AlmaLinux",
	"opensuse": "openSUSE", "suse": "SUSE", "photon": "Photon OS", "mariner": "Mariner", "azurelinux": "Azure Linux",
}

// fromPURL builds a package from its purl.
func fromPURL(s string) (inventory.Package, bool) {
	pu, err := packageurl.FromString(s)
	if err != nil || pu.Name == "" || pu.Version == "" {
		return inventory.Package{}, false
	}
	p := inventory.Package{Name: pu.Name, Version: pu.Version, Type: pu.Type, PURL: s, Layer: -1}
	q := pu.Qualifiers.Map()
	switch pu.Type {
	case "deb", "apk", "rpm", "alpm":
		p.Ecosystem = osEcosystem[strings.ToLower(pu.Namespace)]
		p.Arch = q["arch"]
		if up := q["upstream"]; up != "" {
			name, ver, _ := strings.Cut(up, "@")
			p.SourceName = name
			p.SourceVersion = ver
		}
	case "golang", "npm", "composer", "swift":
		if pu.Namespace != "" {
			p.Name = pu.Namespace + "/" + pu.Name
		}
		p.Ecosystem = purlEcosystem[pu.Type]
	case "maven":
		if pu.Namespace != "" {
			p.Name = pu.Namespace + ":" + pu.Name
		}
		p.Ecosystem = "Maven"
	default:
		p.Ecosystem = purlEcosystem[pu.Type]
	}
	if pu.Type == "golang" && !strings.HasPrefix(p.Version, "v") && p.Version != "" && p.Version[0] >= '0' && p.Version[0] <= '9' {
		p.Version = "v" + p.Version
	}
	return p, true
}

// osFromPURL reads the OS from an OS package's distro qualifier
// ("debian-12", "alpine-3.19.1", "bookworm").
func osFromPURL(s string) *inventory.OS {
	pu, err := packageurl.FromString(s)
	if err != nil {
		return nil
	}
	switch pu.Type {
	case "deb", "apk", "rpm":
	default:
		return nil
	}
	distro := pu.Qualifiers.Map()["distro"]
	ns := strings.ToLower(pu.Namespace)
	if distro == "" || ns == "" {
		return nil
	}
	id := ns
	if ns == "redhat" {
		id = "rhel"
	}
	ver := strings.TrimPrefix(strings.TrimPrefix(distro, ns+"-"), id+"-")
	if ver == "" || (ver[0] < '0' || ver[0] > '9') {
		if v, ok := debianCodenames[ver]; ok && id == "debian" {
			return &inventory.OS{ID: id, VersionID: v, Codename: ver}
		}
		return nil
	}
	return &inventory.OS{ID: id, VersionID: ver}
}

var debianCodenames = map[string]string{"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13"}
