package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// layerOf builds an image layer from name → content ("" with a trailing
// "/" in the name makes a folder; a ".wh." name is a whiteout).
func layerOf(t testing.TB, files [][2]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f[1]))}
		if strings.HasSuffix(f[0], "/") {
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, f[1])
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage is a three-layer image: a base with os-release and passwd, a
// layer adding a 1 MiB file and a credential file, and a layer deleting both.
func testImage(t *testing.T) v1.Image {
	t.Helper()
	big := strings.Repeat("x", 1<<20)
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: layerOf(t, [][2]string{{"etc/", ""}, {"etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"}, {"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"}}), History: v1.History{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "}},
		mutate.Addendum{Layer: layerOf(t, [][2]string{{"opt/blob.bin", big}, {"root/.aws/credentials", "[default]\naws_access_key_id = AKIAJGJ67TUIV5X5D2I7\n"}}), History: v1.History{CreatedBy: "/bin/sh -c #(nop) COPY dir:def in / "}},
		mutate.Addendum{Layer: layerOf(t, [][2]string{{"opt/.wh.blob.bin", ""}, {"root/.aws/.wh.credentials", ""}}), History: v1.History{CreatedBy: "/bin/sh -c rm /opt/blob.bin /root/.aws/credentials"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func scanJSON(t *testing.T, args ...string) *finding.Report {
	t.Helper()
	code, stdout, stderr := run(t, append([]string{"scan", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("kensa %v: exit %d, stderr %s", args, code, stderr)
	}
	var rep finding.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout)
	}
	return &rep
}

func TestScanImageArchiveAndCache(t *testing.T) {
	dir := isolate(t)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "xdg"))
	archive := filepath.Join(dir, "app.tar")
	tag, _ := name.NewTag("app:1")
	img := testImage(t)
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	before := snapshot(t, dir)

	rep := scanJSON(t, "--scanners", "misconfig,secret", "--cache-dir", cache, archive)
	im := rep.Image
	if rep.TargetKind != "image" || im == nil || len(im.Layers) != 3 {
		t.Fatalf("report: %+v", rep)
	}
	cfgName, _ := img.ConfigName()
	if im.Digest != cfgName.String() || im.OS != "alpine 3.19.1" || im.Platform != "linux/amd64" {
		t.Errorf("digest %s os %q platform %q", im.Digest, im.OS, im.Platform)
	}
	credLen := int64(len("[default]\naws_access_key_id = AKIAJGJ67TUIV5X5D2I7\n"))
	if im.Layers[1].WastedBytes != 1<<20+credLen || im.WastedBytes != 1<<20+credLen {
		t.Errorf("waste: layer 1 %d, total %d", im.Layers[1].WastedBytes, im.WastedBytes)
	}
	if want := 1 - float64(im.WastedBytes)/float64(im.Size); im.Efficiency != want || im.Efficiency >= 0.5 {
		t.Errorf("efficiency %f, want %f", im.Efficiency, want)
	}
	for _, l := range im.Layers {
		if l.FromCache {
			t.Errorf("cold scan: layer %d from cache", l.Index)
		}
	}
	var deleted *finding.Finding
	for i, f := range rep.Findings {
		if f.ID == "KS-IM-005" {
			deleted = &rep.Findings[i]
		}
	}
	if deleted == nil || deleted.Location.Path != "/root/.aws/credentials" || deleted.Location.LayerIndex == nil || *deleted.Location.LayerIndex != 1 ||
		deleted.Location.Step != "/bin/sh -c #(nop) COPY dir:def in / " || len(deleted.Related) != 1 || *deleted.Related[0].LayerIndex != 2 {
		t.Errorf("KS-IM-005: %+v", deleted)
	}

	// Warm: every layer from the cache, same findings.
	warm := scanJSON(t, "--scanners", "misconfig,secret", "--cache-dir", cache, archive)
	for _, l := range warm.Image.Layers {
		if !l.FromCache {
			t.Errorf("warm scan: layer %d not from cache", l.Index)
		}
	}
	if a, b := findingKeys(rep), findingKeys(warm); a != b {
		t.Errorf("warm findings differ:\n%s\nvs\n%s", a, b)
	}
	// --no-cache reads the layers again.
	nc := scanJSON(t, "--scanners", "misconfig,secret", "--cache-dir", cache, "--no-cache", archive)
	if nc.Image.Layers[0].FromCache {
		t.Error("--no-cache used the cache")
	}
	// A small content cap is reported as skipped files.
	capped := scanJSON(t, "--scanners", "misconfig,secret", "--no-cache", "--max-file-size", "1000", archive)
	if len(capped.Notes) == 0 || !strings.Contains(strings.Join(capped.Notes, "\n"), "/opt/blob.bin (layer 1)") {
		t.Errorf("notes: %q", capped.Notes)
	}
	// Only the archive, the cache and nothing else changed under dir.
	after := snapshot(t, dir)
	for p := range after {
		if !before[p] && !strings.HasPrefix(p, "cache") {
			t.Errorf("scan wrote %s outside the cache dir", p)
		}
	}
}

func snapshot(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		out[rel] = true
		return nil
	})
	return out
}

// digestRE matches layer digests in messages: a docker-archive stores
// layers uncompressed, so its layer digests differ from the OCI forms'.
var digestRE = regexp.MustCompile(`sha256:[0-9a-f]{12,64}`)

