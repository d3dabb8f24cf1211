package source

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

func randomImage(t *testing.T, layers int64, osArch string) v1.Image {
	t.Helper()
	img, err := random.Image(512, layers)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v1.ParsePlatform(osArch)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// walkAll reads every layer, checking digests and diff_ids.
func walkAll(t *testing.T, im *Image) (*layerfs.Result, error) {
	t.Helper()
	var blobs []layerfs.Blob
	for _, l := range im.Layers {
		blobs = append(blobs, layerfs.Blob{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, DigestVerified: l.DigestVerified, Open: l.Open})
	}
	return layerfs.Walk(context.Background(), blobs, layerfs.WalkOptions{})
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(nopLogger())))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	img := randomImage(t, 2, "linux/amd64")
	ref, _ := name.ParseReference(host + "/app:1.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	arm := randomImage(t, 1, "linux/arm64/v8")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	iref, _ := name.ParseReference(host + "/multi:latest")
	if err := remote.WriteIndex(iref, idx); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, target, platform, wantDigest, wantErr string
		layers                                      int
	}{
		{name: "by tag", target: host + "/app:1.0", wantDigest: digestOf(t, img), layers: 2},
		{name: "by digest", target: host + "/app@" + digestOf(t, img), wantDigest: digestOf(t, img), layers: 2},
		{name: "index, arm64", target: host + "/multi:latest", platform: "linux/arm64", wantDigest: digestOf(t, arm), layers: 1},
		{name: "index, amd64", target: host + "/multi:latest", platform: "linux/amd64", wantDigest: digestOf(t, img), layers: 2},
		{name: "index, missing platform", target: host + "/multi:latest", platform: "linux/s390x", wantErr: "available platforms: linux/amd64, linux/arm64/v8"},
		{name: "unknown tag", target: host + "/app:nope", wantErr: "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im, err := Open(context.Background(), c.target, Options{Platform: c.platform})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if im.Digest != c.wantDigest || len(im.Layers) != c.layers || im.Kind != KindRegistry {
				t.Errorf("digest %s layers %d kind %s", im.Digest, len(im.Layers), im.Kind)
			}
			if _, err := walkAll(t, im); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRegistryAuth(t *testing.T) {
	inner := registry.New(registry.Logger(nopLogger()))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "hunter2" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := randomImage(t, 1, "linux/amd64")
	ref, _ := name.ParseReference(host + "/private:1")
	if err := remote.Write(ref, img, remote.WithAuth(&basic{"ci", "hunter2"})); err != nil {
		t.Fatal(err)
	}

	writeDockerConfig := func(user, pass string) {
		dir := t.TempDir()
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", dir)
	}
	writeDockerConfig("ci", "hunter2")
	im, err := Open(context.Background(), host+"/private:1", Options{})
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	if _, err := walkAll(t, im); err != nil {
		t.Fatal(err)
	}
	im.Close()

	writeDockerConfig("ci", "wrong")
	_, err = Open(context.Background(), host+"/private:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Fatalf("wrong password: err = %v", err)
	}
}

type basic struct{ user, pass string }

func (b *basic) Authorization() (*authnConfig, error) {
	return &authnConfig{Username: b.user, Password: b.pass}, nil
}

// writeLayout writes images into an OCI layout with ref.name annotations.
func writeLayout(t *testing.T, dir string, imgs map[string]v1.Image) layout.Path {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for n, img := range imgs {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{annotRefName: n})); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// tarDir writes the folder dir as an uncompressed tar (an OCI archive).
func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))})
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	f.Close()
}

