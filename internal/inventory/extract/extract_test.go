package extract

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

const status = "/var/lib/dpkg/status"

func statusOf(pkgs ...string) []byte {
	var b strings.Builder
	for _, p := range pkgs {
		name, ver, _ := strings.Cut(p, "=")
		b.WriteString("Package: " + name + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + ver + "\n\n")
	}
	return []byte(b.String())
}

// layer runs the real analyzer over files (path → content) as layer i
// would, with the entries the walk would record.
func layer(t *testing.T, i int, files map[string][]byte, whiteouts ...string) *layerfs.LayerFacts {
	t.Helper()
	a := Analyzer(Options{})
	out := &layerfs.LayerFacts{Index: i, Digest: "sha256:layer" + string(rune('0'+i))}
	var es []layerfs.Entry
	for p, c := range files {
		e := layerfs.Entry{Path: p, Type: layerfs.TypeFile, Mode: 0o644, Size: int64(len(c))}
		es = append(es, e)
		if !a.Wants(p, e.Size, e.Mode) {
			continue
		}
		if err := a.Analyze(context.Background(), &layerfs.File{Entry: e, Content: c, Layer: i}, out); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range whiteouts {
		es = append(es, layerfs.Entry{Path: w, Whiteout: true})
	}
	out.Entries = layerfs.PackEntries(es)
	return out
}

func summary(pkgs []inventory.Package) string {
	var s []string
	for _, p := range pkgs {
		s = append(s, p.Name+"@"+p.Version+" L"+string(rune('0'+p.Layer))+" "+p.LayerDigest)
	}
	return strings.Join(s, "\n")
}

func TestResolveAttribution(t *testing.T) {
	osRelease, err := os.ReadFile("../osrelease/testdata/debian12-os-release")
	if err != nil {
		t.Fatal(err)
	}
	layers := []*layerfs.LayerFacts{
		// 0: base image with two packages.
		layer(t, 0, map[string][]byte{
			"/etc/os-release": osRelease,
			status:            statusOf("libc6=2.36-9", "bash=5.2.15-2"),
		}),
		// 1: unrelated app files and a requirements file deleted later.
		layer(t, 1, map[string][]byte{
			"/app/requirements.txt": []byte("django==4.2.7\n"),
			"/app/main.py":          []byte("print(1)\n"),
		}),
		// 2: apt-get install rewrites the status: libc6 upgraded, curl added,
		// bash unchanged (must stay attributed to layer 0).
		layer(t, 2, map[string][]byte{
			status: statusOf("libc6=2.36-9+deb12u4", "bash=5.2.15-2", "curl=7.88.1-10"),
		}),
		// 3: removes the requirements file.
		layer(t, 3, nil, "/app/requirements.txt"),
	}
	img := layerfs.Merge(layers)
	pkgs, o := Resolve(img)
	if o == nil || o.Ecosystem() != "Debian:12" {
		t.Fatalf("OS = %+v", o)
	}
	want := strings.Join([]string{
		"bash@5.2.15-2 L0 sha256:layer0",
		"curl@7.88.1-10 L2 sha256:layer2",
		"libc6@2.36-9+deb12u4 L2 sha256:layer2",
	}, "\n")
	if got := summary(pkgs); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, p := range pkgs {
		if !strings.Contains(p.PURL, "distro=debian-12") || p.Ecosystem != "Debian" {
			t.Errorf("%s: purl %s ecosystem %s", p.Name, p.PURL, p.Ecosystem)
		}
	}
}

func TestResolveInterruptedHistory(t *testing.T) {
	// A package removed (status rewritten without it) and reinstalled is
	// attributed to the layer that reinstalled it.
	layers := []*layerfs.LayerFacts{
		layer(t, 0, map[string][]byte{status: statusOf("vim=2:9.0-1")}),
		layer(t, 1, map[string][]byte{status: statusOf("nano=7.2-1")}),
		layer(t, 2, map[string][]byte{status: statusOf("nano=7.2-1", "vim=2:9.0-1")}),
		// The status file deleted and written again in the same place.
		layer(t, 3, nil, status),
		layer(t, 4, map[string][]byte{status: statusOf("nano=7.2-1", "vim=2:9.0-1")}),
	}
	pkgs, o := Resolve(layerfs.Merge(layers))
	if o != nil {
		t.Errorf("OS without release files: %+v", o)
	}
	want := "nano@7.2-1 L4 sha256:layer4\nvim@2:9.0-1 L4 sha256:layer4"
	if got := summary(pkgs); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Without the deletion, nano comes from layer 1 and vim from layer 2.
	layers = append(layers[:3:3], layer(t, 3, map[string][]byte{status: statusOf("nano=7.2-1", "vim=2:9.0-1")}))
	pkgs, _ = Resolve(layerfs.Merge(layers))
	want = "nano@7.2-1 L1 sha256:layer1\nvim@2:9.0-1 L2 sha256:layer2"
	if got := summary(pkgs); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAnalyzerWants(t *testing.T) {
	a := Analyzer(Options{MaxFileSize: 1 << 20})
	for _, tt := range []struct {
		path string
		size int64
		mode os.FileMode
		want bool
	}{
		{"/var/lib/dpkg/status", 100, 0o644, true},
		{"/etc/os-release", 100, 0o644, true},
		{"/etc/os-release", 1 << 20, 0o644, false},
		{"/usr/bin/app", 100, 0o755, true},
		{"/usr/bin/app", 2 << 20, 0o755, false},
		{"/usr/share/doc/readme", 100, 0o644, false},
		{"/app/node_modules/a/package.json", 100, 0o644, true},
		// Lockfiles of the application are read; those shipped inside
		// installed dependencies are not.
		{"/app/requirements.txt", 100, 0o644, true},
		{"/usr/lib/python3/site-packages/foo/requirements.txt", 100, 0o644, false},
		{"/usr/src/app/Gemfile.lock", 100, 0o644, true},
		{"/usr/local/bundle/gems/rack-2.2.8/Gemfile.lock", 100, 0o644, false},
		{"/src/Cargo.lock", 100, 0o644, true},
		{"/root/.cargo/registry/src/index/time-0.1.43/Cargo.lock", 100, 0o644, false},
		{"/var/www/composer.lock", 100, 0o644, true},
		{"/var/www/vendor/guzzlehttp/guzzle/composer.lock", 100, 0o644, false},
		{"/var/www/vendor/composer/installed.json", 100, 0o644, true},
		{"/src/go.mod", 100, 0o644, true},
		{"/root/go/pkg/mod/golang.org/x/text@v0.3.0/go.mod", 100, 0o644, false},
		{"/src/internal/x/testdata/mod/go.mod", 100, 0o644, false},
		{"/app/node_modules/a/yarn.lock", 100, 0o644, false},
		{"/app/app.deps.json", 100, 0o644, true},
		{"/opt/app.jar", 100, 0o644, true},
		{"/usr/lib/sysimage/rpm/rpmdb.sqlite", 100, 0o644, true},
		{"/usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec", 100, 0o644, true},
	} {
		if got := a.Wants(tt.path, tt.size, tt.mode); got != tt.want {
			t.Errorf("Wants(%s, %d, %v) = %v, want %v", tt.path, tt.size, tt.mode, got, tt.want)
		}
	}
}

func TestAnalyzerRecordsErrors(t *testing.T) {
	out := &layerfs.LayerFacts{}
	a := Analyzer(Options{})
	f := &layerfs.File{Entry: layerfs.Entry{Path: "/app/package-lock.json", Mode: 0o644}, Content: []byte("{"), Layer: 0}
	if err := a.Analyze(context.Background(), f, out); err != nil {
		t.Fatal(err)
	}
	if len(out.Skipped) != 1 || !strings.Contains(out.Skipped[0].Reason, "/app/package-lock.json") {
		t.Errorf("skipped = %+v", out.Skipped)
	}
}

func TestOSPreference(t *testing.T) {
	files := []struct {
		path string
		data []byte
	}{
		{"/etc/debian_version", []byte("12.5\n")},
		{"/etc/os-release", []byte("ID=debian\nVERSION_ID=\"12\"\n")},
	}
	a := Analyzer(Options{})
	// Both orders: os-release wins over debian_version.
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		out := &layerfs.LayerFacts{}
		for _, i := range order {
			f := &layerfs.File{Entry: layerfs.Entry{Path: files[i].path, Mode: 0o644}, Content: files[i].data}
			if err := a.Analyze(context.Background(), f, out); err != nil {
				t.Fatal(err)
			}
		}
		if out.OS == nil || out.OS.VersionID != "12" {
			t.Errorf("order %v: layer OS = %+v, want os-release's", order, out.OS)
		}
		if _, ok := out.Files["/etc/debian_version"]; !ok {
			t.Error("release file not kept")
		}
	}
}

func TestResolveLockfileAndInstalled(t *testing.T) {
	layers := []*layerfs.LayerFacts{
		layer(t, 0, map[string][]byte{
			"/app/requirements.txt": []byte("django==4.2.7\nflask==2.3.3\n"),
			"/usr/lib/python3/site-packages/Django-4.2.7.dist-info/METADATA": []byte("Metadata-Version: 2.1\nName: Django\nVersion: 4.2.7\n"),
		}),
	}
	pkgs, _ := Resolve(layerfs.Merge(layers))
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.Path)
	}
	// Django is installed: listed once, from its metadata. Flask is only
	// pinned: listed from the requirements file.
	want := "django@4.2.7 /usr/lib/python3/site-packages/Django-4.2.7.dist-info/METADATA\nflask@2.3.3 /app/requirements.txt"
	if strings.Join(got, "\n") != want {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}

