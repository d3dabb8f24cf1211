package extract

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/testimages"
)

// osvScanner finds the osv-scanner binary, or skips: the comparison is an
// optional extra for machines that have the tool.
func osvScanner(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("osv-scanner"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "osv-scanner")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("osv-scanner not installed: differential inventory check skipped")
	return ""
}

// TestAgreesWithOSVScanner compares the inventory of the test images with
// the packages osv-scanner (`scan image --archive --all-packages`) lists.
// osv-scanner names a Debian package by its source name with the binary
// version, so that is what is compared for Debian; it also lists a Go
// binary's "(devel)" main module, which kensa leaves out on purpose (no
// advisory can match it).
func TestAgreesWithOSVScanner(t *testing.T) {
	bin := osvScanner(t)
	for _, name := range []string{testimages.Gobin, testimages.NPM} {
		t.Run(name, func(t *testing.T) {
			archive := testimages.Path(t, name, testimages.FormDocker)
			cmd := exec.Command(bin, "scan", "image", "--archive", "--offline", "--all-packages", "--format", "json", archive)
			cmd.Env = append(os.Environ(), "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="+t.TempDir())
			out, err := cmd.Output() // exits non-zero without a local vulnerability DB
			var res struct {
				Results []struct {
					Packages []struct {
						Package struct {
							Name      string `json:"name"`
							Version   string `json:"version"`
							Ecosystem string `json:"ecosystem"`
						} `json:"package"`
					} `json:"packages"`
				} `json:"results"`
			}
			if jerr := json.Unmarshal(out, &res); jerr != nil {
				t.Fatalf("osv-scanner output: %v (run error %v)", jerr, err)
			}
			theirs := map[string]bool{}
			for _, r := range res.Results {
				for _, p := range r.Packages {
					if p.Package.Version == "(devel)" {
						continue
					}
					eco, _, _ := strings.Cut(p.Package.Ecosystem, ":")
					theirs[eco+" "+p.Package.Name+" "+p.Package.Version] = true
				}
			}
			pkgs, _, _ := scanImage(t, name)
			ours := map[string]bool{}
			for _, p := range pkgs {
				n := p.Name
				if p.Type == "deb" {
					n = p.SourceName
				}
				ours[p.Ecosystem+" "+n+" "+p.Version] = true
			}
			if got, want := keys(ours), keys(theirs); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("inventory differs from osv-scanner (+ kensa only, - osv-scanner only):\n%s", diff(got, want))
			}
			if len(theirs) < 60 {
				t.Errorf("osv-scanner listed only %d packages", len(theirs))
			}
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