func TestArchivesAndLayouts(t *testing.T) {
	dir := t.TempDir()
	app := randomImage(t, 2, "linux/amd64")
	db := randomImage(t, 3, "linux/amd64")
	appTag, _ := name.NewTag("example.com/app:1")
	dbTag, _ := name.NewTag("db:2")

	single := filepath.Join(dir, "single.tar")
	if err := tarball.WriteToFile(single, appTag, app); err != nil {
		t.Fatal(err)
	}
	multi := filepath.Join(dir, "multi.tar")
	if err := tarball.MultiRefWriteToFile(multi, map[name.Reference]v1.Image{appTag: app, dbTag: db}); err != nil {
		t.Fatal(err)
	}
	lay := filepath.Join(dir, "layout")
	writeLayout(t, lay, map[string]v1.Image{"app": app})
	multiLay := filepath.Join(dir, "multilayout")
	writeLayout(t, multiLay, map[string]v1.Image{"app": app, "db": db})
	ociTar := filepath.Join(dir, "oci.tar")
	tarDir(t, lay, ociTar)

	// docker save | gzip
	gzTar := filepath.Join(dir, "single.tar.gz")
	{
		raw, _ := os.ReadFile(single)
		f, _ := os.Create(gzTar)
		zw := gzip.NewWriter(f)
		zw.Write(raw)
		zw.Close()
		f.Close()
	}
	// A layout whose index.json holds a multi-platform index.
	platLay := filepath.Join(dir, "platlayout")
	arm := randomImage(t, 1, "linux/arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: app, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	lp, err := layout.Write(platLay, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}

	cfgDigest := func(img v1.Image) string {
		h, _ := img.ConfigName()
		return h.String()
	}
	cases := []struct {
		name, target, image, platform, wantDigest, wantErr, plat string
		kind                                                     Kind
		layers                                                   int
	}{
		{name: "docker-archive", target: single, kind: KindDockerArchive, wantDigest: cfgDigest(app), layers: 2},
		{name: "multi-image archive needs --image", target: multi, wantErr: "pick one with --image NAME: "},
		{name: "multi-image archive lists names", target: multi, wantErr: "db:2"},
		{name: "multi-image archive --image", target: multi, image: "docker.io/library/db:2", kind: KindDockerArchive, wantDigest: cfgDigest(db), layers: 3},
		{name: "multi-image archive unknown --image", target: multi, image: "nope:1", wantErr: `no image named "nope:1"`},
		{name: "OCI layout", target: lay, kind: KindOCILayout, wantDigest: digestOf(t, app), layers: 2},
		{name: "OCI archive", target: ociTar, kind: KindOCIArchive, wantDigest: digestOf(t, app), layers: 2},
		{name: "multi-image layout --image", target: multiLay, image: "db", kind: KindOCILayout, wantDigest: digestOf(t, db), layers: 3},
		{name: "multi-image layout ambiguous", target: multiLay, wantErr: "pick one with --image"},
		{name: "gzip'd docker-archive", target: gzTar, kind: KindDockerArchive, wantDigest: cfgDigest(app), layers: 2},
		{name: "layout index, default platform", target: platLay, kind: KindOCILayout, wantDigest: digestOf(t, app), layers: 2},
		{name: "layout index, arm64", target: platLay, platform: "linux/arm64", kind: KindOCILayout, wantDigest: digestOf(t, arm), layers: 1, plat: "linux/arm64"},
		{name: "layout index, missing platform", target: platLay, platform: "linux/riscv64", wantErr: "available platforms: linux/amd64, linux/arm64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im, err := Open(context.Background(), c.target, Options{Image: c.image, Platform: c.platform})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if c.plat == "" {
				c.plat = "linux/amd64"
			}
			if im.Kind != c.kind || im.Digest != c.wantDigest || len(im.Layers) != c.layers || im.Platform != c.plat {
				t.Errorf("kind %s digest %s layers %d platform %s", im.Kind, im.Digest, len(im.Layers), im.Platform)
			}
			if _, err := walkAll(t, im); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	app := randomImage(t, 2, "linux/amd64")
	tag, _ := name.NewTag("app:1")
	good := filepath.Join(dir, "good.tar")
	if err := tarball.WriteToFile(good, tag, app); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	write := func(n string, b []byte) string {
		p := filepath.Join(dir, n)
		os.WriteFile(p, b, 0o644)
		return p
	}
	layerDigest := func(i int) v1.Hash {
		ls, _ := app.Layers()
		h, _ := ls[i].Digest()
		return h
	}

	// A layout whose manifest points at a missing layer blob.
	missing := filepath.Join(dir, "missing")
	writeLayout(t, missing, map[string]v1.Image{"app": app})
	os.Remove(filepath.Join(missing, "blobs", "sha256", layerDigest(1).Hex))
	// A layout whose layer blob was tampered with.
	tampered := filepath.Join(dir, "tampered")
	writeLayout(t, tampered, map[string]v1.Image{"app": app})
	os.WriteFile(filepath.Join(tampered, "blobs", "sha256", layerDigest(0).Hex), []byte("not the layer"), 0o644)
	// A layout with malformed index.json.
	badIndex := filepath.Join(dir, "badindex")
	writeLayout(t, badIndex, map[string]v1.Image{"app": app})
	os.WriteFile(filepath.Join(badIndex, "index.json"), []byte(`{"manifests": [`), 0o644)
	// A docker-archive whose manifest.json is malformed.
	badManifest := filepath.Join(dir, "badmanifest.tar")
	{
		f, _ := os.Create(badManifest)
		tw := tar.NewWriter(f)
		tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644})
		tw.Write([]byte("[{,}"))
		tw.Write([]byte(" "))
		tw.Close()
		f.Close()
	}
	// A docker-archive whose layer member is a symlink loop.
	loop := filepath.Join(dir, "loop.tar")
	{
		f, _ := os.Create(loop)
		tw := tar.NewWriter(f)
		m := `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a/layer.tar"]}]`
		cfg := `{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("0", 64) + `"]}}`
		for n, b := range map[string]string{"manifest.json": m, "c.json": cfg} {
			tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644})
			tw.Write([]byte(b))
		}
		tw.WriteHeader(&tar.Header{Name: "a/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../b/layer.tar"})
		tw.WriteHeader(&tar.Header{Name: "b/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../a/layer.tar"})
		tw.Close()
		f.Close()
	}
	notImage := filepath.Join(dir, "notimage.tar")
	{
		f, _ := os.Create(notImage)
		tw := tar.NewWriter(f)
		tw.WriteHeader(&tar.Header{Name: "hello.txt", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644})
		tw.Write([]byte("hi"))
		tw.Close()
		f.Close()
	}

	cases := []struct {
		name, target, wantOpen, wantWalk string
	}{
		{"truncated archive", write("trunc.tar", raw[:len(raw)/2]), "truncated", ""},
		{"random bytes", write("junk.tar", []byte(strings.Repeat("junk", 1000))), "not a valid tar", ""},
		{"empty file", write("empty.tar", nil), "empty or not a tar", ""},
		{"tar without image", notImage, "neither manifest.json", ""},
		{"malformed manifest.json", badManifest, "manifest.json is malformed", ""},
		{"missing blob", missing, "blob " + layerDigest(1).String() + " is missing", ""},
		{"malformed index.json", badIndex, "index.json is malformed", ""},
		{"tampered layer", tampered, "", "not its digest"},
		{"not an image folder", t.TempDir(), "no index.json", ""},
		{"symlink loop in archive", loop, "layer 0 (a/layer.tar) is missing", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im, err := Open(context.Background(), c.target, Options{})
			if c.wantOpen != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantOpen) {
					t.Fatalf("err = %v, want %q", err, c.wantOpen)
				}
				if !strings.Contains(err.Error(), c.target) {
					t.Errorf("error does not name the input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if _, err := walkAll(t, im); err == nil || !strings.Contains(err.Error(), c.wantWalk) {
				t.Fatalf("walk err = %v, want %q", err, c.wantWalk)
			}
		})
	}
}

