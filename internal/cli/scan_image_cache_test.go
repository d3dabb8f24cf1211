package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// fromCacheRE matches the per-layer from_cache flag, the only field that
// may differ between a cold and a warm scan.
var fromCacheRE = regexp.MustCompile(`,?\s*"from_cache":\s*true`)

// scanRaw runs `kensa scan --format json ARGS...` and returns stdout with
// the from_cache flags removed.
func scanRaw(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(append([]string{"scan", "--format", "json", "--quiet"}, args...), &out, &errb); code != 0 {
		t.Fatalf("kensa scan %v: exit %d: %s", args, code, errb.String())
	}
	return fromCacheRE.ReplaceAllString(out.String(), "")
}

// imageCacheEntries lists the image cache files under cache.
func imageCacheEntries(t *testing.T, cache string) []string {
	t.Helper()
	es, err := filepath.Glob(filepath.Join(cache, "images", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestImageCacheLeakyForms scans the leaky test image in all three forms
// cold, then warm from the image cache alone (the layer cache is removed
// in between, so a warm scan that walked or merged layers would not find
// them cached): the reports must be byte-identical apart from from_cache,
// and identical to a --no-cache scan.
func TestImageCacheLeakyForms(t *testing.T) {
	dockerfile := testimages.Dockerfile(t, testimages.Leaky)
	for _, form := range testimages.Forms {
		target := testimages.Path(t, testimages.Leaky, form)
		dir := isolate(t)
		cache := filepath.Join(dir, "cache")
		args := []string{"--scanners", "misconfig,secret", "--dockerfile", dockerfile, target}
		cold := scanRaw(t, append([]string{"--cache-dir", cache}, args...)...)
		if es := imageCacheEntries(t, cache); len(es) != 1 {
			t.Fatalf("%s: image cache entries %q, want 1", form, es)
		}
		if err := os.RemoveAll(filepath.Join(cache, "layers")); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		Main(append([]string{"scan", "--format", "json", "--quiet", "--cache-dir", cache}, args...), &out, &errb)
		warm := scanRaw(t, append([]string{"--cache-dir", cache}, args...)...)
		if warm != cold {
			t.Errorf("%s: warm report differs from cold:\n%s\nvs\n%s", form, warm, cold)
		}
		if _, err := os.Stat(filepath.Join(cache, "layers")); err == nil {
			t.Errorf("%s: warm scan walked layers (layer cache rewritten)", form)
		}
		if nc := scanRaw(t, append([]string{"--no-cache"}, args...)...); nc != cold {
			t.Errorf("%s: --no-cache report differs from cold:\n%s\nvs\n%s", form, nc, cold)
		}
		if !bytes.Contains(out.Bytes(), []byte(`"from_cache": true`)) {
			t.Errorf("%s: warm scan does not mark layers from_cache", form)
		}
	}
}

// TestImageCacheKeyAndCorruption checks, on an in-process image, that
// options changing results get their own entry, that a Dockerfile edit
// changes attribution, that corrupt entries are ignored and rewritten,
// and that --no-cache neither reads nor writes the image cache.
func TestImageCacheKeyAndCorruption(t *testing.T) {
	dir := isolate(t)
	archive := filepath.Join(dir, "app.tar")
	tag, _ := name.NewTag("app:1")
	if err := tarball.WriteToFile(archive, tag, testImage(t)); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	base := []string{"--scanners", "misconfig,secret", "--cache-dir", cache}
	cold := scanRaw(t, append(base, archive)...)
	es := imageCacheEntries(t, cache)
	if len(es) != 1 {
		t.Fatalf("entries %q, want 1", es)
	}
	if warm := scanRaw(t, append(base, archive)...); warm != cold {
		t.Errorf("warm differs:\n%s\nvs\n%s", warm, cold)
	}

	// Corrupt entries (garbage, truncated JSON, another key's entry) are
	// misses: same report, entry rewritten.
	good, _ := os.ReadFile(es[0])
	for _, bad := range [][]byte{[]byte("not json"), good[:len(good)/2], bytes.Replace(good, []byte(`"key":"`), []byte(`"key":"0`), 1)} {
		if err := os.WriteFile(es[0], bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := scanRaw(t, append(base, archive)...); got != cold {
			t.Errorf("after corrupting the entry, report differs:\n%s\nvs\n%s", got, cold)
		}
		if b, _ := os.ReadFile(es[0]); !bytes.Equal(b, good) {
			t.Errorf("corrupt entry not rewritten")
		}
	}

	// A smaller content cap changes the result: its own entry, and the
	// skipped-file note is not served from the uncapped entry.
	capped := scanRaw(t, append(base, "--max-file-size", "1000", archive)...)
	if capped == cold || !bytes.Contains([]byte(capped), []byte("/opt/blob.bin (layer 1)")) {
		t.Errorf("--max-file-size 1000 served the uncapped result:\n%s", capped)
	}
	if n := len(imageCacheEntries(t, cache)); n != 2 {
		t.Errorf("entries after --max-file-size: %d, want 2", n)
	}
	// Fewer scanners: another entry, other findings.
	if misc := scanRaw(t, append(base[:0:0], "--scanners", "misconfig", "--cache-dir", cache, archive)...); misc == cold {
		t.Error("--scanners misconfig served the misconfig,secret result")
	}

	// A Dockerfile next to the archive attributes layers to its lines;
	// editing it must not serve the old attribution.
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte("FROM scratch\nADD rootfs.tar /\nCOPY root/ /\nRUN rm /opt/blob.bin /root/.aws/credentials\n"), 0o644)
	withDF := scanRaw(t, append(base, archive)...)
	os.WriteFile(df, []byte("FROM scratch\n\nADD rootfs.tar /\n\nCOPY root/ /\n\nRUN rm /opt/blob.bin /root/.aws/credentials\n"), 0o644)
	edited := scanRaw(t, append(base, archive)...)
	if withDF == edited {
		t.Error("editing the Dockerfile served the old attribution")
	}
	if nc := scanRaw(t, "--scanners", "misconfig,secret", "--no-cache", archive); nc != edited {
		t.Errorf("--no-cache differs from the cached scan with the edited Dockerfile:\n%s\nvs\n%s", nc, edited)
	}
	os.Remove(df)

	// --no-cache writes nothing.
	nocache := filepath.Join(dir, "nocache")
	scanRaw(t, "--scanners", "misconfig,secret", "--no-cache", "--cache-dir", nocache, archive)
	if _, err := os.Stat(nocache); err == nil {
		t.Error("--no-cache wrote the cache dir")
	}
}

// TestImageCacheVulnsMatchedAfterHit checks that a warm scan still matches
// packages against the database it is given (the DB may have changed
// since the cached scan): the same cached image gives vulnerability
// findings with the Debian records and none with Go-only records.
func TestImageCacheVulnsMatchedAfterHit(t *testing.T) {
	img := vulnTestImage(t, testimages.DebianBase)
	debDB := vulnImportDB(t, "../vulndb/testdata/osv/Debian")
	goDB := vulnImportDB(t, "../vulndb/testdata/osv/Go")
	dir := isolate(t)
	cache := filepath.Join(dir, "cache")
	cold := scanRaw(t, "--cache-dir", cache, "--db", debDB, img)
	warm := scanRaw(t, "--cache-dir", cache, "--db", debDB, img)
	if cold != warm {
		t.Errorf("warm differs from cold:\n%s\nvs\n%s", warm, cold)
	}
	if !bytes.Contains([]byte(cold), []byte(`"kind": "vuln"`)) {
		t.Fatalf("no vulnerability found in debian-base with the Debian records:\n%s", cold)
	}
	other := vulnScanJSON(t, "--cache-dir", cache, "--db", goDB, img)
	for _, f := range other.Findings {
		if f.Kind == "vuln" {
			t.Errorf("cached scan with the Go-only DB reports %s: vulns were not re-matched", f.ID)
		}
	}
	if len(other.Packages) == 0 {
		t.Error("cached scan lost the packages")
	}
	if es := imageCacheEntries(t, cache); len(es) != 1 {
		t.Errorf("entries %q, want 1 (the DB is not part of the key)", es)
	}
}
