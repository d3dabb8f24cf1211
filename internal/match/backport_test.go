package match

import (
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// TestBackportedFix: urllib3 1.26.12 installed by Debian's python3-urllib3
// is affected upstream (PYSEC, alias CVE-2023-43804). Debian's advisory
// for the same CVE on source python-urllib3 decides: fixed at or below
// the installed Debian version → suppressed with the advisory as reason;
// the Debian package still affected → kept, naming Debian's advisory; the
// same distribution installed by pip (no ManagedBy) → kept as is. The
// Debian records here are test fixtures in OSV form.
func TestBackportedFix(t *testing.T) {
	e := func(k, v string) map[string]any { return map[string]any{k: v} }
	rec := func(id, eco, name string, aliases []string, events ...map[string]any) map[string]any {
		ev := make([]any, len(events))
		for i, x := range events {
			ev[i] = x
		}
		return map[string]any{"id": id, "aliases": aliases, "affected": []any{map[string]any{
			"package": map[string]any{"ecosystem": eco, "name": name},
			"ranges":  []any{map[string]any{"type": "ECOSYSTEM", "events": ev}},
		}}}
	}
	db := buildDB(t, recordsDir(t,
		rec("PYSEC-2023-192", "PyPI", "urllib3", []string{"CVE-2023-43804", "GHSA-v845-jxx5-vc9f"}, e("introduced", "0"), e("fixed", "1.26.17")),
		rec("DEBIAN-CVE-2023-43804", "Debian:12", "python-urllib3", []string{"CVE-2023-43804"}, e("introduced", "0"), e("fixed", "1.26.12-1+deb12u1")),
		// Another CVE Debian has not fixed in bookworm, and upstream has.
		rec("PYSEC-2099-1", "PyPI", "urllib3", []string{"CVE-2099-0001"}, e("introduced", "0"), e("fixed", "2.0.0")),
		rec("DEBIAN-CVE-2099-0001", "Debian:12", "python-urllib3", []string{"CVE-2099-0001"}, e("introduced", "0")),
	))
	deb12 := &inventory.OS{ID: "debian", VersionID: "12"}
	pyPkg := func(managed string) inventory.Package {
		return inventory.Package{Name: "urllib3", Version: "1.26.12", Ecosystem: "PyPI", Type: "pypi", Layer: 1,
			Path: "/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO", ManagedBy: managed}
	}
	debPkg := func(version string) inventory.Package {
		return inventory.Package{Name: "python3-urllib3", Version: version, SourceName: "python-urllib3", SourceVersion: version,
			Ecosystem: "Debian", Type: "deb", Layer: 1, Path: "/var/lib/dpkg/status"}
	}
	tests := []struct {
		name       string
		pkgs       []inventory.Package
		kept       map[string]string // PyPI finding ID -> substring of its message
		suppressed []string
	}{
		{"debian fixed CVE-2023-43804", []inventory.Package{pyPkg("deb:python3-urllib3"), debPkg("1.26.12-1+deb12u4")},
			map[string]string{"PYSEC-2099-1": "deb's advisory DEBIAN-CVE-2099-0001 agrees"}, []string{"PYSEC-2023-192"}},
		{"debian package older than its fix", []inventory.Package{pyPkg("deb:python3-urllib3"), debPkg("1.26.12-1")},
			map[string]string{"PYSEC-2023-192": "DEBIAN-CVE-2023-43804 agrees (python3-urllib3 1.26.12-1: fixed in 1.26.12-1+deb12u1)", "PYSEC-2099-1": "agrees"}, nil},
		{"installed by pip", []inventory.Package{pyPkg(""), debPkg("1.26.12-1+deb12u4")},
			map[string]string{"PYSEC-2023-192": "fixed in 1.26.17", "PYSEC-2099-1": "fixed in 2.0.0"}, nil},
		{"owner not in the inventory", []inventory.Package{pyPkg("deb:python3-urllib3")},
			map[string]string{"PYSEC-2023-192": "installed by the deb package python3-urllib3", "PYSEC-2099-1": "installed by"}, nil},
	}
	for _, tc := range tests {
		res, err := Match(db, deb12, tc.pkgs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Findings are named by their preferred ID (the CVE); key them
		// by the PYSEC record among their names.
		pysec := func(ns []string) string {
			for _, n := range ns {
				if strings.HasPrefix(n, "PYSEC-") {
					return n
				}
			}
			return strings.Join(ns, ",")
		}
		got := map[string]string{}
		for _, f := range res.Findings {
			if f.Package.Ecosystem == "PyPI" {
				got[pysec(names(f))] = f.Message
			}
		}
		for id, sub := range tc.kept {
			if msg, ok := got[id]; !ok || !strings.Contains(msg, sub) {
				t.Errorf("%s: %s kept with message %q (present %v), want it to contain %q", tc.name, id, msg, ok, sub)
			}
		}
		if len(got) != len(tc.kept) {
			t.Errorf("%s: kept PyPI findings %v, want %v", tc.name, got, tc.kept)
		}
		var sup []string
		for _, f := range res.Suppressed {
			sup = append(sup, pysec(names(f)))
			if f.Suppressed == nil || f.Suppressed.By != "backport" || f.Suppressed.Source != "DEBIAN-CVE-2023-43804" || !strings.Contains(f.Suppressed.Reason, "python3-urllib3 1.26.12-1+deb12u4") {
				t.Errorf("%s: %s suppression %+v", tc.name, f.ID, f.Suppressed)
			}
		}
		if strings.Join(sup, ",") != strings.Join(tc.suppressed, ",") {
			t.Errorf("%s: suppressed %v, want %v", tc.name, sup, tc.suppressed)
		}
	}
}