// findingKeys renders what must not depend on the archive form: the
// rule, path, layer index, Dockerfile line and message (layer digests
// masked) of every finding.
func findingKeys(rep *finding.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		li := -1
		if f.Location.LayerIndex != nil {
			li = *f.Location.LayerIndex
		}
		fmt.Fprintf(&b, "%s %s layer=%d line=%d %s\n", f.ID, f.Location.Path, li, f.Location.DockerfileLine, digestRE.ReplaceAllString(f.Message, "sha256:…"))
	}
	return b.String()
}

func TestScanImageBadInput(t *testing.T) {
	dir := isolate(t)
	archive := filepath.Join(dir, "app.tar")
	tag, _ := name.NewTag("app:1")
	if err := tarball.WriteToFile(archive, tag, testImage(t)); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(archive)
	trunc := filepath.Join(dir, "trunc.tar")
	os.WriteFile(trunc, raw[:len(raw)-3000], 0o644)
	// Change one byte inside a layer's tar (recompressed, so gzip is
	// happy): the diff_id check fails.
	tampered := filepath.Join(dir, "tampered.tar")
	rewriteArchive(t, archive, tampered, func(name string, b []byte) []byte {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return b
		}
		plain, _ := io.ReadAll(zr)
		if i := bytes.Index(plain, []byte("aws_access_key_id")); i >= 0 {
			plain[i] = 'A'
		}
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		zw.Write(plain)
		zw.Close()
		return out.Bytes()
	})

	cases := []struct{ name, target, want string }{
		{"truncated", trunc, "truncated"},
		{"tampered layer", tampered, "layer 1 (sha256:"},
		{"unknown --image", archive, `no image named "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"scan", "--no-cache", "--scanners", "misconfig,secret", "--format", "json", c.target}
			if c.name == "unknown --image" {
				args = append(args, "--image", "nope")
			}
			code, _, stderr := run(t, args...)
			if code != ExitBadInput || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, c.target) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %s and %q", code, stderr, c.target, c.want)
			}
		})
	}
}

// rewriteArchive copies the tar at src to dst, passing each member's
// content through edit.
func rewriteArchive(t *testing.T, src, dst string, edit func(name string, b []byte) []byte) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		b = edit(h.Name, b)
		h.Size = int64(len(b))
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
}

func TestScanImageRegistryAndRootfs(t *testing.T) {
	dir := isolate(t)
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ref := strings.TrimPrefix(srv.URL, "http://") + "/team/app:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, testImage(t)); err != nil {
		t.Fatal(err)
	}
	rep := scanJSON(t, "--scanners", "misconfig,secret", "--cache-dir", filepath.Join(dir, "c"), ref)
	if rep.Image == nil || len(rep.Image.Layers) != 3 || !strings.HasPrefix(rep.Image.Digest, "sha256:") {
		t.Fatalf("registry scan: %+v", rep.Image)
	}
	if !strings.Contains(findingKeys(rep), "KS-IM-005 /root/.aws/credentials layer=1") {
		t.Errorf("findings:\n%s", findingKeys(rep))
	}

	rootfs := filepath.Join(dir, "rootfs")
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc", "os-release"), []byte("ID=alpine\nVERSION_ID=3.19.1\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc", "id_rsa"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)
	rr := scanJSON(t, "--scanners", "misconfig,secret", "--rootfs", rootfs)
	if rr.TargetKind != "rootfs" || rr.Target != rootfs || rr.Image == nil || rr.Image.OS != "alpine 3.19.1" {
		t.Errorf("rootfs report: kind %s target %s image %+v", rr.TargetKind, rr.Target, rr.Image)
	}
	if !strings.Contains(findingKeys(rr), "/etc/id_rsa") {
		t.Errorf("rootfs findings:\n%s", findingKeys(rr))
	}
}

// TestScanImageForms scans the real leaky image (built by
// scripts/build-test-images.sh) as docker-archive, OCI archive and OCI
// layout: the findings must be identical, and the leak of the practice
// notes must be found and traced to its Dockerfile lines.
func TestScanImageForms(t *testing.T) {
	dockerfile := testimages.Dockerfile(t, testimages.Leaky)
	var first string
	for _, form := range testimages.Forms {
		target := testimages.Path(t, testimages.Leaky, form)
		isolate(t)
		rep := scanJSON(t, "--scanners", "misconfig,secret", "--no-cache", "--dockerfile", dockerfile, target)
		keys := findingKeys(rep)
		if first == "" {
			first = keys
		} else if keys != first {
			t.Errorf("%s findings differ from docker-archive:\n%s\nvs\n%s", form, keys, first)
		}
		for _, want := range []string{
			"KS-IM-005 /etc/secrets.txt layer=1 line=7 ", // COPY secrets.txt, deleted by the next RUN
			"KS-SE-aws-access-key-id /etc/secrets.txt layer=1 line=7 ",
			"KS-IM-003  layer=2 line=8 ",   // ARG token in the RUN's history
			"KS-IM-002  layer=-1 line=6 ",  // AWS key in Env, set by ENV at line 6 (no layer)
			"KS-IM-011  layer=-1 line=13 ", // EXPOSE 22
			"KS-IM-006 /usr/local/bin/suid-helper layer=6 line=12 ",
		} {
			if !strings.Contains(keys, want) {
				t.Errorf("%s: no %q in\n%s", form, want, keys)
			}
		}
	}
}
