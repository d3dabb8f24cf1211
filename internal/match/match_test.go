package match

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// buildDB imports paths into a fresh database and opens it.
func buildDB(t *testing.T, paths ...string) *vulndb.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kensa.db")
	if _, err := vulndb.Import(vulndb.ImportOptions{DBPath: path, Paths: paths}); err != nil {
		t.Fatalf("import: %v", err)
	}
	db, err := vulndb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// recordsDir writes OSV records (as JSON) into a temporary folder.
func recordsDir(t *testing.T, recs ...map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range recs {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, r["id"].(string)+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func matchT(t *testing.T, db Source, osInfo *inventory.OS, o Options, pkgs ...inventory.Package) []finding.Finding {
	t.Helper()
	res, err := Match(db, osInfo, pkgs, o)
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	return res.Findings
}

// names returns every ID a finding carries (ID and aliases).
func names(f finding.Finding) []string { return append([]string{f.ID}, f.Aliases...) }

func TestGoXText(t *testing.T) {
	db := buildDB(t, "../vulndb/testdata/osv/Go")
	p := inventory.Package{Name: "golang.org/x/text", Version: "v0.3.0", Ecosystem: "Go", Type: "golang",
		PURL: "pkg:golang/golang.org/x/text@v0.3.0", Path: "/app/server", Layer: 2, LayerDigest: "sha256:abc"}
	fs := matchT(t, db, nil, Options{}, p)
	var goIDs []string
	for _, f := range fs {
		for _, n := range names(f) {
			if strings.HasPrefix(n, "GO-") {
				goIDs = append(goIDs, n)
			}
		}
	}
	sort.Strings(goIDs)
	if got, want := strings.Join(goIDs, " "), "GO-2020-0015 GO-2021-0113 GO-2022-1059 GO-2026-5970"; got != want {
		t.Fatalf("Go advisories = %s, want %s", got, want)
	}
	for _, f := range fs {
		if !strings.HasPrefix(f.ID, "CVE-") {
			t.Errorf("finding ID %s: want the CVE alias preferred", f.ID)
		}
		if f.Kind != finding.KindVuln || f.Package == nil || f.Package.FixedVersion == "" || f.Location.Path != "/app/server" ||
			f.Location.LayerIndex == nil || *f.Location.LayerIndex != 2 || f.Location.Layer != "sha256:abc" {
			t.Errorf("finding %s incomplete: %+v", f.ID, f)
		}
		if f.ID == "CVE-2020-14040" && (f.Package.FixedVersion != "0.3.3" || f.Fix != "upgrade golang.org/x/text to 0.3.3 or later") {
			t.Errorf("CVE-2020-14040 fix = %q / %q", f.Package.FixedVersion, f.Fix)
		}
	}
	// A fixed version is not affected.
	p.Version = "v0.39.0"
	if fs := matchT(t, db, nil, Options{}, p); len(fs) != 0 {
		t.Errorf("x/text v0.39.0: %d findings, want none", len(fs))
	}
}

// readTSV reads the debootstrap package list: binary, version, source,
// source version.
func readTSV(t *testing.T, path string) []inventory.Package {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []inventory.Package
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 4 {
			continue
		}
		out = append(out, inventory.Package{Name: c[0], Version: c[1], SourceName: c[2], SourceVersion: c[3],
			Ecosystem: "Debian", Type: "deb", Path: "/var/lib/dpkg/status", Layer: 0})
	}
	return out
}

// TestDebianAgainstDpkg checks kensa's Debian matching against Debian's own
// tool: a record must match exactly when `dpkg --compare-versions
// INSTALLED lt FIXED` says the installed source version is older.
func TestDebianAgainstDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Fatalf("dpkg is needed for this test (apt-get install dpkg): %v", err)
	}
	pkgs := readTSV(t, "testdata/debian-bookworm-minbase.tsv")
	if len(pkgs) < 50 {
		t.Fatalf("read %d packages from the tsv", len(pkgs))
	}
	recDir := "../vulndb/testdata/osv/Debian"
	db := buildDB(t, recDir)
	fs := matchT(t, db, &inventory.OS{ID: "debian", VersionID: "12"}, Options{}, pkgs...)

	srcVersion := map[string]string{}
	bins := map[string][]string{}
	for _, p := range pkgs {
		srcVersion[p.SourceName] = p.SourceVersion
		bins[p.SourceName] = append(bins[p.SourceName], p.Name)
	}
	want := map[string]bool{} // "binary record-id"
	files, _ := filepath.Glob(filepath.Join(recDir, "*.json"))
	for _, file := range files {
		data, _ := os.ReadFile(file)
		a, err := vulndb.ParseRecord(file, data)
		if err != nil {
			t.Fatal(err)
		}
		src := a.Affected[0].Package.Name
		fixed := a.Affected[0].Ranges[0].Events[1].Fixed
		inst, ok := srcVersion[src]
		if !ok {
			continue
		}
		if exec.Command(dpkg, "--compare-versions", inst, "lt", fixed).Run() == nil {
			for _, b := range bins[src] {
				want[b+" "+a.ID] = true
			}
		}
	}
	got := map[string]bool{}
	for _, f := range fs {
		for _, n := range names(f) {
			if strings.HasPrefix(n, "DEBIAN-FIXTURE-") {
				got[f.Package.Name+" "+n] = true
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("dpkg says no record applies; the fixture no longer exercises matching")
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing finding (dpkg says affected): %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("extra finding (dpkg says not affected): %s", k)
		}
	}
	t.Logf("%d findings for %d (binary, record) pairs", len(fs), len(want))
}

