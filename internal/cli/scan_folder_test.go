package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/testimages"
)

// linkOrCopy places src at dst (a hard link when possible: the archives are
// large).
func linkOrCopy(t *testing.T, src, dst string) {
	t.Helper()
	if os.Link(src, dst) == nil {
		return
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestScanFolderWithBuiltImage: a build-context folder holding the
// Dockerfile and the image built from it gets both scanned in one report,
// with the image's findings traced to the folder's Dockerfile.
func TestScanFolderWithBuiltImage(t *testing.T) {
	dockerfile := testimages.Dockerfile(t, testimages.Leaky)
	archive := testimages.Path(t, testimages.Leaky, "docker")
	dir := isolate(t)
	ctxDir := filepath.Join(dir, "app")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), b, 0o644)
	os.WriteFile(filepath.Join(ctxDir, "secrets.txt"), []byte("not the real one\n"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, ".dockerignore"), []byte("*.tar\n"), 0o644)
	linkOrCopy(t, archive, filepath.Join(ctxDir, "leaky.tar"))

	rep := scanJSON(t, "--scanners", "misconfig,secret", "--no-cache", ctxDir)
	if rep.TargetKind != "dockerfile+image" {
		t.Fatalf("target kind %q, want dockerfile+image", rep.TargetKind)
	}
	if rep.Image == nil || rep.Image.Digest == "" {
		t.Errorf("report lacks the image info: %+v", rep.Image)
	}
	var lint, leak, env bool
	for _, f := range rep.Findings {
		l := f.Location
		switch {
		case f.ID == "KS-DF-001" && l.Path == "Dockerfile":
			lint = true // the Dockerfile itself was linted
		case f.ID == "KS-IM-005" && l.Path == "/etc/secrets.txt":
			leak = l.Dockerfile == "Dockerfile" && l.DockerfileLine == 7
		case f.ID == "KS-IM-002":
			env = l.Dockerfile == "Dockerfile" && l.DockerfileLine == 6
		}
	}
	if !lint || !leak || !env {
		t.Errorf("lint finding %v, leak traced to Dockerfile:7 %v, Env traced to Dockerfile:6 %v\n%s", lint, leak, env, findingKeys(rep))
	}

	// Two images: no guessing, a note says how to pick one.
	linkOrCopy(t, archive, filepath.Join(ctxDir, "other.tar"))
	rep = scanJSON(t, "--scanners", "misconfig,secret", "--no-cache", ctxDir)
	if rep.TargetKind != "dockerfile" || rep.Image != nil {
		t.Errorf("with two images: kind %q image %v, want a plain Dockerfile scan", rep.TargetKind, rep.Image)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "holds 2 images") {
		t.Errorf("notes %q lack the several-images hint", rep.Notes)
	}
}
