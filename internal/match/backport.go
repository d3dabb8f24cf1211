package match

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// owners indexes the OS packages of an inventory by type and name, for
// the language packages they installed (inventory.Package.ManagedBy).
type owners map[string]inventory.Package

func ownersOf(pkgs []inventory.Package) owners {
	o := owners{}
	for _, p := range pkgs {
		if p.Type == "deb" || p.Type == "apk" || p.Type == "rpm" {
			o[p.Type+":"+p.Name] = p
		}
	}
	return o
}

// backport decides a finding on a language package that an OS package
// installed (ManagedBy "deb:python3-urllib3"). The distribution's own
// advisories for the owning package's source are looked up: one that
// names the same vulnerability (ID or alias) and does not affect the
// installed OS package version means the distribution fixed it under the
// same upstream version, and the finding is returned as suppressed with
// that advisory as the reason. One that still affects it is named in the
// message. Without such an advisory the finding is kept unchanged.
func backport(db Source, osInfo *inventory.OS, own owners, p inventory.Package, f finding.Finding) (finding.Finding, bool, error) {
	osPkg, ok := own[p.ManagedBy]
	if !ok {
		return f, false, nil
	}
	q, ok, _ := QueryFor(osPkg, osInfo)
	if !ok {
		return f, false, nil
	}
	installed, err := parse(q.Ecosystem, q.Version)
	if err != nil {
		return f, false, nil
	}
	variants := ecosystemVariants(q.Ecosystem)
	names := append([]string{f.ID}, f.Aliases...)
	key := vulndb.NormalizeName(q.Ecosystem, q.Name)
	for _, eco := range variants {
		advs, err := db.Lookup(eco, q.Name)
		if err != nil {
			return f, false, fmt.Errorf("look up %s %s: %w", eco, q.Name, err)
		}
		for _, a := range advs {
			if !sharesName(a, names) || !namesPackage(a, variants, key) {
				continue
			}
			h, affected, err := evalAdvisory(a, q, variants, installed)
			if err != nil {
				continue // an advisory we cannot evaluate decides nothing
			}
			if affected {
				still := "not fixed in the installed package"
				if h.fixed != "" {
					still = "fixed in " + h.fixed
				}
				f.Message += fmt.Sprintf("; %s's advisory %s agrees (%s %s: %s)", osPkg.Type, a.ID, osPkg.Name, osPkg.Version, still)
				return f, false, nil
			}
			f.Suppressed = &finding.Suppression{
				By:     "backport",
				Source: a.ID,
				Reason: fmt.Sprintf("fixed by the distribution: advisory %s says %s %s (source %s %s) is not affected, though %s %s is", a.ID, osPkg.Name, osPkg.Version, q.Name, q.Version, p.Name, p.Version),
			}
			return f, true, nil
		}
	}
	return f, false, nil
}

// sharesName reports whether a is, or is an alias of, one of names.
func sharesName(a *vulndb.Advisory, names []string) bool {
	for _, n := range append([]string{a.ID}, a.Aliases...) {
		if slices.ContainsFunc(names, func(m string) bool { return strings.EqualFold(m, n) }) {
			return true
		}
	}
	return false
}

// namesPackage reports whether a has an affected entry for the package
// key (normalised name) in one of the ecosystem variants.
func namesPackage(a *vulndb.Advisory, variants []string, key string) bool {
	for _, af := range a.Affected {
		if slices.Contains(variants, af.Package.Ecosystem) && vulndb.NormalizeName(af.Package.Ecosystem, af.Package.Name) == key {
			return true
		}
	}
	return false
}
