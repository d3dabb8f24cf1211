package match

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/google/osv-scalibr/semantic"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// Source is the part of the vulnerability database the matcher reads;
// *vulndb.DB implements it.
type Source interface {
	Lookup(ecosystem, name string) ([]*vulndb.Advisory, error)
}

// Options tune matching.
type Options struct {
	// IgnoreUnfixed drops vulnerabilities that have no fixed version.
	IgnoreUnfixed bool
}

// Result is what Match found.
type Result struct {
	Findings []finding.Finding
	// Suppressed are findings on language packages an OS package
	// installed whose fix the distribution backported (its advisory for
	// the same vulnerability does not affect the installed OS package);
	// each carries the reason.
	Suppressed []finding.Finding
	// Notes are problems the user should know about (a version that does
	// not parse, OS packages with no known OS release), one per cause.
	Notes []string
}

// typeEcosystems maps purl types to OSV ecosystems for packages whose
// Ecosystem field is empty.
var typeEcosystems = map[string]string{
	"deb": "Debian", "apk": "Alpine", "npm": "npm", "pypi": "PyPI", "golang": "Go",
	"maven": "Maven", "gem": "RubyGems", "cargo": "crates.io", "composer": "Packagist", "nuget": "NuGet",
}

// osEcosystems are the ecosystems whose packages take the release from
// the image's OS; sourceKeyed ones are matched by source package (Wolfi and
// Chainguard are apk-based like Alpine but have release-less ecosystems).
var (
	osEcosystems = map[string]bool{"Debian": true, "Ubuntu": true, "Alpine": true, "Red Hat": true, "Rocky Linux": true, "AlmaLinux": true}
	sourceKeyed  = map[string]bool{"Debian": true, "Ubuntu": true, "Alpine": true, "Wolfi": true, "Chainguard": true}
)

// Query is the database key and version a package is matched by.
type Query struct {
	Ecosystem string // "Debian:12", "Go", "PyPI", ...
	Name      string // source package for Debian/Ubuntu/Alpine
	Version   string
}

// QueryFor returns how p is looked up, given the image's OS (nil when
// unknown). ok is false, with a reason, when p cannot be matched.
func QueryFor(p inventory.Package, osInfo *inventory.OS) (q Query, ok bool, reason string) {
	base := p.Ecosystem
	if base == "" {
		base = typeEcosystems[p.Type]
	}
	if base == "" {
		return q, false, fmt.Sprintf("packages of type %q are not matched against the vulnerability database", p.Type)
	}
	base, _, _ = strings.Cut(base, ":")
	q = Query{Ecosystem: base, Name: p.Name, Version: p.Version}
	if osEcosystems[base] {
		eco := ""
		if osInfo != nil {
			eco = osInfo.Ecosystem()
		}
		if eco == "" {
			eco = purlDistroEcosystem(p.PURL)
		}
		if eco == "" {
			if p.Ecosystem != base { // the extractor gave a release, e.g. "Debian:12"
				eco = p.Ecosystem
			} else {
				return q, false, fmt.Sprintf("%s packages not matched: the operating system release is unknown", base)
			}
		}
		q.Ecosystem = eco
	}
	if sourceKeyed[base] {
		if p.SourceName != "" {
			q.Name = p.SourceName
		}
		if p.SourceVersion != "" {
			q.Version = p.SourceVersion
		}
	}
	if q.Name == "" || q.Version == "" {
		return q, false, fmt.Sprintf("%s package without name or version skipped", base)
	}
	return q, true, ""
}

// hit is one advisory that affects a package.
type hit struct {
	adv   *vulndb.Advisory
	af    *vulndb.Affected
	fixed string // "" when some matching range has no fix
}

// Match looks up every package and returns one finding per vulnerability
// per package.
func Match(db Source, osInfo *inventory.OS, pkgs []inventory.Package, o Options) (*Result, error) {
	res := &Result{Findings: []finding.Finding{}}
	own := ownersOf(pkgs)
	noted := map[string]bool{}
	note := func(s string) {
		if !noted[s] {
			noted[s] = true
			res.Notes = append(res.Notes, s)
		}
	}
	for _, p := range pkgs {
		q, ok, why := QueryFor(p, osInfo)
		if !ok {
			note(why)
			continue
		}
		var advs []*vulndb.Advisory
		variants := ecosystemVariants(q.Ecosystem)
		for _, eco := range variants {
			found, err := db.Lookup(eco, q.Name)
			if err != nil {
				return nil, fmt.Errorf("look up %s %s: %w", eco, q.Name, err)
			}
			advs = append(advs, found...)
		}
		if len(advs) == 0 {
			continue
		}
		installed, err := parse(q.Ecosystem, q.Version)
		if err != nil {
			note(fmt.Sprintf("%s %s %s not matched: %v", q.Ecosystem, q.Name, q.Version, err))
			continue
		}
		var hits []hit
		for _, a := range advs {
			h, ok, err := evalAdvisory(a, q, variants, installed)
			if err != nil {
				note(fmt.Sprintf("advisory %s: %v", a.ID, err))
			}
			if ok {
				hits = append(hits, h)
			}
		}
		for _, group := range mergeAliases(hits) {
			f, keep := toFinding(p, q, group, o)
			if !keep {
				continue
			}
			if f, unlinked := notLinked(p, q, group, f); unlinked {
				res.Suppressed = append(res.Suppressed, f)
				continue
			}
			if p.ManagedBy != "" {
				f, fixed, err := backport(db, osInfo, own, p, f)
				if err != nil {
					return nil, err
				}
				if fixed {
					res.Suppressed = append(res.Suppressed, f)
					continue
				}
				res.Findings = append(res.Findings, f)
				continue
			}
			res.Findings = append(res.Findings, f)
		}
	}
	return res, nil
}

