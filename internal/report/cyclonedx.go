package report

import (
	"fmt"
	"io"
	"sort"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/kensa-sec/kensa/internal/finding"
)

// cyclonedxWriter writes a CycloneDX 1.6 JSON BOM: the OS and packages as
// components, vulnerability findings in the vulnerabilities section.
type cyclonedxWriter struct{ opts Options }

func cdxSeverity(s finding.Severity) cdx.Severity {
	switch s {
	case finding.SeverityCritical:
		return cdx.SeverityCritical
	case finding.SeverityHigh:
		return cdx.SeverityHigh
	case finding.SeverityMedium:
		return cdx.SeverityMedium
	case finding.SeverityLow:
		return cdx.SeverityLow
	case finding.SeverityInfo:
		return cdx.SeverityInfo
	}
	return cdx.SeverityUnknown
}

// Write renders r's inventory as CycloneDX 1.6 JSON.
func (c *cyclonedxWriter) Write(w io.Writer, r *finding.Report) error {
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	hash := contentHash(r)
	bom.SerialNumber = "urn:uuid:" + uuidFromHash(hash)

	rootType := cdx.ComponentTypeContainer
	if r.TargetKind == "sbom" || r.TargetKind == "rootfs" || r.TargetKind == "dockerfile" {
		rootType = cdx.ComponentTypeFile
	}
	root := &cdx.Component{BOMRef: "kensa-target", Type: rootType, Name: r.Target}
	if r.Image != nil && r.Image.Digest != "" {
		root.Version = r.Image.Digest
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: c.opts.created().Format("2006-01-02T15:04:05Z"),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "kensa", Version: c.opts.ToolVersion,
			ExternalReferences: &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: kensaURI}},
		}}},
		Component: root,
	}

	comps := []cdx.Component{}
	var deps []string
	if o := r.OS; o != nil && o.ID != "" {
		comp := cdx.Component{BOMRef: "kensa-os", Type: cdx.ComponentTypeOS, Name: o.ID, Version: o.VersionID, Description: o.PrettyName}
		comps = append(comps, comp)
		deps = append(deps, comp.BOMRef)
	}
	refs := packageRefs(r.Packages)
	byPURL := map[string]string{}
	for i, p := range r.Packages {
		comp := cdx.Component{BOMRef: refs[i], Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: p.PURL}
		if len(p.Licenses) > 0 {
			lic := cdx.Licenses{}
			for _, l := range p.Licenses {
				lic = append(lic, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
			comp.Licenses = &lic
		}
		if props := packageProps(p); len(props) > 0 {
			ps := make([]cdx.Property, len(props))
			for j, kv := range props {
				ps[j] = cdx.Property{Name: kv[0], Value: kv[1]}
			}
			comp.Properties = &ps
		}
		comps = append(comps, comp)
		deps = append(deps, comp.BOMRef)
		if p.PURL != "" {
			if _, ok := byPURL[p.PURL]; !ok {
				byPURL[p.PURL] = refs[i]
			}
		}
		if _, ok := byPURL[p.Type+"/"+p.Name+"@"+p.Version]; !ok {
			byPURL[p.Type+"/"+p.Name+"@"+p.Version] = refs[i]
		}
	}
	bom.Components = &comps
	if len(deps) > 0 {
		bom.Dependencies = &[]cdx.Dependency{{Ref: root.BOMRef, Dependencies: &deps}}
	}

	if vulns := c.vulnerabilities(r, byPURL); len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return fmt.Errorf("write CycloneDX BOM: %w", err)
	}
	return nil
}

// vulnerabilities turns vuln findings into CycloneDX vulnerabilities, one per
// advisory ID with every affected component listed.
func (c *cyclonedxWriter) vulnerabilities(r *finding.Report, byPURL map[string]string) []cdx.Vulnerability {
	type entry struct {
		v    cdx.Vulnerability
		refs map[string]bool
	}
	byID := map[string]*entry{}
	for _, f := range visibleFindings(r, c.opts.ShowSuppressed) {
		if f.Kind != finding.KindVuln {
			continue
		}
		e := byID[f.ID]
		if e == nil {
			v := cdx.Vulnerability{
				BOMRef:         f.ID,
				ID:             f.ID,
				Source:         vulnSource(f.ID),
				Ratings:        &[]cdx.VulnerabilityRating{{Severity: cdxSeverity(f.Severity)}},
				Description:    f.Title,
				Detail:         f.Message,
				Recommendation: f.Fix,
			}
			if len(f.Aliases) > 0 {
				refs := make([]cdx.VulnerabilityReference, 0, len(f.Aliases))
				for _, a := range f.Aliases {
					refs = append(refs, cdx.VulnerabilityReference{ID: a, Source: vulnSource(a)})
				}
				v.References = &refs
			}
			if len(f.References) > 0 {
				adv := make([]cdx.Advisory, 0, len(f.References))
				for _, u := range f.References {
					adv = append(adv, cdx.Advisory{URL: u})
				}
				v.Advisories = &adv
			}
			if f.Suppressed != nil {
				v.Analysis = &cdx.VulnerabilityAnalysis{State: cdx.IASNotAffected, Detail: f.Suppressed.Reason}
			}
			e = &entry{v: v, refs: map[string]bool{}}
			byID[f.ID] = e
		}
		if p := f.Package; p != nil {
			ref := byPURL[p.PURL]
			if ref == "" {
				ref = p.PURL
			}
			if ref == "" {
				ref = p.Name + "@" + p.Version
			}
			e.refs[ref] = true
		}
	}
	out := make([]cdx.Vulnerability, 0, len(byID))
	for _, id := range sortedIDs(byID) {
		e := byID[id]
		if len(e.refs) > 0 {
			aff := []cdx.Affects{}
			refs := sortedIDs(e.refs)
			sort.Strings(refs)
			for _, ref := range refs {
				aff = append(aff, cdx.Affects{Ref: ref})
			}
			e.v.Affects = &aff
		}
		out = append(out, e.v)
	}
	return out
}

// vulnSource names the database an advisory ID comes from.
func vulnSource(id string) *cdx.Source {
	switch {
	case len(id) > 4 && id[:4] == "CVE-":
		return &cdx.Source{Name: "NVD", URL: "https://nvd.nist.gov/vuln/detail/" + id}
	case len(id) > 5 && id[:5] == "GHSA-":
		return &cdx.Source{Name: "GitHub", URL: "https://github.com/advisories/" + id}
	}
	return &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + id}
}
