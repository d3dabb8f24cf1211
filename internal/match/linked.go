package match

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// maxNamedImports bounds how many affected packages a suppression reason
// names.
const maxNamedImports = 4

// notLinked decides a finding on a Go module compiled into an executable
// whose linked packages are known (inventory.Package.GoPackages): when
// every advisory of the group names the module's affected packages
// (ecosystem_specific.imports) and none of them is linked into the binary,
// the vulnerable code is not in it, and the finding is returned as
// suppressed ("not-linked"), visible with --show-suppressed. An advisory
// without that list, or a binary whose symbol table could not be read,
// keeps the finding.
func notLinked(p inventory.Package, q Query, group []hit, f finding.Finding) (finding.Finding, bool) {
	if p.Type != "golang" || len(p.GoPackages) == 0 {
		return f, false
	}
	key := vulndb.NormalizeName(q.Ecosystem, q.Name)
	var affected []string
	for _, h := range group {
		var paths []string
		for i := range h.adv.Affected {
			af := &h.adv.Affected[i]
			if vulndb.NormalizeName(af.Package.Ecosystem, af.Package.Name) != key {
				continue
			}
			if len(af.EcosystemSpecific.Imports) == 0 {
				return f, false // the whole module may be affected
			}
			for _, im := range af.EcosystemSpecific.Imports {
				paths = append(paths, im.Path)
			}
		}
		if len(paths) == 0 {
			return f, false
		}
		for _, path := range paths {
			if _, linked := slices.BinarySearch(p.GoPackages, path); linked {
				return f, false
			}
			if !slices.Contains(affected, path) {
				affected = append(affected, path)
			}
		}
	}
	named := affected
	more := ""
	if len(named) > maxNamedImports {
		named, more = named[:maxNamedImports], fmt.Sprintf(" and %d more", len(affected)-maxNamedImports)
	}
	f.Suppressed = &finding.Suppression{
		By: "not-linked",
		Reason: fmt.Sprintf("%s is compiled into %s, but none of the affected packages (%s%s) is: the binary links %d other packages of it",
			p.Name, p.Path, strings.Join(named, ", "), more, len(p.GoPackages)),
	}
	return f, true
}
