package java

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

type entry struct {
	name string
	data []byte
}

func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func list(t *testing.T, e Extractor, p string, b []byte) string {
	t.Helper()
	pkgs, err := e.Extract(p, b)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, pk := range pkgs {
		s = append(s, pk.Name+"@"+pk.Version+" "+pk.PURL)
		if pk.Ecosystem != "Maven" || pk.Type != "maven" || pk.Path != p {
			t.Errorf("bad package %+v", pk)
		}
	}
	return strings.Join(s, "\n")
}

func TestRealJar(t *testing.T) {
	b, err := os.ReadFile("testdata/commons-cli-1.5.0.jar")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := list(t, Extractor{}, "/opt/app/lib/commons-cli.jar", b), "commons-cli:commons-cli@1.5.0 pkg:maven/commons-cli/commons-cli@1.5.0"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNestedWar(t *testing.T) {
	cli, err := os.ReadFile("testdata/commons-cli-1.5.0.jar")
	if err != nil {
		t.Fatal(err)
	}
	log4j := makeZip(t,
		entry{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\r\nImplementation-Title: Apache Log4j Core\r\n\r\n")},
		entry{"META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties", []byte("#Created by Apache Maven\nversion=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n")},
	)
	// Manifest only: OSGi bundle.
	bundle := makeZip(t, entry{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\nBundle-SymbolicName: org.example.bund\n le;singleton:=true\nBundle-Version: 1.2.3\n")})
	// Spring Boot fat jar with nested libs, inside a war (depth 3).
	boot := makeZip(t,
		entry{"BOOT-INF/lib/log4j-core-2.14.1.jar", log4j},
		entry{"BOOT-INF/lib/bundle.jar", bundle},
		entry{"BOOT-INF/lib/broken.jar", []byte("not a zip")},
	)
	war := makeZip(t,
		entry{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\nImplementation-Title: shop\nImplementation-Version: 3.0\nImplementation-Vendor-Id: com.example\n")},
		entry{"WEB-INF/lib/commons-cli-1.5.0.jar", cli},
		entry{"WEB-INF/lib/app.jar", boot},
	)
	want := strings.Join([]string{
		"com.example:shop@3.0 pkg:maven/com.example/shop@3.0",
		"commons-cli:commons-cli@1.5.0 pkg:maven/commons-cli/commons-cli@1.5.0",
		"org.apache.logging.log4j:log4j-core@2.14.1 pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
		"org.example:bundle@1.2.3 pkg:maven/org.example/bundle@1.2.3",
	}, "\n")
	if got := list(t, Extractor{}, "/srv/shop.war", war); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Depth 2 stops before the libs of the fat jar.
	got := list(t, Extractor{Limits: Limits{MaxDepth: 2}}, "/srv/shop.war", war)
	if strings.Contains(got, "log4j") || !strings.Contains(got, "commons-cli") {
		t.Errorf("depth 2: %s", got)
	}
}

func TestZipBomb(t *testing.T) {
	// 64 MiB of zeros compresses to ~64 KiB.
	bomb := makeZip(t, entry{"META-INF/MANIFEST.MF", make([]byte, 64<<20)})
	_, err := Extractor{Limits: Limits{MaxBytes: 1 << 20}}.Extract("/bomb.jar", bomb)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "/bomb.jar") {
		t.Errorf("zip bomb: %v", err)
	}
	// Nested copies of an archive each charge the budget.
	inner := makeZip(t, entry{"META-INF/maven/a/b/pom.properties", append([]byte("groupId=a\nartifactId=b\nversion=1\n#"), make([]byte, 600<<10)...)})
	outer := makeZip(t, entry{"lib/1.jar", inner}, entry{"lib/2.jar", inner})
	if _, err := (Extractor{Limits: Limits{MaxBytes: 1 << 20}}).Extract("/x.jar", outer); !errors.Is(err, ErrLimit) {
		t.Errorf("nested budget: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	_, err := Extractor{}.Extract("/app/x.jar", []byte("PK\x03\x04garbage"))
	if err == nil || !strings.Contains(err.Error(), "/app/x.jar") {
		t.Errorf("error %v does not name the file", err)
	}
}

func FuzzArchive(f *testing.F) {
	f.Add(makeZip(f, entry{"META-INF/maven/a/b/pom.properties", []byte("groupId=a\nartifactId=b\nversion=1\n")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{Limits: Limits{MaxBytes: 8 << 20}}.Extract("/f.jar", b)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete %+v", p)
			}
		}
	})
}

// TestManifestOnlyNames: an archive without pom.properties is named from
// its file name and manifest, never from the human Implementation-Title,
// and marked as such.
func TestManifestOnlyNames(t *testing.T) {
	for _, c := range []struct {
		file, manifest, want string
	}{
		{"/usr/share/java/xz-1.9.jar", "Implementation-Title: XZ data compression\nImplementation-Version: 1.9\nBundle-SymbolicName: org.tukaani.xz\n", "org.tukaani:xz@1.9"},
		{"/usr/share/java/bson-3.6.3.jar", "Bundle-SymbolicName: org.mongodb.bson\nBundle-Version: 3.6.3\n", "org.mongodb:bson@3.6.3"},
		{"/usr/share/java/mongodb-driver-core-3.6.3.jar", "Bundle-SymbolicName: org.mongodb.driver-core\nBundle-Version: 3.6.3\n", "org.mongodb:mongodb-driver-core@3.6.3"},
		{"/usr/share/java/guice-assistedinject.jar", "Bundle-SymbolicName: com.google.inject.assistedinject\nBundle-Version: 4.2.3\n", "com.google.inject:guice-assistedinject@4.2.3"},
		{"/usr/share/java/commons-logging-1.2.jar", "Implementation-Title: Commons Logging\nImplementation-Vendor-Id: org.apache\nImplementation-Version: 1.2\n", "org.apache:commons-logging@1.2"},
		{"/opt/app/lib/tool-2.0.1.jar", "Automatic-Module-Name: com.example.tool\n", "com.example:tool@2.0.1"},
		{"/opt/app/lib/noversion.jar", "Created-By: hand\n", ""},
	} {
		jar := makeZip(t, entry{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\n" + c.manifest)})
		pkgs, err := Extractor{}.Extract(c.file, jar)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, p := range pkgs {
			got = p.Name + "@" + p.Version
			if p.IdentifiedBy != "manifest" {
				t.Errorf("%s: IdentifiedBy %q, want manifest", c.file, p.IdentifiedBy)
			}
		}
		if len(pkgs) > 1 || got != c.want {
			t.Errorf("%s: got %d packages, %q; want %q", c.file, len(pkgs), got, c.want)
		}
	}
}
