package buildctx

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// mkTree creates files under a new temp dir. Keys are slash paths; a key
// ending in "/" makes an empty directory; a value starting with "->" makes a
// symlink to the rest of the value.
func mkTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	return dir
}

func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		abs := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(abs, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, abs); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(abs, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sentFiles walks dir with its .dockerignore and returns the non-directory
// paths sent, sorted.
func sentFiles(t testing.TB, dir string) (*Context, []string) {
	t.Helper()
	ig, err := LoadIgnore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Walk(context.Background(), dir, ig)
	if err != nil {
		t.Fatal(err)
	}
	return c, paths(filesOnly(c.Entries))
}

func paths(es []Entry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Path)
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