// evalAdvisory reports whether a affects the installed version, and the
// lowest version that leaves every matching range.
// variants are the database ecosystems q was looked up under
// (ecosystemVariants).
func evalAdvisory(a *vulndb.Advisory, q Query, variants []string, installed semantic.Version) (hit, bool, error) {
	h := hit{adv: a}
	affected, unfixed := false, false
	var firstErr error
	key := vulndb.NormalizeName(q.Ecosystem, q.Name)
	for i := range a.Affected {
		af := &a.Affected[i]
		if !slices.Contains(variants, af.Package.Ecosystem) || vulndb.NormalizeName(af.Package.Ecosystem, af.Package.Name) != key {
			continue
		}
		in, fix, err := evalAffected(q.Ecosystem, installed, af)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !in {
			continue
		}
		if !affected {
			h.af = af
		}
		affected = true
		if fix == "" {
			unfixed = true
			continue
		}
		h.fixed = higher(q.Ecosystem, h.fixed, fix)
	}
	if unfixed {
		h.fixed = ""
	}
	return h, affected, firstErr
}

// evalAffected evaluates one affected entry: explicit versions, then
// ECOSYSTEM and SEMVER ranges. fix is the lowest fixed version above the
// installed one that leaves every range that contains it ("" if none).
// Real records (PyPI's, GHSA's) often carry both an explicit versions list
// and ranges that say the same thing; the list only widens what is
// affected, it never takes away a fix the ranges give. A version that only
// the list names gets the lowest fixed event above it, and "no fix" when
// the entry has none.
func evalAffected(eco string, installed semantic.Version, af *vulndb.Affected) (bool, string, error) {
	listed := false
	var firstErr error
	for _, v := range af.Versions {
		if c, err := compareParsed(eco, installed, v); err == nil && c == 0 {
			listed = true
			break
		}
	}
	fix, unfixed := "", false
	inRange := false
	for _, r := range af.Ranges {
		if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
			continue
		}
		hit, f, err := evalRange(eco, installed, r.Events)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !hit {
			continue
		}
		inRange = true
		if f == "" {
			unfixed = true
			continue
		}
		fix = higher(eco, fix, f)
	}
	switch {
	case !listed && !inRange:
		return false, "", firstErr
	case !inRange:
		fix = lowestFixAbove(eco, installed, af.Ranges)
		unfixed = fix == ""
	}
	if unfixed {
		fix = ""
	}
	return true, fix, firstErr
}

// higher returns the higher of two versions, lower the lower; "" counts
// as absent, and a that does not compare with b is kept.
func higher(eco, a, b string) string { return pick(eco, a, b, 1) }

func lower(eco, a, b string) string { return pick(eco, a, b, -1) }

// pick returns b when a is absent or b compares to a as sign says.
func pick(eco, a, b string, sign int) string {
	if a == "" {
		return b
	}
	if c, err := Compare(eco, b, a); err == nil && c*sign > 0 {
		return b
	}
	return a
}

// lowestFixAbove returns the lowest fixed event of the ECOSYSTEM and
// SEMVER ranges that is above the installed version, or "".
func lowestFixAbove(eco string, installed semantic.Version, ranges []vulndb.Range) string {
	fix := ""
	for _, r := range ranges {
		if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed == "" {
				continue
			}
			if c, err := compareParsed(eco, installed, e.Fixed); err != nil || c >= 0 {
				continue
			}
			fix = lower(eco, fix, e.Fixed)
		}
	}
	return fix
}

