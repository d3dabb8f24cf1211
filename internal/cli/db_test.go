package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func runDB(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"db"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDBImportAndStatus(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kensa.db")
	code, _, stderr := runDB(t, "import", "--db", db, "../vulndb/testdata/osv/Go", "../vulndb/testdata/secdb/v3.11-main.yaml")
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "records") {
		t.Errorf("import printed %q", stderr)
	}
	code, out, stderr := runDB(t, "status", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	var st dbStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	if st.Ecosystems["Go"] != 4 || st.Ecosystems["Alpine:v3.11"] == 0 || len(st.Sources) != 2 || st.Schema != 1 {
		t.Errorf("status = %+v", st)
	}
	code, out, _ = runDB(t, "status", "--db", db)
	if code != 0 || !strings.Contains(out, "Alpine:v3.11") || !strings.Contains(out, "ECOSYSTEM") {
		t.Errorf("status table: exit %d\n%s", code, out)
	}
}

func TestDBErrors(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runDB(t, "status", "--db", filepath.Join(dir, "none.db"))
	if code != ExitBadInput || !strings.Contains(stderr, "kensa db update") {
		t.Errorf("status without db: exit %d %q", code, stderr)
	}
	code, _, stderr = runDB(t, "import", "--db", filepath.Join(dir, "x.db"), filepath.Join(dir, "missing.zip"))
	if code != ExitBadInput || !strings.Contains(stderr, "missing.zip") {
		t.Errorf("import of a missing path: exit %d %q", code, stderr)
	}
	junk := filepath.Join(dir, "junk.zip")
	os.WriteFile(junk, []byte("PK\x03\x04 not really a zip"), 0o644)
	code, _, stderr = runDB(t, "import", "--db", filepath.Join(dir, "x.db"), junk)
	if code != ExitBadInput || !strings.Contains(stderr, "junk.zip") {
		t.Errorf("import of a corrupt zip: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("failed import created a database")
	}
}

func TestDBUpdateFromMirror(t *testing.T) {
	zipPath := filepath.Join(t.TempDir(), "all.zip")
	vulnWriteZip(t, zipPath, "../vulndb/testdata/osv/Go")
	data, _ := os.ReadFile(zipPath)
	var hits, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Go/all.zip" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(data)
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "kensa.db")
	for i := 0; i < 2; i++ {
		code, _, stderr := runDB(t, "update", "--db", db, "--mirror", srv.URL, "--ecosystems", "Go")
		if code != 0 {
			t.Fatalf("update %d: exit %d: %s", i, code, stderr)
		}
		if i == 1 && !strings.Contains(stderr, "up to date") {
			t.Errorf("second update said %q, want up to date", stderr)
		}
	}
	if hits.Load() != 2 || notModified.Load() != 1 {
		t.Errorf("hits %d, 304s %d; want 2 and 1", hits.Load(), notModified.Load())
	}
	code, out, _ := runDB(t, "status", "--db", db)
	if code != 0 || !strings.Contains(out, srv.URL+"/Go/all.zip") {
		t.Errorf("status after update: %d\n%s", code, out)
	}
}
