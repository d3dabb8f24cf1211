package vulndb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func importTo(t *testing.T, db string, replace bool, paths ...string) Meta {
	t.Helper()
	m, err := Import(ImportOptions{DBPath: db, Paths: paths, Replace: replace})
	if err != nil {
		t.Fatalf("Import(%v): %v", paths, err)
	}
	return m
}

func openT(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ids(advs []*Advisory) []string {
	var out []string
	for _, a := range advs {
		out = append(out, a.ID)
	}
	return out
}

func TestImportOSVFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db", "kensa.db")
	m := importTo(t, path, false, "testdata/osv/Go")
	// 5 records, one withdrawn (GO-2022-0617).
	if m.Records != 4 || m.Ecosystems["Go"] != 4 {
		t.Fatalf("meta = %+v, want 4 Go records", m)
	}
	db := openT(t, path)
	got := ids(mustLookup(t, db, "Go", "golang.org/x/text"))
	want := "GO-2020-0015 GO-2021-0113 GO-2022-1059 GO-2026-5970"
	if strings.Join(got, " ") != want {
		t.Errorf("lookup x/text = %v, want %s", got, want)
	}
	if a := mustLookup(t, db, "Go", "k8s.io/kubernetes"); len(a) != 0 {
		t.Errorf("withdrawn record indexed: %v", ids(a))
	}
	a, err := db.Get("GO-2020-0015")
	if err != nil || a == nil {
		t.Fatalf("Get: %v %v", a, err)
	}
	if a.Summary == "" || len(a.Aliases) != 2 || a.Details != "" || len(a.Affected) != 1 {
		t.Errorf("stored advisory not compacted as expected: %+v", a)
	}
}

func mustLookup(t *testing.T, db *DB, eco, name string) []*Advisory {
	t.Helper()
	a, err := db.Lookup(eco, name)
	if err != nil {
		t.Fatalf("Lookup(%s, %s): %v", eco, name, err)
	}
	return a
}

func TestImportKeepsOtherEcosystems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kensa.db")
	importTo(t, path, false, "testdata/osv/Go")
	m := importTo(t, path, false, "testdata/osv/Debian")
	if m.Ecosystems["Go"] != 4 || m.Ecosystems["Debian:12"] != 16 {
		t.Fatalf("merged meta ecosystems = %v, want Go:4 Debian:12:16", m.Ecosystems)
	}
	if len(m.Sources) != 2 {
		t.Errorf("sources = %v, want both imports", m.Sources)
	}
	m = importTo(t, path, true, "testdata/osv/Debian")
	if _, ok := m.Ecosystems["Go"]; ok {
		t.Errorf("--replace kept Go records: %v", m.Ecosystems)
	}
	db := openT(t, path)
	if got := mustLookup(t, db, "Debian:12", "perl"); len(got) != 13 {
		t.Errorf("perl advisories = %d, want 13", len(got))
	}
}

func TestImportSecDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kensa.db")
	m := importTo(t, path, false, "testdata/secdb/v3.11-main.yaml")
	if m.Ecosystems["Alpine:v3.11"] < 100 {
		t.Fatalf("Alpine:v3.11 records = %d, want the secdb's hundreds", m.Ecosystems["Alpine:v3.11"])
	}
	db := openT(t, path)
	advs := mustLookup(t, db, "Alpine:v3.11", "ansible")
	var found *Advisory
	for _, a := range advs {
		if len(a.Aliases) == 1 && a.Aliases[0] == "CVE-2019-14904" {
			found = a
		}
	}
	if found == nil {
		t.Fatalf("ansible CVE-2019-14904 not imported; got %v", ids(advs))
	}
	ev := found.Affected[0].Ranges[0].Events
	if len(ev) != 2 || ev[0].Introduced != "0" || ev[1].Fixed != "2.9.3-r0" {
		t.Errorf("events = %+v, want introduced 0, fixed 2.9.3-r0", ev)
	}
}

func TestImportSecDBJSON(t *testing.T) {
	dir := t.TempDir()
	js := `{"distroversion":"v3.19","reponame":"main","packages":[{"pkg":{"name":"openssl","secfixes":{"3.1.4-r1":["CVE-2023-5678"],"0":["CVE-2000-0001"]}}}]}`
	p := filepath.Join(dir, "main.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []*Advisory
	n, err := ImportPath(p, func(a *Advisory) error { got = append(got, a); return nil })
	if err != nil || n != 1 {
		t.Fatalf("ImportPath = %d, %v; want 1 record (version 0 skipped)", n, err)
	}
	if got[0].Affected[0].Package.Ecosystem != "Alpine:v3.19" || got[0].Aliases[0] != "CVE-2023-5678" {
		t.Errorf("record = %+v", got[0])
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "none.db")); !errors.Is(err, ErrNoDB) {
		t.Errorf("missing file: err = %v, want ErrNoDB", err)
	}
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("this is not a database"), 0o644)
	if _, err := Open(junk); err == nil || !strings.Contains(err.Error(), "kensa db update") {
		t.Errorf("junk file: err = %v, want a hint to run kensa db update", err)
	}
	// A database of another schema version.
	path := filepath.Join(dir, "old.db")
	importTo(t, path, false, "testdata/osv/Go")
	b, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyMeta, []byte(`{"schema":99}`))
	})
	b.Close()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "schema version 99") || !strings.Contains(err.Error(), "kensa db update") {
		t.Errorf("schema mismatch: err = %v", err)
	}
}

func TestImportBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"id": 12}`), 0o644)
	path := filepath.Join(dir, "kensa.db")
	_, err := Import(ImportOptions{DBPath: path, Paths: []string{bad}})
	if err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("err = %v, want an error naming bad.json", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed import left a database behind: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".kensa.db.building-*"))
	if len(left) != 0 {
		t.Errorf("failed import left temporary files: %v", left)
	}
}

func TestNormalizeName(t *testing.T) {
	for _, c := range []struct{ eco, in, want string }{
		{"PyPI", "Django", "django"},
		{"PyPI", "zope.interface", "zope-interface"},
		{"PyPI", "Foo__Bar-.baz", "foo-bar-baz"},
		{"npm", "Foo_Bar", "Foo_Bar"},
		{"Maven", "org.apache:Commons", "org.apache:Commons"},
	} {
		if got := NormalizeName(c.eco, c.in); got != c.want {
			t.Errorf("NormalizeName(%s, %s) = %s, want %s", c.eco, c.in, got, c.want)
		}
	}
}
