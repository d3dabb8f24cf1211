package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestOwnImage scans kensa's own image (the repository's Dockerfile, built
// by scripts/build-test-images.sh with buildah) and its Dockerfile and
// build context: no finding above LOW, against the real Go advisories when
// the shared set is here. The binary in the image runs.
func TestOwnImage(t *testing.T) {
	img := testimages.Path(t, testimages.Kensa, testimages.FormDocker)
	dockerfile := testimages.Dockerfile(t, testimages.Kensa)
	goZip := goAdvisoryZip(t)
	db := vulnImportDB(t, goZip)

	rep := vulnScanJSON(t, "--no-cache", "--db", db, "--show-suppressed", "--dockerfile", dockerfile, img)
	assertAtMostLow(t, "image", rep)
	im, err := tarball.ImageFromPath(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := im.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if u := cfg.Config.User; u != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", u)
	}
	if hc := cfg.Config.Healthcheck; hc == nil || len(hc.Test) == 0 || hc.Test[0] != "NONE" {
		t.Errorf("healthcheck %+v, want the Dockerfile's HEALTHCHECK NONE (docker format)", hc)
	}
	mods := map[string]bool{}
	for _, p := range rep.Packages {
		if p.Path != "/usr/local/bin/kensa" || p.Type != "golang" {
			t.Errorf("package %s %s from %s: the image should hold kensa's binary only", p.Name, p.Version, p.Path)
		}
		mods[p.Name] = len(p.GoPackages) > 0
	}
	for _, m := range []string{"stdlib", "go.etcd.io/bbolt", "github.com/google/go-containerregistry"} {
		if !mods[m] {
			t.Errorf("module %s missing or without linked packages (have %d modules)", m, len(mods))
		}
	}
	for _, f := range rep.Findings {
		if f.ID == "KS-IM-010" {
			t.Errorf("shell or package manager in kensa's image: %s", f.Message)
		}
	}

	// The Dockerfile and its build context (the repository, with its
	// .dockerignore), linted on their own.
	rep = vulnScanJSON(t, filepath.Dir(dockerfile))
	assertAtMostLow(t, "Dockerfile", rep)

	// The binary the image ships runs and says which build it is.
	bin := filepath.Join(t.TempDir(), "kensa")
	extractFile(t, img, "usr/local/bin/kensa", bin)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "kensa ci" {
		t.Errorf("kensa version from the image: %q, %v", out, err)
	}
}

func assertAtMostLow(t *testing.T, what string, rep *finding.Report) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Severity != finding.SeverityLow && f.Severity != finding.SeverityInfo {
			t.Errorf("%s: %s %s %s: %s", what, f.Severity, f.ID, f.Location.Path, f.Message)
		}
	}
}
