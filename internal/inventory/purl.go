package inventory

import packageurl "github.com/package-url/packageurl-go"

// PURL builds a package URL string (https://github.com/package-url/purl-spec)
// from its parts. Qualifiers with empty values are dropped and the rest are
// written in key order, so equal inputs always give equal strings.
func PURL(typ, namespace, name, version string, qualifiers map[string]string) string {
	q := map[string]string{}
	for k, v := range qualifiers {
		if v != "" {
			q[k] = v
		}
	}
	var qq packageurl.Qualifiers
	if len(q) > 0 {
		qq = packageurl.QualifiersFromMap(q)
	}
	p := packageurl.NewPackageURL(typ, namespace, name, version, qq, "")
	return p.ToString()
}

// NewPackage returns a Package with Type, Ecosystem and PURL set, not yet
// attributed to a layer (Layer -1). namespace and qualifiers only shape the
// purl.
func NewPackage(typ, ecosystem, namespace, name, version, path string, qualifiers map[string]string) Package {
	return Package{
		Name:      name,
		Version:   version,
		Ecosystem: ecosystem,
		Type:      typ,
		PURL:      PURL(typ, namespace, name, version, qualifiers),
		Path:      path,
		Layer:     -1,
	}
}
