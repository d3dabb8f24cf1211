package extract

import (
	"compress/gzip"
	"context"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/inventory/npm"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/source"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestDebianMatchesDpkgQuery walks the debootstrap root filesystem of the
// debian-base test image and compares the dpkg inventory with what
// dpkg-query printed inside that root when the image was built: binary
// names and versions, source names and versions must be exactly equal.
func TestDebianMatchesDpkgQuery(t *testing.T) {
	tarball := testimages.RootfsTarball(t, testimages.DebianBase)
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	facts, err := layerfs.WalkTar(context.Background(), zr, 0, layerfs.WalkOptions{Analyzers: []layerfs.Analyzer{Analyzer(Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	pkgs, o := Resolve(layerfs.Merge([]*layerfs.LayerFacts{facts}))
	if o == nil || o.Ecosystem() != "Debian:12" {
		t.Fatalf("OS = %+v", o)
	}
	var got []string
	for _, p := range pkgs {
		if p.Type != "deb" {
			t.Errorf("unexpected %s package %s in a bare debootstrap root", p.Type, p.Name)
			continue
		}
		got = append(got, strings.Join([]string{p.Name, p.Version, p.SourceName, p.SourceVersion}, "\t"))
	}
	var want []string
	for _, d := range testimages.DpkgPackages(t, testimages.DebianBase) {
		name, _, _ := strings.Cut(d.Package, ":") // ${binary:Package} adds ":arch" for Multi-Arch: same
		want = append(want, strings.Join([]string{name, d.Version, d.SourcePackage, d.SourceVersion}, "\t"))
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dpkg inventory differs from dpkg-query (%d vs %d packages):\n%s", len(got), len(want), diff(got, want))
	}
	if len(want) < 50 {
		t.Errorf("only %d packages in the dpkg-query listing", len(want))
	}
}

func diff(got, want []string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	var b strings.Builder
	for _, s := range got {
		if !w[s] {
			b.WriteString("+ " + s + "\n")
		}
	}
	for _, s := range want {
		if !g[s] {
			b.WriteString("- " + s + "\n")
		}
	}
	return b.String()
}

// scanImage opens a test image archive and resolves its inventory the way
// `kensa scan` does: one walk of every layer, merge, Resolve.
func scanImage(t *testing.T, name string) ([]inventory.Package, *inventory.OS, *layerfs.Image) {
	t.Helper()
	img, err := source.Open(context.Background(), testimages.Path(t, name, testimages.FormDocker), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var blobs []layerfs.Blob
	for _, l := range img.Layers {
		blobs = append(blobs, layerfs.Blob{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, DigestVerified: l.DigestVerified, Open: l.Open})
	}
	res, err := layerfs.Walk(context.Background(), blobs, layerfs.WalkOptions{Analyzers: []layerfs.Analyzer{Analyzer(Options{TempDir: t.TempDir()})}})
	if err != nil {
		t.Fatal(err)
	}
	merged := layerfs.Merge(res.Layers)
	pkgs, o := Resolve(merged)
	return pkgs, o, merged
}

// TestGobinImage: the Go binary's modules come from the layer that added
// the binary; the Debian packages stay attributed to the base layer.
func TestGobinImage(t *testing.T) {
	pkgs, o, img := scanImage(t, testimages.Gobin)
	if o == nil || o.Ecosystem() != "Debian:12" {
		t.Fatalf("OS = %+v", o)
	}
	last := len(img.Layers) - 1
	var text, stdlib *inventory.Package
	debs := 0
	for i, p := range pkgs {
		switch {
		case p.Type == "deb":
			debs++
			if p.Layer != 0 || p.LayerDigest != img.Layers[0].Digest {
				t.Errorf("%s attributed to layer %d, want the base layer", p.Name, p.Layer)
			}
			if !strings.Contains(p.PURL, "distro=debian-12") {
				t.Errorf("%s purl %s lacks the distro", p.Name, p.PURL)
			}
		case p.Name == "golang.org/x/text":
			text = &pkgs[i]
		case p.Name == "stdlib":
			stdlib = &pkgs[i]
		}
	}
	if debs < 50 {
		t.Errorf("%d Debian packages", debs)
	}
	if text == nil || text.Version != "0.3.0" || text.Path != "/usr/local/bin/textdemo" || text.Ecosystem != "Go" {
		t.Fatalf("x/text = %+v", text)
	}
	if text.Layer == 0 || text.Layer > last || text.LayerDigest != img.Layers[text.Layer].Digest {
		t.Errorf("x/text attributed to layer %d (%s)", text.Layer, text.LayerDigest)
	}
	if stdlib == nil || stdlib.Layer != text.Layer || !strings.HasPrefix(stdlib.Version, "1.") {
		t.Errorf("stdlib = %+v", stdlib)
	}
}

// TestNPMImage: the node_modules tree npm ci installed holds exactly the
// packages of the lockfile it was installed from.
func TestNPMImage(t *testing.T) {
	pkgs, _, _ := scanImage(t, testimages.NPM)
	root, err := testimages.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(root, "testdata", "images", "npm", "package-lock.json")
	b, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	locked, err := npm.ParsePackageLock(lockPath, b)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range locked {
		want = append(want, p.Name+"@"+p.Version)
	}
	seen := map[string]bool{}
	var installed []string
	for _, p := range pkgs {
		if p.Type != "npm" || !strings.Contains(p.Path, "/node_modules/") || path.Base(p.Path) != "package.json" {
			continue
		}
		if k := p.Name + "@" + p.Version; !seen[k] {
			seen[k] = true
			installed = append(installed, k)
		}
	}
	sort.Strings(installed)
	sort.Strings(want)
	if len(want) == 0 || strings.Join(installed, "\n") != strings.Join(want, "\n") {
		t.Errorf("installed node_modules differ from the lockfile:\n%s", diff(installed, want))
	}
}

// TestPythonImageManagedByDebian: every Python distribution of the python
// image was installed by apt, so each is marked with the Debian package
// whose .list file names its metadata, and that package is one dpkg-query
// listed; the npm image's node_modules (installed by npm) are not marked.
func TestPythonImageManagedByDebian(t *testing.T) {
	debs := map[string]bool{}
	for _, d := range testimages.DpkgPackages(t, testimages.Python) {
		name, _, _ := strings.Cut(d.Package, ":")
		debs[name] = true
	}
	pkgs, _, _ := scanImage(t, testimages.Python)
	want := map[string]string{ // distribution -> Debian package
		"urllib3": "python3-urllib3", "requests": "python3-requests", "jinja2": "python3-jinja2",
		"cryptography": "python3-cryptography", "pyyaml": "python3-yaml",
	}
	seen := map[string]bool{}
	n := 0
	for _, p := range pkgs {
		if p.Type != "pypi" {
			if p.ManagedBy != "" {
				t.Errorf("%s package %s marked managed by %s", p.Type, p.Name, p.ManagedBy)
			}
			continue
		}
		n++
		mgr, deb, ok := strings.Cut(p.ManagedBy, ":")
		if !ok || mgr != "deb" || !debs[deb] {
			t.Errorf("%s %s (%s): managed_by %q, want deb:<an installed Debian package>", p.Name, p.Version, p.Path, p.ManagedBy)
			continue
		}
		if w, ok := want[strings.ToLower(p.Name)]; ok {
			seen[strings.ToLower(p.Name)] = true
			if deb != w {
				t.Errorf("%s managed by %s, want %s", p.Name, deb, w)
			}
		}
	}
	if n == 0 || len(seen) != len(want) {
		t.Errorf("%d Python packages, marked ones of %v seen: %v", n, want, seen)
	}
	npmPkgs, _, _ := scanImage(t, testimages.NPM)
	for _, p := range npmPkgs {
		if p.ManagedBy != "" {
			t.Errorf("npm image: %s %s marked managed by %s", p.Type, p.Name, p.ManagedBy)
		}
	}
}

// TestJavaImage: every jar Debian installed in /usr/share/java is named
// with Maven coordinates. Jars with pom.properties keep them; jars with a
// manifest only take the coordinates of the /usr/share/maven-repo link
// that points at them (never a human Implementation-Title), and their
// version agrees with the Debian package's upstream version.
func TestJavaImage(t *testing.T) {
	debs := map[string]string{}
	for _, d := range testimages.DpkgPackages(t, testimages.Java) {
		name, _, _ := strings.Cut(d.Package, ":")
		debs[name] = d.Version
	}
	pkgs, _, img := scanImage(t, testimages.Java)
	byPath := map[string][]inventory.Package{}
	for _, p := range pkgs {
		if p.Type != "maven" {
			continue
		}
		byPath[p.Path] = append(byPath[p.Path], p)
		group, artifact, ok := strings.Cut(p.Name, ":")
		if !ok || group == "" || artifact == "" || strings.ContainsAny(p.Name, " /") {
			t.Errorf("%s: name %q is not group:artifact", p.Path, p.Name)
		}
		mgr, deb, _ := strings.Cut(p.ManagedBy, ":")
		if mgr != "deb" || debs[deb] == "" {
			t.Errorf("%s %s: managed_by %q, want deb:<an installed Debian package>", p.Path, p.Name, p.ManagedBy)
		}
		// Debian numbers these two by date or svn revision, Maven by release.
		otherScheme := map[string]bool{"aopalliance:aopalliance": true, "com.google.code.findbugs:jsr305": true, "org.jsr-305:jsr305": true}
		if p.IdentifiedBy == "maven-repo" && !strings.HasPrefix(debs[deb], p.Version) && !otherScheme[p.Name] {
			t.Errorf("%s: version %s from the maven-repo link, Debian's %s is %s", p.Name, p.Version, deb, debs[deb])
		}
		if p.IdentifiedBy == "manifest" {
			t.Errorf("%s (%s) is still named from its manifest, though Debian links it from /usr/share/maven-repo", p.Name, p.Path)
		}
	}
	jars := 0
	for p, st := range img.Files() {
		if st.Type == layerfs.TypeFile && strings.HasPrefix(p, "/usr/share/java/") && strings.HasSuffix(p, ".jar") {
			jars++
			if len(byPath[p]) == 0 {
				t.Errorf("%s: no Maven package", p)
			}
		}
	}
	for _, c := range []struct{ path, name, version, by string }{
		{"/usr/share/java/commons-lang3.jar", "org.apache.commons:commons-lang3", "3.12.0", ""},
		{"/usr/share/java/commons-text.jar", "org.apache.commons:commons-text", "1.10.0", ""},
		{"/usr/share/java/jackson-databind.jar", "com.fasterxml.jackson.core:jackson-databind", "2.14.0", ""},
		{"/usr/share/java/guava.jar", "com.google.guava:guava", "31.1-jre", ""},
		{"/usr/share/java/log4j-core.jar", "org.apache.logging.log4j:log4j-core", "2.19.0", ""},
		{"/usr/share/java/xz-1.9.jar", "org.tukaani:xz", "1.9", "maven-repo"},
		{"/usr/share/java/commons-logging-1.2.jar", "commons-logging:commons-logging", "1.2", "maven-repo"},
		{"/usr/share/java/guice-assistedinject.jar", "com.google.inject.extensions:guice-assistedinject", "4.2.3", "maven-repo"},
		{"/usr/share/java/mongo-java-driver-3.6.3.jar", "org.mongodb:mongo-java-driver", "3.6.3", "maven-repo"},
	} {
		found := false
		for _, p := range byPath[c.path] {
			if p.Name == c.name && p.Version == c.version && p.IdentifiedBy == c.by {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want %s@%s (identified by %q), got %v", c.path, c.name, c.version, c.by, byPath[c.path])
		}
	}
	if jars < 50 {
		t.Errorf("only %d jars in /usr/share/java", jars)
	}
}
