package cli

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"github.com/kensa-sec/kensa/internal/testimages"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// vulnTestImage returns the docker-archive of a test image built by
// scripts/build-test-images.sh; a missing image fails the test.
func vulnTestImage(t *testing.T, name string) string {
	t.Helper()
	return testimages.Path(t, name, "docker")
}

// goAdvisoryZip returns the shared set of real Go advisories (4,291 OSV
// records) when it is on this machine, else a zip of the x/text fixture
// records in testdata.
func goAdvisoryZip(t *testing.T) string {
	t.Helper()
	const shared = "/work/shared/vulndata/osv/Go/all.zip"
	if _, err := os.Stat(shared); err == nil {
		return shared
	}
	zip := filepath.Join(t.TempDir(), "all.zip")
	vulnWriteZip(t, zip, "../vulndb/testdata/osv/Go")
	return zip
}

// vulnImportDB builds a vulnerability database from paths.
func vulnImportDB(t *testing.T, paths ...string) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "db", "kensa.db")
	if _, err := vulndb.Import(vulndb.ImportOptions{DBPath: db, Paths: paths}); err != nil {
		t.Fatalf("import %v: %v", paths, err)
	}
	return db
}

// vulnScanJSON runs `kensa scan --format json ARGS...` and decodes the report.
func vulnScanJSON(t *testing.T, args ...string) *finding.Report {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"scan", "--format", "json", "--quiet"}, args...), &out, &errb)
	if code != 0 {
		t.Fatalf("kensa scan %v: exit %d: %s", args, code, errb.String())
	}
	var rep finding.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out.String())
	}
	return &rep
}

func TestMatchVulnsNoDB(t *testing.T) {
	// --scanners vuln given explicitly: a missing database is an input error.
	o := &scanOptions{DBPath: filepath.Join(t.TempDir(), "none.db"), scannersSet: true}
	rep := finding.NewReport("x", "sbom")
	err := matchVulns(context.Background(), o, rep, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "run `kensa db update` or `kensa db import`") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := err.(*InputError); !ok {
		t.Errorf("err is %T, want *InputError (exit 2)", err)
	}

	// Default scanners: the scan goes on, and both the report and stderr
	// say that vulnerabilities were not scanned.
	o.scannersSet = false
	var stderr bytes.Buffer
	rep = finding.NewReport("x", "sbom")
	if err := matchVulns(context.Background(), o, rep, &stderr); err != nil {
		t.Fatalf("default scanners: err = %v, want a warning only", err)
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "vulnerabilities NOT scanned") {
		t.Errorf("notes = %q, want the not-scanned warning", rep.Notes)
	}
	if !strings.Contains(stderr.String(), "warning: vulnerabilities NOT scanned") {
		t.Errorf("stderr = %q, want the warning", stderr.String())
	}
}

