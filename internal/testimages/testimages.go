// Package testimages locates the real container images that
// scripts/build-test-images.sh builds with buildah for kensa's tests.
//
// Each image is exported in three forms — a docker-archive (what `docker save`
// writes), an OCI archive and an OCI image layout folder — into the folder named
// by $KENSA_TEST_IMAGES, or <repo>/.cache/testimages by default. CI
// (scripts/test.sh) builds them before `go test`; on a workstation run
//
//	scripts/build-test-images.sh
//
// once (it is incremental: unchanged images are reused). A test that asks for a
// missing image fails with that instruction; it never skips, so a CI run that
// forgot to build the images cannot pass silently.
//
// Typical use:
//
//	archive := testimages.Path(t, testimages.Leaky, testimages.FormDocker)
//	dockerfile := testimages.Dockerfile(t, testimages.Leaky)
package testimages

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Names of the images that scripts/build-test-images.sh builds. Their
// Dockerfiles and build inputs live in testdata/images/<name>/.
const (
	// DebianBase is a debootstrap --variant=minbase bookworm root in one layer.
	// Its dpkg-query listing and rootfs tarball are kept next to it.
	DebianBase = "debian-base"
	// Leaky is FROM DebianBase with a secret copied and deleted in a later
	// layer, a credential in Env and an ARG token in history, a setuid file, a
	// world-writable folder, apt lists left behind and EXPOSE 22.
	Leaky = "leaky"
	// Gobin is FROM DebianBase plus a static Go binary whose module pins
	// golang.org/x/text v0.3.0 (at /usr/local/bin/textdemo).
	Gobin = "gobin"
	// NPM is FROM DebianBase plus a node_modules tree in /app installed by
	// `npm ci` from a lockfile pinning packages with known advisories.
	NPM = "npm"
	// Python is FROM DebianBase plus Debian's python3-urllib3, -requests,
	// -jinja2, -cryptography and -yaml installed by apt: dpkg-owned Python
	// distributions with both *.dist-info and *.egg-info metadata.
	Python = "python"
	// Java is FROM DebianBase plus Debian's libcommons-lang3-java, -text,
	// libjackson2-databind-java, libguava-java and liblog4j2-java installed
	// by apt without a JRE: jars in /usr/share/java, some with
	// pom.properties and some with a manifest only, linked from Debian's
	// Maven repository layout in /usr/share/maven-repo.
	Java = "java"
	// Kensa is kensa's own image, built from the repository's Dockerfile
	// (multi-stage onto FROM scratch, user 65532). It is not in Images: it
	// is built from the sources under test, not a fixture.
	Kensa = "kensa"
)

// Images lists every image name, base image first.
var Images = []string{DebianBase, Leaky, Gobin, NPM, Python, Java}

// Export forms accepted by Path.
const (
	// FormDocker is a docker-archive: <name>.docker.tar.
	FormDocker = "docker"
	// FormOCI is an OCI archive (a tar of an OCI layout): <name>.oci.tar.
	FormOCI = "oci"
	// FormLayout is an OCI image layout folder: <name>.oci/.
	FormLayout = "layout"
)

// Forms lists every export form.
var Forms = []string{FormDocker, FormOCI, FormLayout}

// Fake credentials planted in the Leaky image (random values, never issued).
// Tests use them to check that kensa finds each one and redacts it.
const (
	// LeakyEnvAWSAccessKeyID is set with ENV AWS_ACCESS_KEY_ID (config Env).
	LeakyEnvAWSAccessKeyID = "AKIAJGJ67TUIV5X5D2I7"
	// LeakyFileAWSAccessKeyID is in /etc/secrets.txt, added by COPY and deleted
	// by the next RUN.
	LeakyFileAWSAccessKeyID = "AKIABJOTNAYG65GCGZGR"
	// LeakyFileAWSSecretAccessKey is in /etc/secrets.txt next to the key ID.
	LeakyFileAWSSecretAccessKey = "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"
	// LeakyGitHubToken is the ARG GITHUB_TOKEN default; buildah records it in
	// the created_by of every later RUN step ("|1 GITHUB_TOKEN=... /bin/sh -c").
	LeakyGitHubToken = "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"
	// LeakySecretPath is the credential file copied in and deleted later.
	LeakySecretPath = "etc/secrets.txt"
)

// EnvDir is the environment variable that overrides the image folder.
const EnvDir = "KENSA_TEST_IMAGES"

// buildHint is appended to every "missing" failure.
const buildHint = "run scripts/build-test-images.sh (from the repository root) to build the test images"

// SharedCorpus returns the folder of the shared real-world corpus of kind
// ("dockerfiles", "compose", "dockerignore"), which is not part of the
// repository: the value of the environment variable env when set, else
// <repo>/../shared/corpus/<kind> when it exists, else
// /work/shared/corpus/<kind>. It only finds the folder; the caller decides
// what a missing one means.
func SharedCorpus(kind, env string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	if root, err := RepoRoot(); err == nil {
		d := filepath.Join(filepath.Dir(root), "shared", "corpus", kind)
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return filepath.Join("/work/shared/corpus", kind)
}

// RepoRoot returns the root of the kensa repository (the folder holding
// go.mod), found from this source file's location or, failing that, by walking
// up from the working directory.
func RepoRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if isKensaRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("testimages: kensa repository root (go.mod of github.com/kensa-sec/kensa) not found above %v", starts)
}

func isKensaRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module github.com/kensa-sec/kensa"
}

// Dir returns the folder holding the built images: $KENSA_TEST_IMAGES if set,
// else <repo>/.cache/testimages. It does not check that the folder exists.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache", "testimages"), nil
}

// FileName returns the base name of image's export in form ("leaky.docker.tar",
// "leaky.oci.tar", "leaky.oci"), or an error for an unknown form.
func FileName(image, form string) (string, error) {
	switch form {
	case FormDocker:
		return image + ".docker.tar", nil
	case FormOCI:
		return image + ".oci.tar", nil
	case FormLayout:
		return image + ".oci", nil
	}
	return "", fmt.Errorf("testimages: unknown form %q (want %q, %q or %q)", form, FormDocker, FormOCI, FormLayout)
}

// Path returns the path of image exported in form (FormDocker, FormOCI or
// FormLayout). It fails t if the name or form is unknown or the export is
// missing, telling the reader to run scripts/build-test-images.sh.
func Path(t testing.TB, image, form string) string {
	t.Helper()
	checkImage(t, image)
	name, err := FileName(image, form)
	if err != nil {
		t.Fatal(err)
	}
	p := file(t, name)
	if form == FormLayout {
		// A layout without index.json is a half-written export.
		mustExist(t, filepath.Join(p, "index.json"))
	}
	return p
}

// DpkgQueryPath returns the path of <image>.dpkg-query.txt: the output of
// `dpkg-query -W -f '${binary:Package}\t${Version}\t${source:Package}\t${source:Version}\n'`
// run (chrooted) inside the image's root filesystem. Only DebianBase has one.
func DpkgQueryPath(t testing.TB, image string) string {
	t.Helper()
	checkImage(t, image)
	return file(t, image+".dpkg-query.txt")
}

// RootfsTarball returns the path of <image>.rootfs.tar.gz, the gzipped tar of
// the debootstrap root filesystem the image was made from (useful for
// `kensa scan --rootfs` after unpacking, and as the truth for the layer walk).
// Only DebianBase has one.
func RootfsTarball(t testing.TB, image string) string {
	t.Helper()
	checkImage(t, image)
	return file(t, image+".rootfs.tar.gz")
}

// Dockerfile returns the path of testdata/images/<image>/Dockerfile (the
// repository's own Dockerfile for Kensa), for
// attributing image findings to Dockerfile lines (`--dockerfile`).
func Dockerfile(t testing.TB, image string) string {
	t.Helper()
	checkImage(t, image)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "testdata", "images", image, "Dockerfile")
	if image == Kensa {
		p = filepath.Join(root, "Dockerfile")
	}
	mustExist(t, p)
	return p
}

// DpkgPackage is one line of a dpkg-query listing.
type DpkgPackage struct {
	// Package is ${binary:Package}, with ":arch" for Multi-Arch: same packages.
	Package string
	// Version is the installed binary version.
	Version string
	// SourcePackage is ${source:Package} (the binary name when no Source field).
	SourcePackage string
	// SourceVersion is ${source:Version}.
	SourceVersion string
}

// DpkgPackages reads and parses image's dpkg-query listing (see DpkgQueryPath).
// It fails t on a missing file or a malformed line.
func DpkgPackages(t testing.TB, image string) []DpkgPackage {
	t.Helper()
	p := DpkgQueryPath(t, image)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := ParseDpkgQuery(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return pkgs
}

// ParseDpkgQuery parses dpkg-query -W output in the four tab-separated columns
// build-test-images.sh asks for. Every line must have four non-empty fields.
func ParseDpkgQuery(r io.Reader) ([]DpkgPackage, error) {
	sc := bufio.NewScanner(r)
	var pkgs []DpkgPackage
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: %d tab-separated fields, want 4: %q", n, len(f), line)
		}
		for i, v := range f {
			if v == "" {
				return nil, fmt.Errorf("line %d: field %d is empty: %q", n, i+1, line)
			}
		}
		pkgs = append(pkgs, DpkgPackage{Package: f[0], Version: f[1], SourcePackage: f[2], SourceVersion: f[3]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return pkgs, nil
}

func checkImage(t testing.TB, image string) {
	t.Helper()
	if image == Kensa {
		return
	}
	for _, n := range Images {
		if n == image {
			return
		}
	}
	t.Fatalf("testimages: unknown image %q (have %v)", image, Images)
}

func file(t testing.TB, name string) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	mustExist(t, p)
	return p
}

func mustExist(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		if os.IsNotExist(err) {
			t.Fatalf("test image file %s is missing: %s", p, buildHint)
		}
		t.Fatalf("test image file %s: %v", p, err)
	}
}
