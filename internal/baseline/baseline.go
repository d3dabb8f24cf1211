// Package baseline compares findings across scans by their stable
// fingerprint (finding.Fingerprint): --baseline hides and stops gating on
// the findings a previous report already had, and `kensa diff` lists what
// two scans added, removed and kept, and how their packages changed.
package baseline

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

// maxReport bounds what ReadReport reads.
const maxReport = 512 << 20

// ReadReport reads a kensa JSON report (kensa scan --format json).
func ReadReport(path string) (*finding.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReport+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxReport {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a kensa report", path, maxReport>>20)
	}
	var probe struct {
		SchemaVersion *int               `json:"schema_version"`
		Findings      *[]json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: not a kensa JSON report: %w", path, err)
	}
	if probe.SchemaVersion == nil || probe.Findings == nil {
		return nil, fmt.Errorf("%s: not a kensa JSON report (no schema_version or findings; write one with kensa scan --format json)", path)
	}
	if *probe.SchemaVersion > finding.SchemaVersion {
		return nil, fmt.Errorf("%s: report schema %d is newer than this kensa's (%d)", path, *probe.SchemaVersion, finding.SchemaVersion)
	}
	var rep finding.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: not a kensa JSON report: %w", path, err)
	}
	return &rep, nil
}

// Set is a multiset of fingerprints: a finding reported twice in the
// baseline covers two in the new scan.
type Set map[string]int

// Of returns the fingerprints of every finding in rep, suppressed ones
// included (a finding ignored then is known now).
func Of(rep *finding.Report) Set {
	s := Set{}
	for _, fs := range [][]finding.Finding{rep.Findings, rep.Suppressed} {
		for _, f := range fs {
			s[finding.Fingerprint(f)]++
		}
	}
	return s
}

// Apply moves the findings of rep that the baseline holds into
// rep.Suppressed (by "baseline", source the baseline's path), so only new
// ones are shown and gated. It returns how many it moved.
func (s Set) Apply(rep *finding.Report, source string) int {
	left := Set{}
	for k, v := range s {
		left[k] = v
	}
	return rep.SuppressWhere(func(f finding.Finding) *finding.Suppression {
		fp := finding.Fingerprint(f)
		if left[fp] == 0 {
			return nil
		}
		left[fp]--
		return &finding.Suppression{By: "baseline", Source: source, Reason: "already in the baseline report"}
	})
}

// Diff is what changed from one scan to the next.
type Diff struct {
	Old       string            `json:"old"`
	New       string            `json:"new"`
	Added     []finding.Finding `json:"added"`
	Removed   []finding.Finding `json:"removed"`
	Unchanged []finding.Finding `json:"unchanged"`
	Packages  []PackageChange   `json:"packages"`
	Summary   map[string]int    `json:"summary"`
}

// PackageChange is one package added, removed or changed in version,
// keyed by type, name and the file it was read from.
type PackageChange struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Path string `json:"path"`
	// From is "" for an added package, To "" for a removed one.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Compare diffs two reports' findings (not suppressed ones) by
// fingerprint, and their packages.
func Compare(old, new *finding.Report) *Diff {
	d := &Diff{Old: old.Target, New: new.Target, Added: []finding.Finding{}, Removed: []finding.Finding{}, Unchanged: []finding.Finding{}, Packages: []PackageChange{}}
	oldSet := Set{}
	for _, f := range old.Findings {
		oldSet[finding.Fingerprint(f)]++
	}
	newSet := Set{}
	for _, f := range new.Findings {
		fp := finding.Fingerprint(f)
		newSet[fp]++
		if oldSet[fp] > 0 {
			oldSet[fp]--
			d.Unchanged = append(d.Unchanged, f)
		} else {
			d.Added = append(d.Added, f)
		}
	}
	for _, f := range old.Findings {
		fp := finding.Fingerprint(f)
		if newSet[fp] > 0 {
			newSet[fp]--
			continue
		}
		d.Removed = append(d.Removed, f)
	}
	for _, fs := range [][]finding.Finding{d.Added, d.Removed, d.Unchanged} {
		finding.Sort(fs)
	}
	d.Packages = comparePackages(old.Packages, new.Packages)
	d.Summary = map[string]int{"added": len(d.Added), "removed": len(d.Removed), "unchanged": len(d.Unchanged), "packages_changed": len(d.Packages)}
	return d
}

func comparePackages(old, new []inventory.Package) []PackageChange {
	type key struct{ typ, name, path string }
	versions := func(ps []inventory.Package) map[key][]string {
		m := map[key][]string{}
		for _, p := range ps {
			k := key{p.Type, p.Name, p.Path}
			m[k] = append(m[k], p.Version)
		}
		return m
	}
	o, n := versions(old), versions(new)
	var out []PackageChange
	for k, ov := range o {
		nv, ok := n[k]
		switch {
		case !ok:
			for _, v := range ov {
				out = append(out, PackageChange{Type: k.typ, Name: k.name, Path: k.path, From: v})
			}
		case len(ov) == 1 && len(nv) == 1 && ov[0] != nv[0]:
			out = append(out, PackageChange{Type: k.typ, Name: k.name, Path: k.path, From: ov[0], To: nv[0]})
		}
	}
	for k, nv := range n {
		if _, ok := o[k]; !ok {
			for _, v := range nv {
				out = append(out, PackageChange{Type: k.typ, Name: k.name, Path: k.path, To: v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.From+a.To < b.From+b.To
	})
	return out
}
