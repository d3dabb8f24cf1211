package testimages

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// exported is what one export form says about its image.
type exported struct {
	diffIDs   []string
	env       []string
	createdBy []string
}

// imageConfig is the part of an image config (docker and OCI alike) we check.
type imageConfig struct {
	Config struct {
		Env []string `json:"Env"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}

func (c *imageConfig) exported(where string) (exported, error) {
	if c.RootFS.Type != "layers" || len(c.RootFS.DiffIDs) == 0 {
		return exported{}, fmt.Errorf("%s: rootfs %q with %d diff_ids", where, c.RootFS.Type, len(c.RootFS.DiffIDs))
	}
	nonEmpty := 0
	e := exported{diffIDs: c.RootFS.DiffIDs, env: c.Config.Env}
	for _, h := range c.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
		e.createdBy = append(e.createdBy, h.CreatedBy)
	}
	if nonEmpty != len(c.RootFS.DiffIDs) {
		return exported{}, fmt.Errorf("%s: %d non-empty history entries for %d layers", where, nonEmpty, len(c.RootFS.DiffIDs))
	}
	return e, nil
}

// files is a read-only view of an archive or folder: names, sizes and the
// bytes of small files.
type files struct {
	size  map[string]int64
	small map[string][]byte
}

const smallLimit = 1 << 20

func readTar(p string) (*files, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fs := &files{size: map[string]int64{}, small: map[string][]byte{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		name := path.Clean(h.Name)
		fs.size[name] = h.Size
		if h.Typeflag == tar.TypeSymlink {
			fs.size[name] = -1 // docker-archive links layer.tar to the blob
		}
		if h.Typeflag == tar.TypeReg && h.Size <= smallLimit {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", p, name, err)
			}
			fs.small[name] = b
		}
	}
}

func readDir(dir string) (*files, error) {
	fs := &files{size: map[string]int64{}, small: map[string][]byte{}}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fs.size[rel] = info.Size()
		if info.Size() <= smallLimit {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fs.small[rel] = b
		}
		return nil
	})
	return fs, err
}

func (fs *files) json(name string, v any) error {
	b, ok := fs.small[name]
	if !ok {
		return fmt.Errorf("%s missing", name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// checkDocker validates a docker-archive: manifest.json names a config and
// layer files that are present, one per diff_id.
func checkDocker(fs *files) (exported, error) {
	var m []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := fs.json("manifest.json", &m); err != nil {
		return exported{}, err
	}
	if len(m) != 1 {
		return exported{}, fmt.Errorf("manifest.json: %d images, want 1", len(m))
	}
	var c imageConfig
	if err := fs.json(path.Clean(m[0].Config), &c); err != nil {
		return exported{}, fmt.Errorf("config: %w", err)
	}
	for _, l := range m[0].Layers {
		if sz, ok := fs.size[path.Clean(l)]; !ok || sz == 0 {
			return exported{}, fmt.Errorf("layer %s missing or empty", l)
		}
	}
	e, err := c.exported("docker config")
	if err == nil && len(e.diffIDs) != len(m[0].Layers) {
		err = fmt.Errorf("%d layers for %d diff_ids", len(m[0].Layers), len(e.diffIDs))
	}
	return e, err
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// blob checks that d's blob is present with d's size and returns its name.
func (fs *files) blob(d descriptor) (string, error) {
	alg, hex, ok := strings.Cut(d.Digest, ":")
	if !ok || alg != "sha256" || len(hex) != 64 {
		return "", fmt.Errorf("bad digest %q", d.Digest)
	}
	name := "blobs/sha256/" + hex
	sz, ok := fs.size[name]
	if !ok {
		return "", fmt.Errorf("blob %s missing", d.Digest)
	}
	if sz != d.Size {
		return "", fmt.Errorf("blob %s: size %d, descriptor says %d", d.Digest, sz, d.Size)
	}
	return name, nil
}

// checkOCI validates an OCI layout (archived or not): oci-layout, index.json
// with one manifest, whose config and layer blobs are present with the right
// sizes.
func checkOCI(fs *files) (exported, error) {
	var lay struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := fs.json("oci-layout", &lay); err != nil || lay.Version == "" {
		return exported{}, fmt.Errorf("oci-layout: %v (version %q)", err, lay.Version)
	}
	var idx struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := fs.json("index.json", &idx); err != nil {
		return exported{}, err
	}
	if len(idx.Manifests) != 1 {
		return exported{}, fmt.Errorf("index.json: %d manifests, want 1", len(idx.Manifests))
	}
	mname, err := fs.blob(idx.Manifests[0])
	if err != nil {
		return exported{}, fmt.Errorf("manifest: %w", err)
	}
	var m struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := fs.json(mname, &m); err != nil {
		return exported{}, err
	}
	cname, err := fs.blob(m.Config)
	if err != nil {
		return exported{}, fmt.Errorf("config: %w", err)
	}
	for _, l := range m.Layers {
		if _, err := fs.blob(l); err != nil {
			return exported{}, fmt.Errorf("layer: %w", err)
		}
	}
	var c imageConfig
	if err := fs.json(cname, &c); err != nil {
		return exported{}, err
	}
	e, err := c.exported("OCI config")
	if err == nil && len(e.diffIDs) != len(m.Layers) {
		err = fmt.Errorf("%d layers for %d diff_ids", len(m.Layers), len(e.diffIDs))
	}
	return e, err
}

func checkForm(p, form string) (exported, error) {
	var fs *files
	var err error
	if form == FormLayout {
		fs, err = readDir(p)
	} else {
		fs, err = readTar(p)
	}
	if err != nil {
		return exported{}, err
	}
	if form == FormDocker {
		return checkDocker(fs)
	}
	return checkOCI(fs)
}

// TestImagesBuilt checks that every image exists in all three forms, that each
// form is structurally valid, and that the forms agree on layers, Env and
// history. It fails (never skips) when scripts/build-test-images.sh has not run.
func TestImagesBuilt(t *testing.T) {
	for _, image := range Images {
		t.Run(image, func(t *testing.T) {
			var first exported
			for i, form := range Forms {
				p := Path(t, image, form)
				e, err := checkForm(p, form)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if i == 0 {
					first = e
					continue
				}
				if !reflect.DeepEqual(e, first) {
					t.Errorf("%s disagrees with %s form:\n got %+v\nwant %+v", p, Forms[0], e, first)
				}
			}
			if image != DebianBase && len(first.diffIDs) < 2 {
				t.Errorf("%s: %d layers, want the debian-base layer plus its own", image, len(first.diffIDs))
			}
		})
	}
}

// TestLeakyFixture checks that the leaky image carries the fake credentials the
// constants promise, where other packages' tests expect them.
func TestLeakyFixture(t *testing.T) {
	e, err := checkForm(Path(t, Leaky, FormDocker), FormDocker)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(e.env, "AWS_ACCESS_KEY_ID="+LeakyEnvAWSAccessKeyID) {
		t.Errorf("Env %q lacks AWS_ACCESS_KEY_ID=%s", e.env, LeakyEnvAWSAccessKeyID)
	}
	inHistory := 0
	for _, c := range e.createdBy {
		if strings.Contains(c, LeakyGitHubToken) {
			inHistory++
		}
	}
	if inHistory == 0 {
		t.Errorf("no history created_by contains the ARG token; history: %q", e.createdBy)
	}
	added, deleted, err := layerOf(Path(t, Leaky, FormDocker), LeakySecretPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: added in layer %d, whited out in layer %d", LeakySecretPath, added, deleted)
	if added < 1 || deleted != added+1 {
		t.Errorf("%s added in layer %d and whited out in layer %d; want a layer above the base, deleted by the next", LeakySecretPath, added, deleted)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := os.ReadFile(filepath.Join(root, "testdata", "images", Leaky, "secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{LeakyFileAWSAccessKeyID, LeakyFileAWSSecretAccessKey} {
		if !bytes.Contains(secrets, []byte(s)) {
			t.Errorf("secrets.txt lacks %s", s)
		}
	}
	df, err := os.ReadFile(Dockerfile(t, Leaky))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"COPY secrets.txt /" + LeakySecretPath, "RUN rm /" + LeakySecretPath, LeakyGitHubToken, LeakyEnvAWSAccessKeyID} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("leaky Dockerfile lacks %q", want)
		}
	}
}

// TestDebianBaseExtras checks the dpkg-query listing and the rootfs tarball.
func TestDebianBaseExtras(t *testing.T) {
	pkgs := DpkgPackages(t, DebianBase)
	seen := map[string]bool{}
	for _, p := range pkgs {
		if seen[p.Package] {
			t.Errorf("package %s listed twice", p.Package)
		}
		seen[p.Package] = true
	}
	for _, want := range []string{"base-files", "dpkg", "apt", "libc6"} {
		if !seen[want] && !seen[want+":amd64"] {
			t.Errorf("dpkg-query listing lacks %s (%d packages)", want, len(pkgs))
		}
	}
	if len(pkgs) < 50 {
		t.Errorf("%d packages, a minbase bookworm has about 90", len(pkgs))
	}
	b := make([]byte, 2)
	f, err := os.Open(RootfsTarball(t, DebianBase))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, b); err != nil || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("rootfs tarball is not gzip: % x, %v", b, err)
	}
}

// layerOf reads a docker-archive's layers in order and returns the index of
// the layer that adds file and of the layer holding its whiteout (-1 if none).
func layerOf(archive, file string) (added, deleted int, err error) {
	fs, err := readTar(archive)
	if err != nil {
		return -1, -1, err
	}
	var m []struct{ Layers []string }
	if err := fs.json("manifest.json", &m); err != nil || len(m) != 1 {
		return -1, -1, fmt.Errorf("%s: manifest.json: %v", archive, err)
	}
	index := map[string]int{}
	for i, l := range m[0].Layers {
		index[path.Clean(l)] = i
	}
	added, deleted = -1, -1
	whiteout := path.Join(path.Dir(file), ".wh."+path.Base(file))
	f, err := os.Open(archive)
	if err != nil {
		return -1, -1, err
	}
	defer f.Close()
	outer := tar.NewReader(f)
	for {
		h, err := outer.Next()
		if errors.Is(err, io.EOF) {
			return added, deleted, nil
		}
		if err != nil {
			return -1, -1, fmt.Errorf("%s: %w", archive, err)
		}
		i, ok := index[path.Clean(h.Name)]
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		inner := tar.NewReader(outer)
		for {
			lh, err := inner.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return -1, -1, fmt.Errorf("%s: layer %d: %w", archive, i, err)
			}
			switch path.Clean(strings.TrimPrefix(lh.Name, "./")) {
			case file:
				added = i
			case whiteout:
				deleted = i
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fatalRecorder is a testing.TB whose Fatal records the message and stops the
// goroutine, so tests can check how a helper fails.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func failureOf(t *testing.T, f func(tb testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

// TestMissingFails checks that a missing image fails with the build hint and
// that unknown names and forms are rejected.
func TestMissingFails(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	cases := []struct {
		name string
		call func(tb testing.TB)
		want string
	}{
		{"missing archive", func(tb testing.TB) { Path(tb, Leaky, FormDocker) }, "scripts/build-test-images.sh"},
		{"missing layout", func(tb testing.TB) { Path(tb, NPM, FormLayout) }, "scripts/build-test-images.sh"},
		{"missing dpkg-query", func(tb testing.TB) { DpkgQueryPath(tb, DebianBase) }, "debian-base.dpkg-query.txt is missing"},
		{"unknown form", func(tb testing.TB) { Path(tb, Leaky, "zip") }, `unknown form "zip"`},
		{"unknown image", func(tb testing.TB) { Path(tb, "alpine", FormOCI) }, `unknown image "alpine"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := failureOf(t, c.call)
			if !strings.Contains(msg, c.want) {
				t.Errorf("failure %q does not contain %q", msg, c.want)
			}
		})
	}
}

