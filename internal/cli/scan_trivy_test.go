package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
)

// osvTestdata holds the bundled OSV records, resolved before isolate
// changes the working directory.
var osvTestdata, _ = filepath.Abs("../vulndb/testdata/osv")

// hasID reports whether fs holds a finding with this ID.
func hasID(fs []finding.Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

// TestMainTrivyIgnore: a .trivyignore is read when there is no
// .kensaignore (same line format, exp: dates included), and a .kensaignore
// wins over it.
func TestMainTrivyIgnore(t *testing.T) {
	dir := isolate(t)
	ctx := filepath.Join(dir, "app")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ctx, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n")
	base := scanJSON(t, "--scanners", "misconfig", ctx)
	if !hasID(base.Findings, "KS-DF-001") {
		t.Fatalf("fixture no longer fires KS-DF-001: %s", findingKeys(base))
	}
	write(".trivyignore", "# Trivy's format: one ID a line, optional expiry\nKS-DF-001\nCVE-2019-14697 exp:2099-01-01\n")
	rep := scanJSON(t, "--scanners", "misconfig", "--show-suppressed", ctx)
	if hasID(rep.Findings, "KS-DF-001") || !hasID(rep.Suppressed, "KS-DF-001") {
		t.Errorf(".trivyignore not applied: findings %s", findingKeys(rep))
	}
	write(".kensaignore", "KS-DF-002\n")
	rep = scanJSON(t, "--scanners", "misconfig", ctx)
	if !hasID(rep.Findings, "KS-DF-001") {
		t.Errorf(".trivyignore read although a .kensaignore exists: %s", findingKeys(rep))
	}
}

// TestMainTrivyTimeout: --timeout bounds a scan whose registry never
// answers, and the error names the limit; an archive scan given no time at
// all fails the same way rather than printing a partial report.
func TestMainTrivyTimeout(t *testing.T) {
	isolate(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	ref := strings.TrimPrefix(hang.URL, "http://") + "/app:1"
	start := time.Now()
	code, out, errOut := run(t, "scan", "--insecure", "--no-cache", "--timeout", "300ms", ref)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("--timeout 300ms scan took %s", took)
	}
	if code != ExitBadInput || out != "" || !strings.Contains(errOut, "did not finish within --timeout 300ms") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	img := vulnTestImage(t, "debian-base")
	code, out, errOut = run(t, "scan", "--no-cache", "--timeout", "1ns", img)
	if code != ExitBadInput || out != "" || !strings.Contains(errOut, "did not finish within --timeout 1ns") {
		t.Errorf("archive: exit %d, stdout %.80q, stderr %q", code, out, errOut)
	}
	for _, bad := range [][]string{{"--timeout", "-1s"}, {"--vuln-type", "os,kernel"}} {
		code, _, errOut = run(t, append(append([]string{"scan"}, bad...), img)...)
		if code != ExitBadInput || !strings.Contains(errOut, bad[0]) {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errOut)
		}
	}
}

// TestMainTrivyVulnTypeAndPackages: --vuln-type os / library matches only
// that class of packages (the report keeps every package and says so),
// --list-all-pkgs lists packages with the vuln scanner off, and
// --skip-db-update / --offline-scan are accepted without changing the
// result.
func TestMainTrivyVulnTypeAndPackages(t *testing.T) {
	isolate(t)
	img := vulnTestImage(t, "gobin")
	db := vulnImportDB(t, filepath.Join(osvTestdata, "Go"), filepath.Join(osvTestdata, "Debian"))
	eco := func(rep *finding.Report) map[string]int {
		n := map[string]int{}
		for _, f := range rep.Findings {
			if f.Package != nil {
				n[strings.Split(f.Package.Ecosystem, ":")[0]]++
			}
		}
		return n
	}
	all := vulnScanJSON(t, "--scanners", "vuln", "--no-cache", "--db", db, "--skip-db-update", "--offline-scan", img)
	both := eco(all)
	if both["Go"] == 0 || both["Debian"] == 0 {
		t.Fatalf("fixture needs Go and Debian findings, got %v", both)
	}
	osOnly := vulnScanJSON(t, "--scanners", "vuln", "--no-cache", "--db", db, "--vuln-type", "os", img)
	if got := eco(osOnly); got["Go"] != 0 || got["Debian"] != both["Debian"] {
		t.Errorf("--vuln-type os: %v (all: %v)", got, both)
	}
	lib := vulnScanJSON(t, "--scanners", "vuln", "--no-cache", "--db", db, "--vuln-type", "library", img)
	if got := eco(lib); got["Debian"] != 0 || got["Go"] != both["Go"] {
		t.Errorf("--vuln-type library: %v (all: %v)", got, both)
	}
	if len(lib.Packages) != len(all.Packages) || !strings.Contains(strings.Join(lib.Notes, "\n"), "only for --vuln-type library") {
		t.Errorf("--vuln-type library: %d packages (all %d), notes %q", len(lib.Packages), len(all.Packages), lib.Notes)
	}
	none := vulnScanJSON(t, "--scanners", "misconfig", "--no-cache", img)
	listed := vulnScanJSON(t, "--scanners", "misconfig", "--no-cache", "--list-all-pkgs", img)
	if len(none.Packages) != 0 || len(listed.Packages) != len(all.Packages) {
		t.Errorf("packages: misconfig only %d, with --list-all-pkgs %d, want 0 and %d", len(none.Packages), len(listed.Packages), len(all.Packages))
	}
}