func TestAliasMergingAndSeverity(t *testing.T) {
	deb := func(id string, extra map[string]any, fixed string) map[string]any {
		r := map[string]any{"id": id, "summary": id + " summary",
			"affected": []any{map[string]any{"package": map[string]any{"ecosystem": "Debian:12", "name": "openssl"},
				"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": fixed}}}}}}}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	dir := recordsDir(t,
		deb("DSA-5000-1", map[string]any{"aliases": []string{"CVE-2026-0001"}}, "3.0.11-1~deb12u2"),
		deb("DEBIAN-CVE-2026-0001", map[string]any{"upstream": []string{"CVE-2026-0001"},
			"severity": []any{map[string]any{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}}, "3.0.11-1~deb12u3"),
		deb("GHSA-aaaa-bbbb-cccc", map[string]any{"aliases": []string{"CVE-2026-0001"}}, "3.0.11-1~deb12u1"),
		deb("DSA-5001-1", map[string]any{"database_specific": map[string]any{"severity": "MODERATE"}}, "3.0.11-1~deb12u2"),
		deb("DSA-5002-1", map[string]any{"withdrawn": "2026-01-01T00:00:00Z"}, "9.9"),
	)
	db := buildDB(t, dir)
	p := inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u1", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u1", Ecosystem: "Debian", Type: "deb", Layer: 0}
	fs := matchT(t, db, &inventory.OS{ID: "debian", VersionID: "12.5"}, Options{}, p)
	if len(fs) != 2 {
		t.Fatalf("got %d findings, want 2 (CVE-2026-0001 merged, DSA-5001-1): %+v", len(fs), fs)
	}
	byID := map[string]finding.Finding{}
	for _, f := range fs {
		byID[f.ID] = f
	}
	f, ok := byID["CVE-2026-0001"]
	if !ok {
		t.Fatalf("no CVE-2026-0001 finding: %v", fs)
	}
	if got := strings.Join(f.Aliases, ","); got != "DEBIAN-CVE-2026-0001,DSA-5000-1" {
		t.Errorf("aliases = %s (GHSA's fix is below the installed version, so it must not match)", got)
	}
	if f.Severity != finding.SeverityCritical {
		t.Errorf("severity = %s, want CRITICAL from the CVSS 9.8 vector", f.Severity)
	}
	if f.Package.FixedVersion != "3.0.11-1~deb12u3" {
		t.Errorf("fixed = %s, want the version resolving every merged record (deb12u3)", f.Package.FixedVersion)
	}
	if f.Package.Ecosystem != "Debian:12" || f.Package.SourceName != "openssl" {
		t.Errorf("package = %+v", f.Package)
	}
	if m := byID["DSA-5001-1"]; m.Severity != finding.SeverityMedium {
		t.Errorf("DSA-5001-1 severity = %s, want MEDIUM from the MODERATE rating", m.Severity)
	}
}