func TestMatchVulnsReport(t *testing.T) {
	db := vulnImportDB(t, "../vulndb/testdata/osv/Go")
	vex := filepath.Join(t.TempDir(), "vex.json")
	os.WriteFile(vex, []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "t", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
	  "statements": [{"vulnerability": {"name": "GO-2021-0113"}, "products": [{"@id": "pkg:golang/golang.org/x/text"}],
	  "status": "not_affected", "justification": "vulnerable_code_not_present"}]}`), 0o644)
	rep := finding.NewReport("app.tar", "image")
	rep.Packages = []inventory.Package{{Name: "golang.org/x/text", Version: "v0.3.0", Ecosystem: "Go", Type: "golang",
		PURL: "pkg:golang/golang.org/x/text@v0.3.0", Path: "/app", Layer: 1, LayerDigest: "sha256:l1"}}
	built := time.Now()
	o := &scanOptions{DBPath: db, VEX: []string{vex}, now: func() time.Time { return built.Add(30 * 24 * time.Hour) }}
	if err := matchVulns(context.Background(), o, rep, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 3 || len(rep.Suppressed) != 1 {
		t.Fatalf("findings %d suppressed %d, want 3 + 1 (VEX)", len(rep.Findings), len(rep.Suppressed))
	}
	if s := rep.Suppressed[0]; s.ID != "CVE-2021-38561" || s.Suppressed.By != "vex" {
		t.Errorf("suppressed = %+v", s)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "vulnerability database is 30 days old") {
		t.Errorf("notes = %q, want the DB-age warning", rep.Notes)
	}
	// --ignore-unfixed keeps these (all fixed); a fresh clock gives no note.
	rep2 := finding.NewReport("app.tar", "image")
	rep2.Packages = rep.Packages
	o2 := &scanOptions{DBPath: db, IgnoreUnfixed: true}
	if err := matchVulns(context.Background(), o2, rep2, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if len(rep2.Findings) != 4 || len(rep2.Notes) != 0 {
		t.Errorf("findings %d notes %q", len(rep2.Findings), rep2.Notes)
	}
}

// readDpkgQuery reads debian-base.dpkg-query.txt: binary[:arch], version,
// source, source version.
func readDpkgQuery(t *testing.T, path string) map[string][2]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2]string{} // binary → source, source version
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) == 4 {
			bin, _, _ := strings.Cut(c[0], ":")
			out[bin] = [2]string{c[2], c[3]}
		}
	}
	return out
}

// TestScanDebianImageAgainstDpkg scans the debootstrap image with the
// Debian fixture records and checks the findings are exactly the (binary
// package, record) pairs for which `dpkg --compare-versions INSTALLED lt
// FIXED` says the installed source version is affected.
func TestScanDebianImageAgainstDpkg(t *testing.T) {
	img := vulnTestImage(t, "debian-base")
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Fatalf("dpkg is needed: %v", err)
	}
	recDir := "../vulndb/testdata/osv/Debian"
	db := vulnImportDB(t, recDir)
	rep := vulnScanJSON(t, "--scanners", "vuln", "--no-cache", "--db", db, img)

	pkgs := readDpkgQuery(t, strings.TrimSuffix(img, ".docker.tar")+".dpkg-query.txt")
	want := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(recDir, "*.json"))
	for _, file := range files {
		data, _ := os.ReadFile(file)
		a, err := vulndb.ParseRecord(file, data)
		if err != nil {
			t.Fatal(err)
		}
		src, fixed := a.Affected[0].Package.Name, a.Affected[0].Ranges[0].Events[1].Fixed
		for bin, s := range pkgs {
			if s[0] != src {
				continue
			}
			if exec.Command(dpkg, "--compare-versions", s[1], "lt", fixed).Run() == nil {
				want[bin+" "+a.ID] = true
			}
		}
	}
	got := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Kind != finding.KindVuln || f.Package == nil {
			continue
		}
		if f.Package.Ecosystem != "Debian:12" {
			t.Errorf("finding %s ecosystem %q, want Debian:12", f.ID, f.Package.Ecosystem)
		}
		if f.Location.LayerIndex == nil || f.Location.Layer == "" {
			t.Errorf("finding %s has no layer", f.ID)
		}
		for _, n := range append([]string{f.ID}, f.Aliases...) {
			if strings.HasPrefix(n, "DEBIAN-FIXTURE-") {
				got[f.Package.Name+" "+n] = true
			}
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing (dpkg says affected): %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("extra (dpkg says not affected): %s", k)
		}
	}
	t.Logf("%d findings; dpkg says %d (binary, record) pairs are affected", len(rep.Findings), len(want))
}

