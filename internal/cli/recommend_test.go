package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/baseimage"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// recommendJSON runs kensa recommend --format json and decodes it.
func recommendJSON(t *testing.T, args ...string) (rows []baseimage.Row, current string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(append([]string{"recommend", "-q", "--format", "json"}, args...), &out, &errb); code != 0 {
		t.Fatalf("recommend %v: exit %d: %s", args, code, errb.String())
	}
	var res struct {
		Current    string          `json:"current"`
		Candidates []baseimage.Row `json:"candidates"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	return res.Candidates, res.Current
}

// TestRecommendFromRegistry: a Dockerfile FROM <registry>/lib/debian:12
// (the debian-base test image) gets as candidates that repository's other
// tags of major 12 (12-full: the python image, a fuller variant with
// PyPI-vulnerable packages) and not 11; the minimal base ranks first, the
// fuller one lists the packages it adds and still suits the app.
func TestRecommendFromRegistry(t *testing.T) {
	db := vulnImportDB(t, "../vulndb/testdata/osv/Debian", "../vulndb/testdata/osv/PyPI")
	dir := isolate(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	push := func(image, tag string) {
		img, err := tarball.ImageFromPath(testimages.Path(t, image, testimages.FormDocker), nil)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(host + "/lib/debian:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	push(testimages.DebianBase, "12")
	push(testimages.Python, "12-full")
	push(testimages.Gobin, "11")
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte("FROM "+host+"/lib/debian:12\nUSER 10001\n"), 0o644)

	rows, current := recommendJSON(t, "--db", db, "--cache-dir", filepath.Join(dir, "cache"), df)
	if current != host+"/lib/debian:12" {
		t.Errorf("current %q", current)
	}
	var refs []string
	for _, r := range rows {
		refs = append(refs, r.Ref)
	}
	if len(rows) != 2 || !rows[0].Current || rows[1].Ref != host+"/lib/debian:12-full" {
		t.Fatalf("rows %v, want the current base first and 12-full second", refs)
	}
	full := rows[1]
	if full.Total <= rows[0].Total || !full.Compatible || !slices.Contains(full.Added, "python3") || full.Libc != "glibc" {
		t.Errorf("12-full row %+v", full)
	}
}

// TestRecommendCandidatesGiven: for the leaky app (base found from its
// Dockerfile's FROM, which names no openable image) with --base and
// --candidates as archives, the minimal base ranks above the fuller one,
// and the table says which is best.
func TestRecommendCandidatesGiven(t *testing.T) {
	db := vulnImportDB(t, "../vulndb/testdata/osv/Debian", "../vulndb/testdata/osv/PyPI")
	dir := isolate(t)
	base := testimages.Path(t, testimages.DebianBase, testimages.FormLayout)
	fuller := testimages.Path(t, testimages.Python, testimages.FormDocker)
	minimal := testimages.Path(t, testimages.DebianBase, testimages.FormDocker)
	app := testimages.Path(t, testimages.Leaky, testimages.FormDocker)
	args := []string{"--db", db, "--cache-dir", filepath.Join(dir, "cache"), "--base", base, "--candidates", fuller + "," + minimal, app}
	rows, _ := recommendJSON(t, args...)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	pos := map[string]int{}
	for i, r := range rows {
		pos[r.Ref] = i
	}
	if pos[minimal] > pos[fuller] || pos[base] > pos[fuller] {
		t.Errorf("ranking %v: the fuller base must come last", pos)
	}
	var out, errb bytes.Buffer
	if code := Main(append([]string{"recommend", "-q"}, args...), &out, &errb); code != 0 || !strings.Contains(out.String(), "RANK") || !strings.Contains(out.String(), "(current)") {
		t.Errorf("table: exit %d\n%s%s", code, out.String(), errb.String())
	}
	// No database: an error, not an empty ranking.
	out.Reset()
	errb.Reset()
	if code := Main([]string{"recommend", "-q", "--db", filepath.Join(dir, "none.db"), "--base", base, "--candidates", minimal, app}, &out, &errb); code != ExitBadInput || !strings.Contains(errb.String(), "no vulnerability database") {
		t.Errorf("no DB: exit %d, %q", code, errb.String())
	}
}
