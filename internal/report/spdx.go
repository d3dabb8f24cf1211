package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/lazyre"

	spdxjson "github.com/spdx/tools-golang/json"
)

// spdxWriter writes an SPDX 2.3 JSON document: a root package for the
// target that CONTAINS every inventory package, DESCRIBED by the document.
type spdxWriter struct{ opts Options }

const noAssertion = "NOASSERTION"

var (
	spdxIDUnsafe  = lazyre.New(`[^A-Za-z0-9.-]+`)
	spdxLicenseID = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9.+-]*$`)
)

// spdxID makes a valid SPDX element ID (letters, digits, '.', '-').
func spdxID(parts ...string) common.ElementID {
	s := strings.Trim(spdxIDUnsafe().ReplaceAllString(strings.Join(parts, "-"), "-"), "-")
	return common.ElementID(s)
}

// spdxLicense returns an SPDX license expression for the declared licenses,
// or NOASSERTION when they are not simple SPDX identifiers.
func spdxLicense(ls []string) string {
	if len(ls) == 0 {
		return noAssertion
	}
	for _, l := range ls {
		if !spdxLicenseID().MatchString(l) {
			return noAssertion
		}
	}
	if len(ls) == 1 {
		return ls[0]
	}
	return strings.Join(ls, " AND ")
}

// Write renders r's inventory as SPDX 2.3 JSON.
func (s *spdxWriter) Write(w io.Writer, r *finding.Report) error {
	hash := contentHash(r)
	name := r.Target
	if name == "" {
		name = "kensa-target"
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: fmt.Sprintf(kensaURI+"/spdx/%s-%s", strings.Trim(spdxIDUnsafe().ReplaceAllString(name, "-"), "-"), hash[:32]),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{
				{CreatorType: "Tool", Creator: "kensa-" + s.opts.ToolVersion},
			},
			Created: s.opts.created().Format("2006-01-02T15:04:05Z"),
		},
	}
	rootID := spdxID("Target")
	root := &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   rootID,
		PackageDownloadLocation: noAssertion,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
	}
	switch r.TargetKind {
	case "rootfs", "sbom", "dockerfile":
		root.PrimaryPackagePurpose = "FILE"
	}
	if r.Image != nil && r.Image.Digest != "" {
		root.PackageVersion = r.Image.Digest
		if alg, hexd, ok := strings.Cut(r.Image.Digest, ":"); ok && alg == "sha256" {
			root.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: hexd}}
		}
	}
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", string(rootID)), Relationship: "DESCRIBES",
	})
	contains := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(rootID)), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	if o := r.OS; o != nil && o.ID != "" {
		id := spdxID("OperatingSystem", o.ID)
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:             o.ID,
			PackageSPDXIdentifier:   id,
			PackageVersion:          o.VersionID,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
			PackageDescription:      o.PrettyName,
			PrimaryPackagePurpose:   "OPERATING-SYSTEM",
		})
		contains(id)
	}
	for i, p := range r.Packages {
		id := spdxID("Package", fmt.Sprint(i+1), p.Type, p.Name)
		sp := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          p.Version,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  spdxLicense(p.Licenses),
			PackageCopyrightText:    noAssertion,
			PackageSourceInfo:       spdxSourceInfo(p),
			PrimaryPackagePurpose:   "LIBRARY",
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{
				Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL,
			}}
		}
		doc.Packages = append(doc.Packages, sp)
		contains(id)
	}
	if err := spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("write SPDX document: %w", err)
	}
	return nil
}

// spdxSourceInfo says where kensa found the package (layer and file).
func spdxSourceInfo(p inventory.Package) string {
	var parts []string
	for _, kv := range packageProps(p) {
		parts = append(parts, kv[0]+"="+kv[1])
	}
	if len(parts) == 0 {
		return ""
	}
	return "found by kensa: " + strings.Join(parts, " ")
}
