package match

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

// names returns the IDs that identify the same vulnerability as h's
// advisory: its ID, its aliases and, when it derives from exactly one
// upstream record (DEBIAN-CVE-x → CVE-x), that record.
func (h hit) names() []string {
	out := append([]string{h.adv.ID}, h.adv.Aliases...)
	if len(h.adv.Upstream) == 1 {
		out = append(out, h.adv.Upstream[0])
	}
	return out
}

// mergeAliases groups the hits of one package that name the same
// vulnerability (sharing an ID or alias, transitively).
func mergeAliases(hits []hit) [][]hit {
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, h := range hits {
		for _, n := range h.names() {
			if j, ok := owner[n]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[n] = i
			}
		}
	}
	groups := map[int][]hit{}
	var order []int
	for i, h := range hits {
		r := find(i)
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], h)
	}
	out := make([][]hit, 0, len(order))
	for _, r := range order {
		out = append(out, groups[r])
	}
	return absorbUmbrellas(out)
}

// absorbUmbrellas folds an advisory that covers several vulnerabilities
// (a DSA naming CVEs in "upstream") into the groups of those
// vulnerabilities when every one of them has its own finding, so the CVEs
// are reported once each and the DSA appears among their aliases.
func absorbUmbrellas(groups [][]hit) [][]hit {
	byName := map[string]int{}
	for i, g := range groups {
		for _, h := range g {
			for _, n := range h.names() {
				byName[n] = i
			}
		}
	}
	for i, g := range groups {
		if len(g) != 1 || len(g[0].adv.Upstream) < 2 {
			continue
		}
		var targets []int
		for _, up := range g[0].adv.Upstream {
			j, ok := byName[up]
			if !ok || j == i {
				targets = nil
				break
			}
			targets = append(targets, j)
		}
		if targets == nil {
			continue
		}
		for _, j := range targets {
			groups[j] = append(groups[j], g[0])
		}
		groups[i] = nil
	}
	final := make([][]hit, 0, len(groups))
	for _, g := range groups {
		if g != nil {
			final = append(final, g)
		}
	}
	return final
}

// preferredID picks the finding ID among a group's names: a CVE ID when
// there is one, else the first advisory's own ID.
func preferredID(group []hit) (string, []string) {
	seen := map[string]bool{}
	var all []string
	for _, h := range group {
		for _, n := range h.names() {
			if n != "" && !seen[n] {
				seen[n] = true
				all = append(all, n)
			}
		}
	}
	id := group[0].adv.ID
	var cves []string
	for _, n := range all {
		if strings.HasPrefix(n, "CVE-") {
			cves = append(cves, n)
		}
	}
	if len(cves) > 0 {
		sort.Strings(cves)
		id = cves[0]
	}
	var aliases []string
	for _, n := range all {
		if n != id {
			aliases = append(aliases, n)
		}
	}
	sort.Strings(aliases)
	return id, aliases
}

// toFinding turns one merged vulnerability of package p into a finding.
// keep is false when the options drop it (--ignore-unfixed).
func toFinding(p inventory.Package, q Query, group []hit, o Options) (finding.Finding, bool) {
	id, aliases := preferredID(group)
	sev := finding.SeverityUnknown
	fixed, unfixed := "", false
	title := ""
	var refs []string
	seenRef := map[string]bool{}
	// Prefer the title of the advisory named by the finding ID, then any.
	for _, h := range group {
		if h.adv.ID == id && h.adv.Summary != "" {
			title = h.adv.Summary
		}
	}
	for _, h := range group {
		if s := advisorySeverity(h.adv, h.af); s > sev {
			sev = s
		}
		if title == "" {
			title = h.adv.Summary
		}
		if h.fixed == "" {
			unfixed = true
		} else {
			fixed = higher(q.Ecosystem, fixed, h.fixed)
		}
		for _, r := range h.adv.References {
			if !seenRef[r.URL] {
				seenRef[r.URL] = true
				refs = append(refs, r.URL)
			}
		}
	}
	if unfixed {
		fixed = ""
	}
	if fixed == "" && o.IgnoreUnfixed {
		return finding.Finding{}, false
	}
	if title == "" {
		title = id
	}
	pkgDesc := p.Name + " " + p.Version
	if q.Name != p.Name || q.Version != p.Version {
		pkgDesc += fmt.Sprintf(" (source %s %s)", q.Name, q.Version)
	}
	msg := pkgDesc + " is affected by " + id
	fix := "no fix available"
	if fixed != "" {
		msg += "; fixed in " + fixed
		fix = fmt.Sprintf("upgrade %s to %s or later", p.Name, fixed)
		if q.Name != p.Name {
			fix = fmt.Sprintf("upgrade %s (source %s) to %s or later", p.Name, q.Name, fixed)
		}
	} else {
		msg += "; no fixed version yet"
	}
	loc := finding.Location{Path: p.Path, Layer: p.LayerDigest}
	if p.Layer >= 0 {
		loc.LayerIndex = finding.IntPtr(p.Layer)
	}
	if loc.LayerIndex != nil {
		msg += fmt.Sprintf(" (layer %d)", *loc.LayerIndex)
	}
	if mgr, name, ok := strings.Cut(p.ManagedBy, ":"); ok {
		// The distribution owns these files and may have backported
		// the fix without changing the upstream version.
		msg += fmt.Sprintf("; installed by the %s package %s, which may carry a backported fix under the same upstream version: check the distribution's advisory", mgr, name)
		upgrade := fmt.Sprintf("upgrade the %s package %s", mgr, name)
		if mgr == "deb" {
			upgrade += fmt.Sprintf(" (apt-get install --only-upgrade %s)", name)
		}
		if fixed != "" {
			upgrade += fmt.Sprintf(" to a release with %s %s or a backported fix", p.Name, fixed)
		}
		fix = upgrade + "; if the distribution fixed it without a new upstream version, record that with a VEX statement (--vex)"
	}
	return finding.Finding{
		Kind:     finding.KindVuln,
		ID:       id,
		Severity: sev,
		Title:    title,
		Message:  msg,
		Location: loc,
		Fix:      fix,
		Package: &finding.PackageRef{
			Name: p.Name, Version: p.Version, Ecosystem: q.Ecosystem, PURL: p.PURL,
			SourceName: p.SourceName, FixedVersion: fixed, ManagedBy: p.ManagedBy,
		},
		Aliases:    aliases,
		References: refs,
	}, true
}
