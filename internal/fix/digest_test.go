package fix

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestRegistryDigestIndex resolves a multi-platform tag from an in-process
// registry: the pin is the index digest (what `crane digest` prints), so
// the pinned base stays multi-platform.
func TestRegistryDigestIndex(t *testing.T) {
	m := newMirror(t)
	idx, err := random.Index(64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(m.host + "/library/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	got, err := (&Registry{}).Digest(context.Background(), ref.String())
	if err != nil || got != want.String() {
		t.Fatalf("Digest = %q, %v; want %s", got, err, want)
	}
	if _, err := (&Registry{}).Digest(context.Background(), m.host+"/library/absent:1"); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("missing tag: %v", err)
	}
	res, err := Fix(context.Background(), "Dockerfile", []byte("FROM "+ref.String()+"\nUSER 1\n"), Options{Resolver: &Registry{}})
	if err != nil || !strings.Contains(string(res.Fixed), "multi:1@"+want.String()+"\n") {
		t.Errorf("Fix: %v\n%s", err, res.Fixed)
	}
}

// TestArchivesOCITar resolves from an OCI archive (a tar of a layout)
// and refuses a docker-archive, which records no registry digest.
func TestArchivesOCITar(t *testing.T) {
	dir := t.TempDir()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "ghcr.io/acme/base:2"})); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "base.oci.tar")
	writeTar(t, filepath.Join(dir, "layout"), tarPath)
	a, err := OpenArchives([]string{tarPath})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if got, err := a.Digest(context.Background(), "ghcr.io/acme/base:2"); err != nil || got != want.String() {
		t.Errorf("Digest = %q, %v; want %s", got, err, want)
	}
	if _, err := a.Digest(context.Background(), "ghcr.io/acme/base:3"); err == nil {
		t.Error("unknown tag resolved")
	}
	docker := filepath.Join(dir, "docker.tar")
	tag, _ := name.NewTag("acme/base:2")
	if err := tarball.WriteToFile(docker, tag, img); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenArchives([]string{docker}); err == nil || !strings.Contains(err.Error(), "docker-archive") {
		t.Errorf("docker-archive: %v", err)
	}
}

func writeTar(t *testing.T, root, out string) {
	t.Helper()
	fh, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	tw := tar.NewWriter(fh)
	err = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