// evalRange applies the OSV range algorithm: sort the events by version
// and walk them up to the installed version, introduced switching
// "affected" on, fixed (at or below) and last_affected (below) switching
// it off; a limit at or below the installed version excludes it.
func evalRange(eco string, installed semantic.Version, events []vulndb.Event) (bool, string, error) {
	type ev struct {
		vulndb.Event
		ver  string
		zero bool
		// cmp is installed compared with ver.
		cmp int
	}
	evs := make([]ev, 0, len(events))
	var firstErr error
	for _, e := range events {
		x := ev{Event: e}
		switch {
		case e.Introduced != "":
			x.ver = e.Introduced
		case e.Fixed != "":
			x.ver = e.Fixed
		case e.LastAffected != "":
			x.ver = e.LastAffected
		case e.Limit != "":
			x.ver = e.Limit
		default:
			continue
		}
		if e.Introduced == "0" {
			x.zero, x.cmp = true, 1
		} else if e.Limit == "*" {
			x.cmp = -1
		} else {
			c, err := compareParsed(eco, installed, x.ver)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			x.cmp = c
		}
		evs = append(evs, x)
	}
	// Order by version: an event with a smaller version has a larger
	// installed-vs-event comparison, so sort the events that are at or
	// below the installed version among themselves with real comparisons.
	var below []ev
	for _, e := range evs {
		if e.cmp >= 0 {
			below = append(below, e)
		}
	}
	sort.SliceStable(below, func(i, j int) bool {
		a, b := below[i], below[j]
		if a.zero != b.zero {
			return a.zero
		}
		if a.zero {
			return false
		}
		c, err := Compare(eco, a.ver, b.ver)
		if err != nil {
			return false
		}
		if c == 0 { // same version: introduced first, then fixed/last_affected
			return a.Introduced != "" && b.Introduced == ""
		}
		return c < 0
	})
	affected := false
	for _, e := range below {
		switch {
		case e.Introduced != "":
			affected = true
		case e.Fixed != "":
			affected = false
		case e.LastAffected != "":
			if e.cmp > 0 {
				affected = false
			}
		case e.Limit != "":
			return false, "", firstErr
		}
	}
	if !affected {
		return false, "", firstErr
	}
	// The fix is the lowest fixed event above the installed version.
	fix := ""
	for _, e := range evs {
		if e.Fixed == "" || e.cmp >= 0 {
			continue
		}
		fix = lower(eco, fix, e.ver)
	}
	return true, fix, firstErr
}

// redHatRepos are the repositories of a RHEL release whose packages
// container images carry (UBI and RHEL images install from BaseOS,
// AppStream and CodeReady Builder; RHEL 7 from "server"). OSV files Red Hat
// advisories per repository, named after the repository's CPE:
// "Red Hat:enterprise_linux:9::appstream". Extended-support streams
// ("Red Hat:rhel_eus:9.2::baseos") are not what an image of the release
// installs, so they are left out.
var redHatRepos = []string{"baseos", "appstream", "crb", "server"}

// ecosystemVariants lists the database ecosystems a package ecosystem is
// looked up under: OSV files Ubuntu LTS releases as "Ubuntu:22.04:LTS" and
// Red Hat releases per repository ("Red Hat:9" is looked up as
// "Red Hat:enterprise_linux:9::baseos", "...::appstream", ...).
func ecosystemVariants(eco string) []string {
	if strings.HasPrefix(eco, "Ubuntu:") && strings.Count(eco, ":") == 1 {
		return []string{eco, eco + ":LTS"}
	}
	if major, ok := strings.CutPrefix(eco, "Red Hat:"); ok && major != "" && !strings.Contains(major, ":") {
		out := []string{eco, "Red Hat:enterprise_linux:" + major}
		for _, r := range redHatRepos {
			out = append(out, "Red Hat:enterprise_linux:"+major+"::"+r)
		}
		return out
	}
	return []string{eco}
}

// debianCodenames maps Debian release codenames to versions, for purls
// whose distro qualifier names the codename ("distro=bookworm").
var debianCodenames = map[string]string{"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}

// purlDistroEcosystem reads the OS release from a purl's distro qualifier
// ("pkg:deb/debian/openssl@3.0.11-1?distro=debian-12", "distro=alpine-3.19.1",
// "distro=bookworm"), for packages from an SBOM with no scanned OS.
func purlDistroEcosystem(purl string) string {
	if purl == "" {
		return ""
	}
	pu, err := packageurl.FromString(purl)
	if err != nil {
		return ""
	}
	distro := strings.ToLower(pu.Qualifiers.Map()["distro"])
	if distro == "" {
		return ""
	}
	if v, ok := debianCodenames[distro]; ok {
		return inventory.OS{ID: "debian", VersionID: v}.Ecosystem()
	}
	i := strings.LastIndex(distro, "-")
	if i <= 0 {
		return ""
	}
	return inventory.OS{ID: distro[:i], VersionID: distro[i+1:]}.Ecosystem()
}