func TestRangesAndOptions(t *testing.T) {
	aff := func(eco, name string, ranges []any, versions []string) map[string]any {
		return map[string]any{"package": map[string]any{"ecosystem": eco, "name": name}, "ranges": ranges, "versions": versions}
	}
	rng := func(typ string, events ...map[string]any) map[string]any {
		ev := make([]any, len(events))
		for i, e := range events {
			ev[i] = e
		}
		return map[string]any{"type": typ, "events": ev}
	}
	e := func(k, v string) map[string]any { return map[string]any{k: v} }
	dir := recordsDir(t,
		// Two ranges, out of order events.
		map[string]any{"id": "PYSEC-1", "affected": []any{aff("PyPI", "Django", []any{
			rng("ECOSYSTEM", e("fixed", "3.2.5"), e("introduced", "3.2")),
			rng("ECOSYSTEM", e("introduced", "4.0"), e("fixed", "4.0.2")),
		}, nil)}},
		// last_affected with no fix.
		map[string]any{"id": "GHSA-last-aff", "severity": []any{map[string]any{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"}},
			"affected": []any{aff("npm", "left-pad", []any{rng("SEMVER", e("introduced", "1.0.0"), e("last_affected", "1.3.0"))}, nil)}},
		// Explicit versions list, GIT range ignored.
		map[string]any{"id": "RUSTSEC-1", "affected": []any{aff("crates.io", "smallvec", []any{rng("GIT", e("introduced", "0"), e("fixed", "abc"))}, []string{"0.6.9"})}},
		// Maven group:artifact.
		map[string]any{"id": "GHSA-maven", "affected": []any{aff("Maven", "com.fasterxml.jackson.core:jackson-databind", []any{rng("ECOSYSTEM", e("introduced", "2.9.0"), e("fixed", "2.9.10.8"))}, nil)}},
	)
	db := buildDB(t, dir)
	cases := []struct {
		p       inventory.Package
		want    string // finding ID or ""
		fixed   string
		o       Options
		sev     finding.Severity
		message string
	}{
		{p: inventory.Package{Name: "django", Version: "3.2.4", Ecosystem: "PyPI"}, want: "PYSEC-1", fixed: "3.2.5"},
		{p: inventory.Package{Name: "DJANGO", Version: "4.0.1", Ecosystem: "PyPI"}, want: "PYSEC-1", fixed: "4.0.2"},
		{p: inventory.Package{Name: "django", Version: "3.2.5", Ecosystem: "PyPI"}},
		{p: inventory.Package{Name: "django", Version: "3.1", Ecosystem: "PyPI"}},
		{p: inventory.Package{Name: "left-pad", Version: "1.3.0", Type: "npm"}, want: "GHSA-last-aff", sev: finding.SeverityMedium, message: "no fixed version yet"},
		{p: inventory.Package{Name: "left-pad", Version: "1.3.1", Type: "npm"}},
		{p: inventory.Package{Name: "left-pad", Version: "1.3.0", Type: "npm"}, o: Options{IgnoreUnfixed: true}},
		{p: inventory.Package{Name: "smallvec", Version: "0.6.9", Ecosystem: "crates.io"}, want: "RUSTSEC-1"},
		{p: inventory.Package{Name: "smallvec", Version: "0.6.10", Ecosystem: "crates.io"}},
		{p: inventory.Package{Name: "com.fasterxml.jackson.core:jackson-databind", Version: "2.9.10.7", Ecosystem: "Maven"}, want: "GHSA-maven", fixed: "2.9.10.8"},
		{p: inventory.Package{Name: "com.fasterxml.jackson.core:jackson-databind", Version: "2.12.1", Ecosystem: "Maven"}},
	}
	for _, c := range cases {
		c.p.Layer = -1
		fs := matchT(t, db, nil, c.o, c.p)
		if c.want == "" {
			if len(fs) != 0 {
				t.Errorf("%s %s: got %v, want no finding", c.p.Name, c.p.Version, fs)
			}
			continue
		}
		if len(fs) != 1 || fs[0].ID != c.want {
			t.Errorf("%s %s: got %+v, want %s", c.p.Name, c.p.Version, fs, c.want)
			continue
		}
		f := fs[0]
		if f.Package.FixedVersion != c.fixed {
			t.Errorf("%s %s: fixed = %q, want %q", c.p.Name, c.p.Version, f.Package.FixedVersion, c.fixed)
		}
		if c.sev != 0 && f.Severity != c.sev {
			t.Errorf("%s: severity %s, want %s", c.want, f.Severity, c.sev)
		}
		if c.message != "" && !strings.Contains(f.Message, c.message) {
			t.Errorf("%s: message %q lacks %q", c.want, f.Message, c.message)
		}
		if f.Location.LayerIndex != nil {
			t.Errorf("%s: layer index set for a package not from an image", c.want)
		}
	}
}

func TestAlpineSecDB(t *testing.T) {
	db := buildDB(t, "../vulndb/testdata/secdb/v3.11-main.yaml")
	p := inventory.Package{Name: "ansible", Version: "2.9.2-r0", SourceName: "ansible", Ecosystem: "Alpine", Type: "apk", Layer: 1}
	fs := matchT(t, db, &inventory.OS{ID: "alpine", VersionID: "3.11.6"}, Options{}, p)
	var got []string
	for _, f := range fs {
		got = append(got, f.ID+"@"+f.Package.FixedVersion)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "CVE-2019-14904@2.9.3-r0 CVE-2019-14905@2.9.3-r0" {
		t.Errorf("ansible 2.9.2-r0 findings = %v", got)
	}
}

func TestQueryNotes(t *testing.T) {
	db := buildDB(t, "../vulndb/testdata/osv/Go")
	res, err := Match(db, nil, []inventory.Package{
		{Name: "bash", Version: "5.2", Ecosystem: "Debian", Type: "deb"},
		{Name: "x", Version: "1", Type: "conda"},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 2 || !strings.Contains(res.Notes[0], "release is unknown") {
		t.Errorf("notes = %q", res.Notes)
	}
}

func TestUbuntuLTSVariant(t *testing.T) {
	dir := recordsDir(t, map[string]any{"id": "UBUNTU-CVE-2026-1", "upstream": []string{"CVE-2026-1"},
		"severity": []any{map[string]any{"type": "Ubuntu", "score": "high"}},
		"affected": []any{map[string]any{"package": map[string]any{"ecosystem": "Ubuntu:22.04:LTS", "name": "openssl"},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "3.0.2-0ubuntu1.15"}}}}}}})
	db := buildDB(t, dir)
	p := inventory.Package{Name: "libssl3", Version: "3.0.2-0ubuntu1.14", SourceName: "openssl", Ecosystem: "Ubuntu", Type: "deb", Layer: -1}
	fs := matchT(t, db, &inventory.OS{ID: "ubuntu", VersionID: "22.04"}, Options{}, p)
	if len(fs) != 1 || fs[0].ID != "CVE-2026-1" || fs[0].Severity != finding.SeverityHigh {
		t.Fatalf("findings = %+v, want CVE-2026-1 HIGH (from the Ubuntu priority)", fs)
	}
}

func TestPurlDistroEcosystem(t *testing.T) {
	for purl, want := range map[string]string{
		"pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12": "Debian:12",
		"pkg:deb/debian/openssl@3.0.11-1?distro=bookworm":             "Debian:12",
		"pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.19.1":           "Alpine:v3.19",
		"pkg:deb/ubuntu/openssl@3.0.2?distro=ubuntu-22.04":            "Ubuntu:22.04",
		"pkg:deb/debian/openssl@3.0.11-1":                             "",
		"not a purl":                                                  "",
	} {
		if got := purlDistroEcosystem(purl); got != want {
			t.Errorf("purlDistroEcosystem(%s) = %q, want %q", purl, got, want)
		}
	}
	// An SBOM package with no scanned OS is matched through its purl.
	db := buildDB(t, "../vulndb/testdata/osv/Debian")
	p := inventory.Package{Name: "perl-base", Version: "5.36.0-7+deb12u3", SourceName: "perl", Ecosystem: "Debian", Type: "deb",
		PURL: "pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u3?distro=debian-12", Layer: -1}
	if fs := matchT(t, db, nil, Options{}, p); len(fs) != 13 {
		t.Errorf("perl-base from an SBOM: %d findings, want 13", len(fs))
	}
}

// A DSA naming two CVEs folds into the two CVE findings when both have
// their own records; alone it stays a finding of its own.
func TestUmbrellaAdvisory(t *testing.T) {
	rec := func(id string, extra map[string]any, fixed string) map[string]any {
		r := map[string]any{"id": id, "affected": []any{map[string]any{"package": map[string]any{"ecosystem": "Debian:12", "name": "curl"},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": fixed}}}}}}}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	p := inventory.Package{Name: "libcurl4", Version: "7.88.1-10", SourceName: "curl", Ecosystem: "Debian", Type: "deb", Layer: -1}
	osInfo := &inventory.OS{ID: "debian", VersionID: "12"}
	db := buildDB(t, recordsDir(t,
		rec("DSA-6000-1", map[string]any{"upstream": []string{"CVE-2026-10", "CVE-2026-11"}}, "7.88.1-10+deb12u9"),
		rec("DEBIAN-CVE-2026-10", map[string]any{"upstream": []string{"CVE-2026-10"}}, "7.88.1-10+deb12u8"),
		rec("DEBIAN-CVE-2026-11", map[string]any{"upstream": []string{"CVE-2026-11"}}, "7.88.1-10+deb12u9"),
	))
	fs := matchT(t, db, osInfo, Options{}, p)
	var got []string
	for _, f := range fs {
		got = append(got, f.ID+"["+strings.Join(f.Aliases, ",")+"]@"+f.Package.FixedVersion)
	}
	sort.Strings(got)
	want := "CVE-2026-10[DEBIAN-CVE-2026-10,DSA-6000-1]@7.88.1-10+deb12u9 CVE-2026-11[DEBIAN-CVE-2026-11,DSA-6000-1]@7.88.1-10+deb12u9"
	if strings.Join(got, " ") != want {
		t.Errorf("findings = %v\nwant %s", got, want)
	}
	db = buildDB(t, recordsDir(t, rec("DSA-6000-1", map[string]any{"upstream": []string{"CVE-2026-10", "CVE-2026-11"}}, "7.88.1-10+deb12u9")))
	if fs := matchT(t, db, osInfo, Options{}, p); len(fs) != 1 || fs[0].ID != "DSA-6000-1" {
		t.Errorf("DSA alone: %+v", fs)
	}
}

// Wolfi and Chainguard advisories name the origin package (as Alpine's do)
// and carry no release; an Alpine advisory for the same name must not
// match their packages.
func TestWolfiChainguardByOrigin(t *testing.T) {
	rec := func(id, eco string) map[string]any {
		return map[string]any{"id": id, "affected": []any{map[string]any{"package": map[string]any{"ecosystem": eco, "name": "openssl"},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "3.3.2-r1"}}}}}}}
	}
	db := buildDB(t, recordsDir(t, rec("CGA-wolfi-1", "Wolfi"), rec("CGA-chainguard-1", "Chainguard"), rec("ALPINE-1", "Alpine:v3.20")))
	for _, c := range []struct{ os, eco, want string }{
		{"wolfi", "Wolfi", "CGA-wolfi-1"},
		{"chainguard", "Chainguard", "CGA-chainguard-1"},
	} {
		osInfo := &inventory.OS{ID: c.os, VersionID: "20230201"}
		vulnerable := inventory.Package{Name: "libcrypto3", Version: "3.3.2-r0", SourceName: "openssl", SourceVersion: "3.3.2-r0", Ecosystem: c.eco, Type: "apk", Layer: -1}
		fs := matchT(t, db, osInfo, Options{}, vulnerable)
		if len(fs) != 1 || fs[0].ID != c.want || fs[0].Package.FixedVersion != "3.3.2-r1" {
			t.Errorf("%s libcrypto3 3.3.2-r0: findings %+v, want only %s fixed in 3.3.2-r1", c.os, fs, c.want)
		}
		fixed := vulnerable
		fixed.Version, fixed.SourceVersion = "3.3.2-r1", "3.3.2-r1"
		if fs := matchT(t, db, osInfo, Options{}, fixed); len(fs) != 0 {
			t.Errorf("%s libcrypto3 3.3.2-r1 (fixed): findings %+v", c.os, fs)
		}
	}
}

// OSV files Red Hat advisories per repository of a release ("Red Hat:
// enterprise_linux:9::appstream", "...::baseos"), with epoch-qualified
// versions ("1:3.0.7-27.el9", "0:1.9.5p2-10.el9_6.1"); an image's os-release
// says only "rhel" "9.4". The records below have the shape of RHSA-2025:9978
// and an openssl RHSA as OSV exports them; EUS streams are not the image's.
func TestRedHatRepositoryEcosystems(t *testing.T) {
	rng := func(eco, name, fixed string) map[string]any {
		return map[string]any{"package": map[string]any{"ecosystem": eco, "name": name},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": fixed}}}}}
	}
	db := buildDB(t, recordsDir(t,
		map[string]any{"id": "RHSA-2025:9978", "upstream": []string{"CVE-2025-32462"}, "affected": []any{
			rng("Red Hat:enterprise_linux:9::appstream", "sudo", "0:1.9.5p2-10.el9_6.1"),
			rng("Red Hat:enterprise_linux:9::baseos", "sudo", "0:1.9.5p2-10.el9_6.1")}},
		map[string]any{"id": "RHSA-2024:1234", "affected": []any{
			rng("Red Hat:enterprise_linux:9::baseos", "openssl-libs", "1:3.0.7-27.el9")}},
		map[string]any{"id": "RHSA-2024:9999", "affected": []any{
			rng("Red Hat:rhel_eus:9.2::baseos", "openssl-libs", "1:3.0.7-99.el9_2")}},
		map[string]any{"id": "RHSA-2024:8888", "affected": []any{
			rng("Red Hat:enterprise_linux:8::baseos", "openssl-libs", "1:9.9.9-1.el8")}},
	))
	rhel := &inventory.OS{ID: "rhel", VersionID: "9.4"}
	rpm := func(name, version string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Ecosystem: "Red Hat", Type: "rpm", Layer: -1}
	}
	for _, c := range []struct {
		pkg  inventory.Package
		want string
	}{
		{rpm("sudo", "1.9.5p2-9.el9"), "CVE-2025-32462@0:1.9.5p2-10.el9_6.1"},
		{rpm("sudo", "1.9.5p2-10.el9_6.1"), ""},
		{rpm("openssl-libs", "1:3.0.7-25.el9"), "RHSA-2024:1234@1:3.0.7-27.el9"},
		// epoch 1 is newer than any epoch-0 version: fixed, and the EUS and
		// RHEL 8 records never apply to a RHEL 9 image.
		{rpm("openssl-libs", "1:3.0.7-28.el9"), ""},
	} {
		var got []string
		for _, f := range matchT(t, db, rhel, Options{}, c.pkg) {
			got = append(got, f.ID+"@"+f.Package.FixedVersion)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s %s on RHEL 9.4: findings %v, want %q", c.pkg.Name, c.pkg.Version, got, c.want)
		}
	}
}
