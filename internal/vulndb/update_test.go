package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// zipDir packs the *.json files of dir into an OSV all.zip in memory.
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(filepath.Base(f))
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// osvServer serves <eco>/all.zip like the OSV bucket, with ETag and
// Last-Modified validators, and lets a test script failures.
type osvServer struct {
	mu       sync.Mutex
	zips     map[string][]byte
	etags    map[string]string
	fail503  map[string]int // remaining 503 answers per ecosystem
	truncate map[string]int // remaining truncated answers per ecosystem
	hits     map[string]int
	notMod   map[string]int
}

func newOSVServer(t *testing.T) (*osvServer, *httptest.Server) {
	s := &osvServer{
		zips: map[string][]byte{
			"Go":     zipDir(t, "testdata/osv/Go"),
			"Debian": zipDir(t, "testdata/osv/Debian"),
		},
		etags:    map[string]string{"Go": `"go-1"`, "Debian": `"deb-1"`},
		fail503:  map[string]int{},
		truncate: map[string]int{},
		hits:     map[string]int{},
		notMod:   map[string]int{},
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

var lastMod = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func (s *osvServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	eco, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/all.zip")
	data, found := s.zips[eco]
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	s.hits[eco]++
	if s.fail503[eco] > 0 {
		s.fail503[eco]--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("If-None-Match") == s.etags[eco] {
		s.notMod[eco]++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", s.etags[eco])
	w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
	w.Header().Set("Content-Length", itoa(len(data)))
	if s.truncate[eco] > 0 {
		s.truncate[eco]--
		w.Write(data[:len(data)/2])
		return // the connection closes short of Content-Length
	}
	w.Write(data)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestUpdate(t *testing.T) {
	s, srv := newOSVServer(t)
	path := filepath.Join(t.TempDir(), "db", "kensa.db")
	opts := UpdateOptions{DBPath: path, BaseURL: srv.URL, Ecosystems: []string{"Go", "Debian"}, Backoff: time.Millisecond}

	// First update: both downloaded, one 503 then 200 for Go.
	s.fail503["Go"] = 1
	res, err := Update(context.Background(), opts)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if !res.Rebuilt || len(res.Downloaded) != 2 || s.hits["Go"] != 2 {
		t.Fatalf("first update: %+v, Go hits %d (want 503 then 200)", res, s.hits["Go"])
	}
	if res.Meta.Ecosystems["Go"] != 4 || res.Meta.Ecosystems["Debian:12"] != 16 {
		t.Fatalf("ecosystems = %v", res.Meta.Ecosystems)
	}
	src := res.Meta.Sources["Go"]
	if src.ETag != `"go-1"` || !src.Date.Equal(lastMod) || src.Records != 5 {
		t.Errorf("Go source = %+v", src)
	}

	// Second update: nothing changed → 304s, database kept as is.
	res, err = Update(context.Background(), opts)
	if err != nil {
		t.Fatalf("second Update: %v", err)
	}
	if res.Rebuilt || len(res.Unchanged) != 2 || s.notMod["Go"] != 1 || s.notMod["Debian"] != 1 {
		t.Fatalf("second update: %+v notMod %v", res, s.notMod)
	}

	// Third: Debian changes (fewer records); Go is 304 and its records are
	// carried over from the previous database.
	s.zips["Debian"] = zipDir(t, "testdata/osv/Debian")
	s.etags["Debian"] = `"deb-2"`
	s.zips["Debian"] = mustZipSubset(t, "testdata/osv/Debian", "pcre2")
	res, err = Update(context.Background(), opts)
	if err != nil {
		t.Fatalf("third Update: %v", err)
	}
	if !res.Rebuilt || strings.Join(res.Downloaded, ",") != "Debian" || strings.Join(res.Unchanged, ",") != "Go" {
		t.Fatalf("third update: %+v", res)
	}
	if res.Meta.Ecosystems["Go"] != 4 || res.Meta.Ecosystems["Debian:12"] != 2 {
		t.Errorf("after partial update ecosystems = %v, want Go 4 kept, Debian:12 2", res.Meta.Ecosystems)
	}
	if res.Meta.Sources["Go"].ETag != `"go-1"` || res.Meta.Sources["Debian"].ETag != `"deb-2"` {
		t.Errorf("sources = %+v", res.Meta.Sources)
	}
	db := openT(t, path)
	if got := mustLookup(t, db, "Go", "golang.org/x/text"); len(got) != 4 {
		t.Errorf("Go records after 304 = %d, want 4", len(got))
	}
}

func mustZipSubset(t *testing.T, dir, contains string) []byte {
	t.Helper()
	sub := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+contains+"*.json"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(sub, filepath.Base(f)), data, 0o644)
	}
	return zipDir(t, sub)
}

func TestUpdateTruncatedDownload(t *testing.T) {
	s, srv := newOSVServer(t)
	path := filepath.Join(t.TempDir(), "kensa.db")
	opts := UpdateOptions{DBPath: path, BaseURL: srv.URL, Ecosystems: []string{"Go"}, Backoff: time.Millisecond, Retries: 2}

	// A truncated body is retried.
	s.truncate["Go"] = 1
	if _, err := Update(context.Background(), opts); err != nil {
		t.Fatalf("Update after one truncated answer: %v", err)
	}
	if s.hits["Go"] != 2 {
		t.Errorf("hits = %d, want 2 (truncated, then whole)", s.hits["Go"])
	}
	before, _ := os.ReadFile(path)

	// Always truncated: the update fails, the database stays as it was.
	s.etags["Go"] = `"go-2"`
	s.truncate["Go"] = 100
	_, err := Update(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v, want a truncated-download error", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed update changed the database")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	openT(t, path)
}

func TestUpdateNotFound(t *testing.T) {
	_, srv := newOSVServer(t)
	path := filepath.Join(t.TempDir(), "kensa.db")
	_, err := Update(context.Background(), UpdateOptions{DBPath: path, BaseURL: srv.URL, Ecosystems: []string{"Nope"}, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want a 404 error without retries", err)
	}
}