func TestRootfs(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o644)
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "os-release"), []byte("ID=alpine\n"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "etc", "escape"))
	os.Symlink("loop", filepath.Join(dir, "loop"))
	os.Symlink(outside, filepath.Join(dir, "outdir"))

	im, err := OpenRootfs(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &contentRecorder{}
	res, err := layerfs.Walk(context.Background(), []layerfs.Blob{{Open: im.Layers[0].Open, DigestVerified: true}}, layerfs.WalkOptions{Analyzers: []layerfs.Analyzer{rec}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]layerfs.Entry{}
	for e := range res.Layers[0].Entries.All() {
		got[e.Path] = e
	}
	if got["/etc/os-release"].Type != layerfs.TypeFile || got["/etc/escape"].Type != layerfs.TypeSymlink || got["/loop"].Type != layerfs.TypeSymlink || got["/outdir"].Type != layerfs.TypeSymlink {
		t.Errorf("entries: %+v", got)
	}
	if _, ok := got["/outdir/secret"]; ok {
		t.Error("followed a symlink out of the rootfs")
	}
	for p, c := range rec.seen {
		if strings.Contains(c, "outside") {
			t.Errorf("read outside the rootfs through %s", p)
		}
	}
	if rec.seen["/etc/os-release"] != "ID=alpine\n" {
		t.Errorf("seen %v", rec.seen)
	}
	if _, err := OpenRootfs(filepath.Join(dir, "etc", "os-release")); err == nil {
		t.Error("a file accepted as rootfs")
	}
}

func TestRegistryInsecureTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(nopLogger())))
	srv.Config.ErrorLog = nopLogger() // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	host := strings.TrimPrefix(srv.URL, "https://")
	img := randomImage(t, 1, "linux/amd64")
	ref, _ := name.ParseReference(host + "/self-signed:1")
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), host+"/self-signed:1", Options{}); err == nil {
		t.Error("self-signed registry accepted without --insecure")
	}
	im, err := Open(context.Background(), host+"/self-signed:1", Options{Insecure: true})
	if err != nil {
		t.Fatalf("--insecure: %v", err)
	}
	defer im.Close()
	if _, err := walkAll(t, im); err != nil {
		t.Fatal(err)
	}
}
