package buildctx

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tonistiigi/fsutil"
)

// buildkitSent walks dir with BuildKit's own context walker (tonistiigi/fsutil,
// the version buildkit v0.34 uses) and returns every path it would send,
// directories included, sorted.
func buildkitSent(t testing.TB, dir string, patterns []string) []string {
	t.Helper()
	var out []string
	err := fsutil.Walk(context.Background(), dir, &fsutil.FilterOpt{ExcludePatterns: patterns}, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(p))
		return nil
	})
	if err != nil {
		t.Fatalf("fsutil walk: %v", err)
	}
	sort.Strings(out)
	return out
}

// oursSent returns every path our walker sends, directories included.
func oursSent(t testing.TB, dir string, patterns []string) []string {
	t.Helper()
	m, err := NewMatcher(patterns)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Walk(context.Background(), dir, &Ignore{Patterns: patterns, Matcher: m})
	if err != nil {
		t.Fatal(err)
	}
	return paths(c.Entries)
}

// TestMatchesBuildKitWalker compares what we send with what BuildKit's walker
// sends, on a tree and pattern sets chosen to hit the corner cases.
func TestMatchesBuildKitWalker(t *testing.T) {
	dir := mkTree(t, map[string]string{
		"Dockerfile": "", "a.go": "", "README.md": "", "x/b.go": "", "x/y/c.go": "", "x/y/z/d.md": "",
		"a.env": "", "keep.env": "", "sub/b.env": "", "build/out": "", "sub/build/out": "",
		"dir/f": "", "dirx/f": "", "logs/a.log": "", "logs/keep.log": "", "logs/deep/z.log": "",
		"docs/guide.md": "", "node_modules/m/index.js": "", "node_modules/m/R.md": "", "empty/": "",
		".git/HEAD": "", ".git/objects/ab/cd": "", "vendor/keep/a": "", "vendor/other/b": "",
		"a/b/c/d/e": "", "link": "->x", "space name/f": "", "weird[1]/f": "",
	})
	sets := []string{
		"",
		"**/*.go",
		"*.go",
		"*.env\n!keep.env",
		"!keep.env\n*.env",
		"/build",
		"dir/",
		"logs\n!logs/keep.log",
		"docs/**",
		"node_modules\n!**/*.md",
		"*\n!x",
		"*\n!x/y/z",
		"**\n!**/*.md",
		"vendor\n!vendor/keep",
		"a/b\n!a",
		"a\n!a/b/c\na/b/c/d",
		"x/*\n!x/y",
		"**/build\n!sub/build",
		".git\n**/.git",
		"?.go\n[ak]*.env",
		"weird\\[1\\]",
		"space name",
		"link",
		"*/*\n!*/y",
		"**/y/**\n!x/y/z/d.md",
		"empty",
		"x/y/*\n!x/y/z/*.md",
	}
	for _, s := range sets {
		ig, err := ParseIgnore([]byte(s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := buildkitSent(t, dir, ig.Patterns)
		got := oursSent(t, dir, ig.Patterns)
		if !equalStrings(got, want) {
			t.Errorf("patterns %q:\n ours     %q\n buildkit %q", strings.Split(s, "\n"), got, want)
		}
	}
}