// osvScannerIDs runs osv-scanner on a docker archive with a local database
// holding zips (ecosystem → all.zip) and returns "package GO-ID" pairs of
// the Go ecosystem.
func osvScannerIDs(t *testing.T, archive string, zips map[string]string) map[string]bool {
	t.Helper()
	bin, err := exec.LookPath("osv-scanner")
	if err != nil {
		bin = filepath.Join(os.Getenv("HOME"), "go", "bin", "osv-scanner")
		if _, err := os.Stat(bin); err != nil {
			t.Skip("osv-scanner not installed (go install github.com/google/osv-scanner/v2/cmd/osv-scanner@latest)")
		}
	}
	cache := t.TempDir()
	for eco, zip := range zips {
		dir := filepath.Join(cache, "osv-scanner", eco)
		os.MkdirAll(dir, 0o755)
		data, err := os.ReadFile(zip)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "all.zip"), data, 0o644)
	}
	cmd := exec.Command(bin, "scan", "image", "--archive", "--offline-vulnerabilities", "--format", "json", archive)
	cmd.Env = append(os.Environ(), "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="+cache)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if err != nil && out.Len() == 0 { // exit 1 just means "vulnerabilities found"
		t.Fatalf("osv-scanner: %v\n%s", err, errb.String())
	}
	var res struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name, Version, Ecosystem string
				} `json:"package"`
				Vulnerabilities []struct {
					ID      string   `json:"id"`
					Aliases []string `json:"aliases"`
				} `json:"vulnerabilities"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("osv-scanner output: %v\n%s", err, out.String())
	}
	ids := map[string]bool{}
	for _, r := range res.Results {
		for _, p := range r.Packages {
			if p.Package.Ecosystem != "Go" && p.Package.Ecosystem != "PyPI" {
				continue
			}
			for _, v := range p.Vulnerabilities {
				ids[p.Package.Name+" "+v.ID] = true
			}
		}
	}
	return ids
}

// TestScanGoBinaryAgainstOSVScanner scans the gobin image (a Go binary
// pinning golang.org/x/text v0.3.0) and compares the Go findings with what
// osv-scanner reports offline from the same Go records.
func TestScanGoBinaryAgainstOSVScanner(t *testing.T) {
	img := vulnTestImage(t, "gobin")
	goZip := goAdvisoryZip(t)
	debZip := filepath.Join(t.TempDir(), "all.zip")
	vulnWriteZip(t, debZip, "../vulndb/testdata/osv/Debian")
	db := vulnImportDB(t, goZip)
	rep := vulnScanJSON(t, "--scanners", "vuln", "--no-cache", "--show-suppressed", "--db", db, img)
	got, unlinked := goAdvisories(rep.Findings), goAdvisories(rep.Suppressed)
	for _, id := range []string{"GO-2020-0015", "GO-2021-0113", "GO-2022-1059"} {
		if !got["golang.org/x/text "+id] {
			t.Errorf("x/text v0.3.0: missing %s", id)
		}
	}
	// GO-2026-5970 is in x/text/unicode/norm, which textdemo does not link:
	// suppressed, not dropped.
	if !unlinked["golang.org/x/text GO-2026-5970"] || len(unlinked) != 1 {
		t.Errorf("suppressed as not linked: %v, want GO-2026-5970 only", unlinked)
	}
	for _, f := range rep.Suppressed {
		if f.Suppressed == nil || f.Suppressed.By != "not-linked" {
			t.Errorf("%s suppressed by %+v", f.ID, f.Suppressed)
		}
	}
	// osv-scanner matches Go binaries by module: it reports both.
	all := map[string]bool{}
	for k := range got {
		all[k] = true
	}
	for k := range unlinked {
		all[k] = true
	}
	want := osvScannerIDs(t, img, map[string]string{"Go": goZip, "Debian": debZip})
	agreeWithOSVScanner(t, all, want)
	t.Logf("%d Go (package, advisory) pairs, %d of them suppressed as not linked; osv-scanner agrees", len(all), len(unlinked))
}

// TestScanPythonImageAgainstOSVScanner scans the python image (Debian's
// python3 packages) with the real PYSEC records of the packages it holds:
// every finding carries its fixed version and names the Debian package
// that installed the distribution, --ignore-unfixed keeps them, one
// distribution with two metadata forms (cryptography) is reported once per
// advisory, and the (package, advisory) pairs equal osv-scanner's offline
// on the same records.
func TestScanPythonImageAgainstOSVScanner(t *testing.T) {
	img := vulnTestImage(t, testimages.Python)
	pyZip := filepath.Join(t.TempDir(), "all.zip")
	vulnWriteZip(t, pyZip, "../vulndb/testdata/osv/PyPI")
	debZip := filepath.Join(t.TempDir(), "all.zip")
	vulnWriteZip(t, debZip, "../vulndb/testdata/osv/Debian")
	db := vulnImportDB(t, pyZip)
	got := map[string]bool{}
	for _, unfixed := range []bool{false, true} {
		args := []string{"--scanners", "vuln", "--no-cache", "--db", db}
		if unfixed {
			args = append(args, "--ignore-unfixed")
		}
		rep := vulnScanJSON(t, append(args, img)...)
		pairs := map[string]int{}
		for _, f := range rep.Findings {
			if f.Package == nil || f.Package.Ecosystem != "PyPI" {
				continue
			}
			if f.Package.FixedVersion == "" {
				t.Errorf("%s %s: no fixed version", f.Package.Name, f.ID)
			}
			// apt installed every distribution: the finding says which
			// Debian package owns it, as Debian may have backported the fix.
			if deb, ok := strings.CutPrefix(f.Package.ManagedBy, "deb:"); !ok || !strings.Contains(f.Message, "installed by the deb package "+deb) || !strings.Contains(f.Fix, "apt-get install --only-upgrade "+deb) {
				t.Errorf("%s %s: managed_by %q, message %q, fix %q: want the owning Debian package named", f.Package.Name, f.ID, f.Package.ManagedBy, f.Message, f.Fix)
			}
			for _, n := range append([]string{f.ID}, f.Aliases...) {
				if strings.HasPrefix(n, "PYSEC-") {
					pairs[f.Package.Name+" "+n]++
				}
			}
		}
		for k, n := range pairs {
			if n != 1 {
				t.Errorf("ignore-unfixed=%v: %s reported %d times", unfixed, k, n)
			}
			got[k] = true
		}
		if len(pairs) < 8 {
			t.Errorf("ignore-unfixed=%v: %d PyPI findings, want the 8 advisories osv-scanner reports", unfixed, len(pairs))
		}
	}
	want := osvScannerIDs(t, img, map[string]string{"PyPI": pyZip, "Debian": debZip})
	agreeWithOSVScanner(t, got, want)
	t.Logf("%d PyPI (package, advisory) pairs; osv-scanner agrees", len(got))
}

// agreeWithOSVScanner fails the test when kensa's (package, advisory)
// pairs differ from osv-scanner's, listing each side's extras.
func agreeWithOSVScanner(t *testing.T, got, want map[string]bool) {
	t.Helper()
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("kensa vs osv-scanner disagree:\n  only osv-scanner: %v\n  only kensa: %v", missing, extra)
	}
}

// vulnWriteZip packs the *.json files of dir into an OSV all.zip at path.
func vulnWriteZip(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(filepath.Base(file))
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// extractFile copies the file at name (no leading slash) out of a
// docker-archive's layers, the topmost layer winning.
func extractFile(t *testing.T, archive, name, dst string) {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.TrimPrefix(h.Name, "./") != name {
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o755); err != nil {
				t.Fatal(err)
			}
			found = true
		}
		rc.Close()
	}
	if !found {
		t.Fatalf("%s not in %s", name, archive)
	}
}

// writeGoVulnDB lays out the Go OSV records of zipPath the way govulncheck
// reads a local database (-db file://DIR): index/db.json,
// index/modules.json and ID/<id>.json.
func writeGoVulnDB(t *testing.T, zipPath, dir string) {
	t.Helper()
	type modVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Fixed    string    `json:"fixed,omitempty"`
	}
	mods := map[string][]modVuln{}
	var newest time.Time
	os.MkdirAll(filepath.Join(dir, "ID"), 0o755)
	os.MkdirAll(filepath.Join(dir, "index"), 0o755)
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		a, err := vulndb.ParseRecord(zf.Name, data)
		if err != nil {
			t.Fatal(err)
		}
		if a.Modified.After(newest) {
			newest = a.Modified
		}
		os.WriteFile(filepath.Join(dir, "ID", a.ID+".json"), data, 0o644)
		for _, af := range a.Affected {
			fixed := ""
			for _, r := range af.Ranges {
				for _, e := range r.Events {
					if e.Fixed != "" {
						fixed = e.Fixed // the latest fix: events are in order in golang/vulndb
					}
				}
			}
			mods[af.Package.Name] = append(mods[af.Package.Name], modVuln{ID: a.ID, Modified: a.Modified, Fixed: fixed})
		}
	}
	type modMeta struct {
		Path  string    `json:"path"`
		Vulns []modVuln `json:"vulns"`
	}
	var index []modMeta
	for p, v := range mods {
		index = append(index, modMeta{Path: p, Vulns: v})
	}
	sort.Slice(index, func(i, j int) bool { return index[i].Path < index[j].Path })
	data, _ := json.Marshal(index)
	os.WriteFile(filepath.Join(dir, "index", "modules.json"), data, 0o644)
	data, _ = json.Marshal(map[string]time.Time{"modified": newest})
	os.WriteFile(filepath.Join(dir, "index", "db.json"), data, 0o644)
}

// TestScanGoBinaryAgainstGovulncheck compares kensa's Go advisories for the
// gobin image's binary with `govulncheck -mode=binary` on the same binary,
// reading a local database laid out from the same OSV records.
func TestScanGoBinaryAgainstGovulncheck(t *testing.T) {
	img := vulnTestImage(t, "gobin")
	gvc, err := exec.LookPath("govulncheck")
	if err != nil {
		gvc = filepath.Join(os.Getenv("HOME"), "go", "bin", "govulncheck")
		if _, err := os.Stat(gvc); err != nil {
			t.Skip("govulncheck not installed (go install golang.org/x/vuln/cmd/govulncheck@latest)")
		}
	}
	goZip := goAdvisoryZip(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "textdemo")
	extractFile(t, img, "usr/local/bin/textdemo", bin)
	vdb := filepath.Join(dir, "vulndb")
	writeGoVulnDB(t, goZip, vdb)

	cmd := exec.Command(gvc, "-mode=binary", "-db", "file://"+vdb, "-format", "json", bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		t.Fatalf("govulncheck: %v\n%s", err, errb.String())
	}
	inBinary, moduleOnly := map[string]bool{}, map[string]bool{}
	dec := json.NewDecoder(&out)
	for {
		var msg struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Module  string `json:"module"`
					Package string `json:"package"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err != nil {
			if err != io.EOF {
				t.Fatalf("govulncheck output: %v", err)
			}
			break
		}
		if msg.Finding != nil && len(msg.Finding.Trace) > 0 {
			// govulncheck reports an advisory at module level (the
			// vulnerable package is not in the binary) and again at
			// package or symbol level when it is.
			k := msg.Finding.Trace[0].Module + " " + msg.Finding.OSV
			if msg.Finding.Trace[0].Package != "" {
				inBinary[k] = true
			}
			moduleOnly[k] = true
		}
	}
	for k := range inBinary {
		delete(moduleOnly, k)
	}
	db := vulnImportDB(t, goZip)
	rep := vulnScanJSON(t, "--scanners", "vuln", "--no-cache", "--show-suppressed", "--db", db, img)
	got, unlinked := goAdvisories(rep.Findings), goAdvisories(rep.Suppressed)
	if len(inBinary) == 0 {
		t.Fatalf("govulncheck found nothing; stderr:\n%s", errb.String())
	}
	compare := func(what string, kensa, gvc map[string]bool) {
		for k := range gvc {
			if !kensa[k] {
				t.Errorf("%s: only govulncheck: %s", what, k)
			}
		}
		for k := range kensa {
			if !gvc[k] {
				t.Errorf("%s: only kensa: %s", what, k)
			}
		}
	}
	compare("vulnerable package in the binary", got, inBinary)
	compare("module only (kensa: suppressed as not linked)", unlinked, moduleOnly)
	t.Logf("%d advisories with the package linked, %d module-only; govulncheck agrees", len(got), len(unlinked))
}

// goAdvisories returns "module GO-ID" for every Go advisory ID the findings
// carry (as ID or alias).
func goAdvisories(fs []finding.Finding) map[string]bool {
	got := map[string]bool{}
	for _, f := range fs {
		if f.Package == nil || f.Package.Ecosystem != "Go" {
			continue
		}
		for _, n := range append([]string{f.ID}, f.Aliases...) {
			if strings.HasPrefix(n, "GO-") {
				got[f.Package.Name+" "+n] = true
			}
		}
	}
	return got
}
