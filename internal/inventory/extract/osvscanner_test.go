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
// version, so that is what is compared for Debian; it lists a Go binary's
// main module built outside a proxy as "(devel)", which kensa names by the
// pseudo-version of its VCS stamp (as Syft does), so only its name is
// compared.
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
			devel := map[string]bool{}
			for _, r := range res.Results {
				for _, p := range r.Packages {
					eco, _, _ := strings.Cut(p.Package.Ecosystem, ":")
					if p.Package.Version == "(devel)" {
						devel[eco+" "+p.Package.Name] = true
					}
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
				v := p.Version
				if devel[p.Ecosystem+" "+n] && strings.HasPrefix(v, "0.0.0-") {
					v = "(devel)"
				}
				ours[p.Ecosystem+" "+n+" "+v] = true
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

// TestLockfilesAgreeWithOSVScanner parses every lockfile fixture with
// kensa and with `osv-scanner scan source -L` and compares the packages.
// Deliberate differences are listed with each fixture: local code (Bundler
// PATH gems, Cargo workspace members) is left out by kensa because a local
// crate or gem named like a published one would match its advisories;
// kensa reads only exact "==" pins from requirements files where
// osv-scanner takes the lower bound of ranges; kensa drops the "v" of
// Composer tag versions as Packagist advisories write them without it;
// osv-scanner's own misses and guesses are noted at their fixtures.
func TestLockfilesAgreeWithOSVScanner(t *testing.T) {
	bin := osvScanner(t)
	tests := []struct {
		fixture, name string
		kensaOnly     []string
		osvOnly       []string
	}{
		{"../npm/testdata/package-lock-v1.json", "package-lock.json", nil, nil},
		{"../npm/testdata/package-lock-v2.json", "package-lock.json", nil, nil},
		{"../npm/testdata/package-lock-v3.json", "package-lock.json", nil, nil},
		{"../npm/testdata/yarn-v1.lock", "yarn.lock", nil, nil},
		{"../npm/testdata/yarn-berry.lock", "yarn.lock", nil, nil},
		{"../npm/testdata/pnpm-v5.yaml", "pnpm-lock.yaml", nil, nil},
		{"../npm/testdata/pnpm-v6.yaml", "pnpm-lock.yaml", nil, nil},
		{"../npm/testdata/pnpm-v9.yaml", "pnpm-lock.yaml", nil, nil},
		{"../python/testdata/poetry.lock", "poetry.lock", nil, nil},
		{"../python/testdata/Pipfile.lock", "Pipfile.lock", nil, nil},
		// osv-scanner 2.2.4 drops the dotted name ruamel.yaml.clib (a
		// real PyPI project) from requirements files.
		{"../python/testdata/requirements.txt", "requirements.txt", []string{"PyPI ruamel-yaml-clib 0.2.8"}, []string{"PyPI flask 2.0"}},
		{"../ruby/testdata/Gemfile.lock", "Gemfile.lock", nil, []string{"RubyGems billing 0.1.0"}},
		{"../rust/testdata/Cargo.lock", "Cargo.lock", nil, []string{"crates.io hello 0.1.0"}},
		{"../php/testdata/composer.lock", "composer.lock", []string{"Packagist symfony/http-kernel 5.4.20"}, []string{"Packagist symfony/http-kernel v5.4.20"}},
		// osv-scanner guesses the toolchain from the go directive
		// ("go 1.22" → stdlib 1.22.99); the directive is only a minimum.
		{"../golang/testdata/go.mod", "go.mod", nil, []string{"Go stdlib 1.22.99"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.fixture), func(t *testing.T) {
			b, err := os.ReadFile(tt.fixture)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			file := filepath.Join(dir, tt.name)
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "scan", "source", "--offline", "--all-packages", "--format", "json", "-L", file)
			cmd.Env = append(os.Environ(), "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="+t.TempDir())
			out, runErr := cmd.Output()
			var res struct {
				Results []struct {
					Packages []struct {
						Package struct {
							Name, Version, Ecosystem string
						} `json:"package"`
					} `json:"packages"`
				} `json:"results"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("osv-scanner output: %v (run error %v)", err, runErr)
			}
			theirs := map[string]bool{}
			for _, r := range res.Results {
				for _, p := range r.Packages {
					theirs[p.Package.Ecosystem+" "+p.Package.Name+" "+p.Package.Version] = true
				}
			}
			ours := map[string]bool{}
			for _, e := range All(t.TempDir()) {
				p := "/src/" + tt.name
				if !e.Wants(p, 0o644) {
					continue
				}
				pkgs, err := e.Extract(p, b)
				if err != nil {
					t.Fatal(err)
				}
				for _, pk := range pkgs {
					ours[pk.Ecosystem+" "+pk.Name+" "+pk.Version] = true
				}
			}
			for _, k := range tt.kensaOnly {
				theirs[k] = true
			}
			for _, k := range tt.osvOnly {
				ours[k] = true
			}
			if len(theirs) == 0 {
				t.Fatal("osv-scanner listed nothing")
			}
			if got, want := keys(ours), keys(theirs); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("differs from osv-scanner (+ kensa only, - osv-scanner only):\n%s", diff(got, want))
			}
		})
	}
}