func TestResolveOSFamilies(t *testing.T) {
	apkDB := []byte("P:busybox\nV:1.36.1-r5\nA:x86_64\no:busybox\n\n")
	tests := []struct {
		osRelease, eco, purl string
	}{
		{"ID=alpine\nVERSION_ID=3.19.1\n", "Alpine", "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&distro=alpine-3.19.1&upstream=busybox"},
		{"ID=wolfi\nVERSION_ID=20230201\n", "Wolfi", "pkg:apk/wolfi/busybox@1.36.1-r5?arch=x86_64&distro=wolfi-20230201&upstream=busybox"},
	}
	for _, tt := range tests {
		layers := []*layerfs.LayerFacts{layer(t, 0, map[string][]byte{
			"/etc/os-release":       []byte(tt.osRelease),
			"/lib/apk/db/installed": apkDB,
		})}
		pkgs, _ := Resolve(layerfs.Merge(layers))
		if len(pkgs) != 1 || pkgs[0].Ecosystem != tt.eco || pkgs[0].PURL != tt.purl {
			t.Errorf("%q: %+v", tt.osRelease, pkgs)
		}
	}
	// Ubuntu packages come from the dpkg extractor too.
	layers := []*layerfs.LayerFacts{layer(t, 0, map[string][]byte{
		"/etc/os-release": []byte("ID=ubuntu\nVERSION_ID=\"22.04\"\n"),
		status:            statusOf("bash=5.1-6ubuntu1"),
	})}
	pkgs, _ := Resolve(layerfs.Merge(layers))
	if len(pkgs) != 1 || pkgs[0].Ecosystem != "Ubuntu" || pkgs[0].PURL != "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64&distro=ubuntu-22.04" {
		t.Errorf("ubuntu: %+v", pkgs)
	}
}