func TestParseDpkgQuery(t *testing.T) {
	cases := []struct {
		in      string
		want    []DpkgPackage
		wantErr string
	}{
		{in: "", want: nil},
		{
			in: "libc6:amd64\t2.36-9+deb12u10\tglibc\t2.36-9+deb12u10\nbash\t5.2.15-2+b7\tbash\t5.2.15-2\n",
			want: []DpkgPackage{
				{"libc6:amd64", "2.36-9+deb12u10", "glibc", "2.36-9+deb12u10"},
				{"bash", "5.2.15-2+b7", "bash", "5.2.15-2"},
			},
		},
		{in: "bash\t5.2\tbash\n", wantErr: "line 1: 3 tab-separated fields"},
		{in: "bash\t5.2\tbash\t5.2\n\n", wantErr: "line 2: 1 tab-separated fields"},
		{in: "bash\t\tbash\t5.2\n", wantErr: "line 1: field 2 is empty"},
		{in: strings.Repeat("x", 70000), wantErr: "line 1: bufio.Scanner: token too long"},
	}
	for _, c := range cases {
		got, err := ParseDpkgQuery(strings.NewReader(c.in))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseDpkgQuery(%.40q) error %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseDpkgQuery(%.40q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func FuzzParseDpkgQuery(f *testing.F) {
	f.Add([]byte("libc6:amd64\t2.36-9\tglibc\t2.36-9\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		pkgs, err := ParseDpkgQuery(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(pkgs) != bytes.Count(in, []byte("\n"))+1 && len(pkgs) != bytes.Count(in, []byte("\n")) {
			t.Fatalf("%d packages from %d newlines", len(pkgs), bytes.Count(in, []byte("\n")))
		}
		for _, p := range pkgs {
			for _, v := range []string{p.Package, p.Version, p.SourcePackage, p.SourceVersion} {
				if v == "" || strings.ContainsAny(v, "\t\n") {
					t.Fatalf("bad field %q in %+v", v, p)
				}
			}
		}
	})
}
