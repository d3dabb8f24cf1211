package baseimage

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

// Scanned is one base image scanned for Recommend: its name and the
// report of an inventory + vulnerability scan.
type Scanned struct {
	Ref    string
	Report *finding.Report
}

// Row is one candidate's line of the comparison.
type Row struct {
	Ref     string `json:"ref"`
	Current bool   `json:"current,omitempty"`
	// Vulns counts vulnerability findings by severity name; Total sums them.
	Vulns    map[string]int `json:"vulnerabilities"`
	Total    int            `json:"total"`
	Packages int            `json:"packages"`
	Size     int64          `json:"size"`
	OS       string         `json:"os,omitempty"`
	Libc     string         `json:"libc,omitempty"`
	// Removed and Added are OS packages the candidate lacks or adds
	// compared with the current base (empty without one).
	Removed []string `json:"removed,omitempty"`
	Added   []string `json:"added,omitempty"`
	// Compatible says whether the image's own layers would still apply
	// on the candidate; Why explains a "no" or a doubt.
	Compatible bool   `json:"compatible"`
	Why        string `json:"why,omitempty"`
}

// Recommend compares candidate bases with the current one (nil when it
// could not be scanned) and returns one row per image, best first: fewest
// critical, then high, medium, low vulnerabilities, then fewest in all,
// then smallest. The current base is in the list too, marked.
func Recommend(current *Scanned, candidates []*Scanned) []Row {
	var rows []Row
	var cur *Row
	if current != nil {
		r := row(current)
		r.Current, r.Compatible = true, true
		rows = append(rows, r)
		cur = &r
	}
	for _, c := range candidates {
		r := row(c)
		if cur != nil {
			r.Removed, r.Added = packageDiff(current.Report.Packages, c.Report.Packages)
			r.Compatible, r.Why = compatible(cur, &r)
		} else {
			r.Compatible, r.Why = true, "current base unknown: check that the image's own layers suit it"
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool { return better(rows[i], rows[j]) })
	return rows
}

var rankOrder = []finding.Severity{finding.SeverityCritical, finding.SeverityHigh, finding.SeverityMedium, finding.SeverityLow, finding.SeverityUnknown}

func better(a, b Row) bool {
	for _, s := range rankOrder {
		if x, y := a.Vulns[s.String()], b.Vulns[s.String()]; x != y {
			return x < y
		}
	}
	if a.Total != b.Total {
		return a.Total < b.Total
	}
	return a.Size < b.Size
}

func row(s *Scanned) Row {
	rep := s.Report
	r := Row{Ref: s.Ref, Vulns: map[string]int{}}
	for _, sev := range finding.AllSeverities() {
		r.Vulns[sev.String()] = 0
	}
	for _, f := range rep.Findings {
		if f.Kind == finding.KindVuln {
			r.Vulns[f.Severity.String()]++
			r.Total++
		}
	}
	r.Packages = len(rep.Packages)
	if rep.Image != nil {
		r.Size = rep.Image.Size
	}
	if rep.OS != nil {
		r.OS = strings.TrimSpace(rep.OS.ID + " " + rep.OS.VersionID)
	}
	r.Libc = Libc(rep.Packages)
	return r
}

// Libc names the C library an inventory's OS packages provide: "glibc"
// (Debian's libc6, rpm's glibc), "musl" (Alpine's musl), or "" when none
// is installed (scratch, distroless static).
func Libc(pkgs []inventory.Package) string {
	for _, p := range pkgs {
		switch {
		case p.Type == "deb" && (p.Name == "libc6" || p.Name == "libc6-amd64"), p.Type == "rpm" && p.Name == "glibc":
			return "glibc"
		case p.Type == "apk" && p.Name == "musl":
			return "musl"
		}
	}
	return ""
}

// packageDiff lists the OS package names in old but not in new, and the
// reverse.
func packageDiff(old, new []inventory.Package) (removed, added []string) {
	names := func(ps []inventory.Package) map[string]bool {
		m := map[string]bool{}
		for _, p := range ps {
			if p.IsOS() {
				m[p.Name] = true
			}
		}
		return m
	}
	o, n := names(old), names(new)
	for k := range o {
		if !n[k] {
			removed = append(removed, k)
		}
	}
	for k := range n {
		if !o[k] {
			added = append(added, k)
		}
	}
	sort.Strings(removed)
	sort.Strings(added)
	return removed, added
}

// compatible decides whether layers built on cur would work on c: the
// same C library and the same distribution family (same package
// manager), else why not.
func compatible(cur, c *Row) (bool, string) {
	cf, nf := distro(cur.OS), distro(c.OS)
	switch {
	case cur.Libc != "" && c.Libc != "" && cur.Libc != c.Libc:
		return false, fmt.Sprintf("%s instead of %s: rebuild the app's binaries and native modules", c.Libc, cur.Libc)
	case cur.Libc != "" && c.Libc == "":
		return false, "no C library: only static binaries run (rebuild with CGO_ENABLED=0 or equivalent)"
	case cf != "" && nf != "" && cf != nf:
		return false, fmt.Sprintf("%s instead of %s: the Dockerfile's package installs must be rewritten", nf, cf)
	case cur.OS != c.OS && cf == nf && cf != "":
		return true, fmt.Sprintf("OS release changes (%s → %s): rerun the app's tests", cur.OS, c.OS)
	}
	return true, ""
}

var osIDRe = regexp.MustCompile(`^[a-z]+`)

// distro maps an OS "ID VERSION" to its family.
func distro(os string) string {
	id := osIDRe.FindString(os)
	switch id {
	case "debian", "ubuntu":
		return "debian"
	case "alpine", "wolfi", "chainguard":
		return "alpine"
	case "rhel", "centos", "rocky", "almalinux", "fedora", "amzn", "ol":
		return "rhel"
	}
	return id
}

var majorRe = regexp.MustCompile(`^v?([0-9]+)`)

// MaxCandidates bounds the tags CandidateTags picks.
const MaxCandidates = 10

// CandidateTags picks, from a repository's tags, the candidates for a
// base tagged current: tags of the same major version (12, 12.8,
// 12-slim, 12.8-alpine, ...), the current tag itself left out, newest
// versions first, at most MaxCandidates. Without a major version in the
// current tag (latest, bookworm) it picks its slim/alpine/distroless
// variants.
func CandidateTags(current string, tags []string) []string {
	major := ""
	if m := majorRe.FindStringSubmatch(current); m != nil {
		major = m[1]
	}
	var out []string
	for _, t := range tags {
		if t == current {
			continue
		}
		if major != "" {
			m := majorRe.FindStringSubmatch(t)
			if m == nil || m[1] != major {
				continue
			}
		} else if !strings.HasPrefix(t, current+"-") || !variant(t) {
			continue
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool { return tagLess(out[j], out[i]) })
	if len(out) > MaxCandidates {
		out = out[:MaxCandidates]
	}
	return out
}

func variant(t string) bool {
	for _, v := range []string{"slim", "alpine", "distroless", "minimal", "static"} {
		if strings.Contains(t, v) {
			return true
		}
	}
	return false
}

var versionRe = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(.*)$`)

// tagLess orders tags oldest first: by their dotted version numerically
// (12.8 after 12.7; the bare 12 before its point releases), then a tag
// without suffix after its variants (12-slim before 12), then by suffix.
func tagLess(a, b string) bool {
	na, sa := splitTag(a)
	nb, sb := splitTag(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	if (sa == "") != (sb == "") {
		return sb == ""
	}
	return sa > sb
}

// splitTag splits "12.8-slim" into [12 8] and "-slim".
func splitTag(t string) ([]int, string) {
	m := versionRe.FindStringSubmatch(t)
	if m == nil {
		return nil, t
	}
	var nums []int
	for _, p := range strings.Split(m[1], ".") {
		n := 0
		for _, c := range p {
			if n < 1<<40 {
				n = n*10 + int(c-'0')
			}
		}
		nums = append(nums, n)
	}
	return nums, m[2]
}