// TestResolveOneDistributionTwoMetadataForms uses Debian 12's layout: its
// python3-cryptography installs cryptography-38.0.4.dist-info and
// cryptography.egg-info for one distribution, which must be one package
// (from the dist-info), while the same distribution in another site
// folder (a virtualenv) stays a package of its own.
func TestResolveOneDistributionTwoMetadataForms(t *testing.T) {
	const deb = "testdata/debian12-python3/"
	read := func(p string) []byte {
		b, err := os.ReadFile(deb + p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	site := "/usr/lib/python3/dist-packages/"
	venv := "/opt/venv/lib/python3.11/site-packages/"
	files := map[string][]byte{
		site + "cryptography-38.0.4.dist-info/METADATA": read("cryptography-38.0.4.dist-info/METADATA"),
		site + "cryptography.egg-info/PKG-INFO":         read("cryptography.egg-info/PKG-INFO"),
		site + "idna-3.3.egg-info/PKG-INFO":             read("idna-3.3.egg-info/PKG-INFO"),
		site + "PyYAML-6.0.dist-info/METADATA":          read("PyYAML-6.0.dist-info/METADATA"),
		venv + "cryptography-38.0.4.dist-info/METADATA": read("cryptography-38.0.4.dist-info/METADATA"),
		// Same name, another version, same folder: a different distribution.
		site + "idna-3.7.dist-info/METADATA": []byte("Metadata-Version: 2.1\nName: idna\nVersion: 3.7\n"),
	}
	// Layer 0 writes the egg-info, layer 1 the dist-info: the kept package
	// is the dist-info one, whichever layer wrote it.
	l0, l1 := map[string][]byte{}, map[string][]byte{}
	for p, c := range files {
		if strings.Contains(p, "egg-info") {
			l0[p] = c
		} else {
			l1[p] = c
		}
	}
	pkgs, _ := Resolve(layerfs.Merge([]*layerfs.LayerFacts{layer(t, 0, l0), layer(t, 1, l1)}))
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.Path)
	}
	want := []string{
		"cryptography@38.0.4 " + venv + "cryptography-38.0.4.dist-info/METADATA",
		"cryptography@38.0.4 " + site + "cryptography-38.0.4.dist-info/METADATA",
		"idna@3.3 " + site + "idna-3.3.egg-info/PKG-INFO",
		"idna@3.7 " + site + "idna-3.7.dist-info/METADATA",
		"pyyaml@6.0 " + site + "PyYAML-6.0.dist-info/METADATA",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestResolveManagedBy: a Python distribution whose metadata a dpkg .list
// names is managed by that Debian package (the :arch suffix dropped); one
// installed by pip next to it is not; once a later layer removes the
// .list (the Debian package purged, the files kept), the mark goes too.
func TestResolveManagedBy(t *testing.T) {
	site := "/usr/lib/python3/dist-packages/"
	meta := []byte("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.12\n")
	pipMeta := []byte("Metadata-Version: 2.1\nName: idna\nVersion: 3.7\n")
	list := []byte("/.\n/usr\n/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info\n" + site + "urllib3-1.26.12.egg-info/PKG-INFO\n" + site + "urllib3/__init__.py\n")
	base := map[string][]byte{
		site + "urllib3-1.26.12.egg-info/PKG-INFO":      meta,
		"/var/lib/dpkg/info/python3-urllib3:amd64.list": list,
	}
	own := map[string][]byte{"/usr/local/lib/python3.11/dist-packages/idna-3.7.dist-info/METADATA": pipMeta}
	tests := []struct {
		name   string
		layers []*layerfs.LayerFacts
		want   map[string]string
	}{
		{"deb and pip", []*layerfs.LayerFacts{layer(t, 0, base), layer(t, 1, own)},
			map[string]string{"urllib3": "deb:python3-urllib3", "idna": ""}},
		{"list removed later", []*layerfs.LayerFacts{layer(t, 0, base), layer(t, 1, own, "/var/lib/dpkg/info/python3-urllib3:amd64.list")},
			map[string]string{"urllib3": "", "idna": ""}},
		{"list rewritten later", []*layerfs.LayerFacts{layer(t, 0, base), layer(t, 1, map[string][]byte{"/var/lib/dpkg/info/python3-urllib3:amd64.list": list})},
			map[string]string{"urllib3": "deb:python3-urllib3"}},
	}
	for _, tc := range tests {
		pkgs, _ := Resolve(layerfs.Merge(tc.layers))
		got := map[string]string{}
		for _, p := range pkgs {
			got[p.Name] = p.ManagedBy
		}
		for name, want := range tc.want {
			if m, ok := got[name]; !ok || m != want {
				t.Errorf("%s: %s managed_by %q (found %v), want %q", tc.name, name, m, ok, want)
			}
		}
	}
}
