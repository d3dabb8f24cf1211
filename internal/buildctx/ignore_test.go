package buildctx

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestBuildKitSemantics pins the tricky .dockerignore cases to what BuildKit
// sends (patternmatcher semantics with parent-directory results).
func TestBuildKitSemantics(t *testing.T) {
	tree := map[string]string{
		"Dockerfile":           "FROM scratch\n",
		"a.go":                 "",
		"README.md":            "",
		"x/b.go":               "",
		"x/y/c.go":             "",
		"x/notes.txt":          "",
		"a.env":                "",
		"keep.env":             "",
		"sub/b.env":            "",
		"build/out":            "",
		"sub/build/out":        "",
		"dir/f":                "",
		"dirx/f":               "",
		"logs/a.log":           "",
		"logs/keep.log":        "",
		"logs/deep/z.log":      "",
		"docs/guide.md":        "",
		"node_modules/m/index": "",
		"node_modules/m/R.md":  "",
	}
	all := []string{"Dockerfile", "README.md", "a.env", "a.go", "build/out", "dir/f", "dirx/f", "docs/guide.md", "keep.env", "logs/a.log", "logs/deep/z.log", "logs/keep.log", "node_modules/m/R.md", "node_modules/m/index", "sub/b.env", "sub/build/out", "x/b.go", "x/notes.txt", "x/y/c.go"}
	without := func(drop ...string) []string {
		var out []string
	next:
		for _, p := range all {
			for _, d := range drop {
				if p == d {
					continue next
				}
			}
			out = append(out, p)
		}
		return out
	}
	tests := []struct {
		name      string
		ignore    string
		want      []string
		wantDirs  []string // directories that must be sent
		forced    bool     // excluded folders had to be walked
		noEntries []string // paths that must not be sent
	}{
		{name: "no patterns", ignore: "", want: all},
		{name: "double star suffix", ignore: "**/*.go", want: without("a.go", "x/b.go", "x/y/c.go")},
		{name: "star does not cross slash", ignore: "*.go", want: without("a.go")},
		{name: "exception after wildcard", ignore: "*.env\n!keep.env", want: without("a.env")},
		{name: "exception order matters", ignore: "!keep.env\n*.env", want: without("a.env", "keep.env")},
		{name: "leading slash is context root", ignore: "/build", want: without("build/out")},
		{name: "dir with slash equals dir", ignore: "dir/", want: without("dir/f"), noEntries: []string{"dir"}},
		{name: "dir without slash", ignore: "dir", want: without("dir/f"), noEntries: []string{"dir"}},
		{name: "exception re-includes file in excluded dir", ignore: "logs\n!logs/keep.log", want: without("logs/a.log", "logs/deep/z.log"), wantDirs: []string{"logs"}, forced: true, noEntries: []string{"logs/deep"}},
		{name: "trailing double star keeps dir", ignore: "docs/**", want: without("docs/guide.md"), wantDirs: []string{"docs"}},
		{name: "wildcard exception forces walk", ignore: "node_modules\n!**/*.md", want: without("node_modules/m/index"), wantDirs: []string{"node_modules", "node_modules/m"}, forced: true},
		{name: "everything but src", ignore: "*\n!x", want: []string{"x/b.go", "x/notes.txt", "x/y/c.go"}},
		{name: "comments blanks bom spaces", ignore: "\ufeff# comment\n\n   logs   \n#x\n", want: without("logs/a.log", "logs/deep/z.log", "logs/keep.log")},
		{name: "question mark", ignore: "?.go", want: without("a.go")},
		{name: "character class", ignore: "[ak]*.env", want: without("a.env", "keep.env")},
		{name: "nested double star dir", ignore: "**/build", want: without("build/out", "sub/build/out")},
		{name: "dot slash prefix cleaned", ignore: "./x/y", want: without("x/y/c.go")},
		{name: "re-exclude after exception", ignore: "*.md\n!README.md\nREADME.md", want: without("README.md")},
	}
	dir := mkTree(t, tree)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(tc.ignore), 0o644); err != nil {
				t.Fatal(err)
			}
			c, got := sentFiles(t, dir)
			// .dockerignore itself is part of the context unless excluded.
			got = removeString(got, ".dockerignore")
			if !equalStrings(got, tc.want) {
				t.Errorf("sent files\n got %q\nwant %q", got, tc.want)
			}
			for _, d := range tc.wantDirs {
				if e, ok := c.Lookup(d); !ok || !e.IsDir() {
					t.Errorf("directory %s not sent", d)
				}
			}
			for _, p := range tc.noEntries {
				if _, ok := c.Lookup(p); ok {
					t.Errorf("%s sent, want excluded", p)
				}
			}
			if (c.Stats.ForcedWalkFiles > 0) != tc.forced {
				t.Errorf("ForcedWalkFiles = %d, want forced=%v", c.Stats.ForcedWalkFiles, tc.forced)
			}
			// Every sent path agrees with the matcher's own verdict.
			for _, p := range got {
				if ex, err := c.Ignore.Matcher.excludedWalk(p); err != nil || ex {
					t.Errorf("%s sent but matcher says excluded (err %v)", p, err)
				}
			}
		})
	}
}

func removeString(ss []string, s string) []string {
	out := ss[:0:0]
	for _, x := range ss {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func TestPrefixExceptionSkipsOtherDirs(t *testing.T) {
	dir := mkTree(t, map[string]string{
		".dockerignore":     "vendor\n!vendor/keep",
		"vendor/keep/a":     "",
		"vendor/other/b":    "",
		"vendor/other/c/d":  "",
		"vendor/third/e":    "",
		"node_modules/x/y":  "",
		"src/main.go":       "",
		"vendor/keep/sub/f": "",
	})
	c, got := sentFiles(t, dir)
	want := []string{".dockerignore", "node_modules/x/y", "src/main.go", "vendor/keep/a", "vendor/keep/sub/f"}
	if !equalStrings(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if c.Stats.DirsSkipped != 2 { // vendor/other, vendor/third
		t.Errorf("DirsSkipped = %d, want 2", c.Stats.DirsSkipped)
	}
	if c.Stats.ForcedWalkFiles != 0 {
		t.Errorf("ForcedWalkFiles = %d, want 0 (no file walked in an excluded dir)", c.Stats.ForcedWalkFiles)
	}
}

func TestNoExceptionsPrunesExcludedDirs(t *testing.T) {
	dir := mkTree(t, map[string]string{
		".dockerignore":    "node_modules\n.git",
		"node_modules/a/b": "",
		"node_modules/c":   "",
		".git/HEAD":        "",
		"app.js":           "",
	})
	c, got := sentFiles(t, dir)
	if !equalStrings(got, []string{".dockerignore", "app.js"}) {
		t.Fatalf("got %q", got)
	}
	if c.Stats.FilesWalked != 2 || c.Stats.DirsSkipped != 2 || c.Stats.DirsWalked != 1 {
		t.Errorf("stats = %+v, want 2 files walked, 2 dirs skipped, 1 dir walked", c.Stats)
	}
}

func TestPerDockerfileIgnoreTakesPrecedence(t *testing.T) {
	dir := mkTree(t, map[string]string{
		".dockerignore":                     "a",
		"build/app.Dockerfile":              "FROM scratch",
		"build/app.Dockerfile.dockerignore": "b",
		"a":                                 "",
		"b":                                 "",
	})
	ig, err := LoadIgnore(dir, filepath.Join(dir, "build", "app.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !ig.PerDockerfile || !strings.HasSuffix(ig.Path, "app.Dockerfile.dockerignore") {
		t.Fatalf("ignore file = %s (per-Dockerfile %v)", ig.Path, ig.PerDockerfile)
	}
	c, err := Walk(context.Background(), dir, ig)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup("a"); !ok {
		t.Error("a excluded, but the per-Dockerfile ignore file does not exclude it")
	}
	if _, ok := c.Lookup("b"); ok {
		t.Error("b sent, but the per-Dockerfile ignore file excludes it")
	}
	// Another Dockerfile in the same context falls back to the root file.
	ig2, err := LoadIgnore(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if ig2.PerDockerfile || ig2.Path != filepath.Join(dir, ".dockerignore") {
		t.Errorf("fallback ignore file = %s", ig2.Path)
	}
}

func TestMalformedPatterns(t *testing.T) {
	tests := []struct {
		content  string
		wantLine string
		wantPat  string
	}{
		{"ok\n!\n", "line 2", `"!"`},
		{"# c\n\n[abc\n", "line 3", `"[abc"`},
		{"a\nb\nfoo[\\\n", "line 3", `foo[`},
	}
	for _, tc := range tests {
		dir := mkTree(t, map[string]string{".dockerignore": tc.content})
		_, err := LoadIgnore(dir, "")
		if err == nil {
			t.Errorf("%q: no error", tc.content)
			continue
		}
		msg := err.Error()
		for _, want := range []string{".dockerignore", tc.wantLine, tc.wantPat} {
			if !strings.Contains(msg, want) {
				t.Errorf("%q: error %q does not mention %s", tc.content, msg, want)
			}
		}
	}
}

func TestHugeIgnoreFileRejected(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("a\n", MaxIgnoreFileSize/2+10)
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadIgnore(dir, "")
	if err == nil || !strings.Contains(err.Error(), ".dockerignore") || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want size error naming the file", err)
	}
	// A single line longer than bufio's limit is an error too, not a panic.
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(strings.Repeat("x", 100_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIgnore(dir, ""); err == nil || !strings.Contains(err.Error(), ".dockerignore") {
		t.Fatalf("long line: err = %v, want error naming the file", err)
	}
}

func TestSymlinksNotFollowed(t *testing.T) {
	dir := mkTree(t, map[string]string{
		"a/loop":     "->..",
		"a/self":     "->self",
		"a/f":        "x",
		"etc-link":   "->/etc",
		"dangling":   "->nowhere",
		"Dockerfile": "FROM scratch",
	})
	c, got := sentFiles(t, dir)
	want := []string{"Dockerfile", "a/f", "a/loop", "a/self", "dangling", "etc-link"}
	if !equalStrings(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	e, _ := c.Lookup("a/loop")
	if e.Mode&os.ModeSymlink == 0 || e.Size != 0 {
		t.Errorf("a/loop = %+v, want a symlink entry with no bytes", e)
	}
	if c.Stats.DirsWalked != 2 {
		t.Errorf("DirsWalked = %d, want 2 (root and a; links not followed)", c.Stats.DirsWalked)
	}
}

func TestUnreadableDirNoted(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permission bits do not stop root from reading, cannot make an unreadable dir")
	}
	dir := mkTree(t, map[string]string{"locked/f": "", "ok": ""})
	locked := filepath.Join(dir, "locked")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(locked, 0o755)
	c, _ := sentFiles(t, dir)
	if len(c.Unreadable) != 1 || c.Unreadable[0] != "locked" {
		t.Fatalf("Unreadable = %q, want [locked]", c.Unreadable)
	}
}

func TestWalkCancelledAndBadDir(t *testing.T) {
	dir := mkTree(t, map[string]string{"a/b": ""})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Walk(ctx, dir, nil); err == nil {
		t.Error("cancelled walk succeeded")
	}
	if _, err := Walk(context.Background(), filepath.Join(dir, "missing"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing dir: err = %v", err)
	}
	if _, err := Walk(context.Background(), filepath.Join(dir, "a", "b"), nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as context: err = %v", err)
	}
}

func TestCorpusIgnoreFiles(t *testing.T) {
	corpus := testimages.SharedCorpus("dockerignore", "KENSA_DOCKERIGNORE_CORPUS")
	ents, err := os.ReadDir(corpus)
	if err != nil {
		t.Skipf("optional corpus %s not available: %v", corpus, err)
	}
	tree := map[string]string{
		"Dockerfile": "", "package.json": "", "src/index.js": "", "node_modules/x/i.js": "",
		".git/HEAD": "", "build/app.js": "", "npm-debug.log": "", "sub/.DS_Store": "", "sub/node_modules/y": "",
		".env": "", "target/debug/app": "", "README.md": "",
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(corpus, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dir := mkTree(t, tree)
		if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, got := sentFiles(t, dir)
		if len(got) == 0 || c.Stats.Patterns == 0 {
			t.Errorf("%s: sent %d files with %d patterns", e.Name(), len(got), c.Stats.Patterns)
		}
		for _, p := range got {
			if ex, _ := c.Ignore.Matcher.Excluded(p); ex {
				t.Errorf("%s: %s sent but excluded", e.Name(), p)
			}
		}
		n++
	}
	if n == 0 {
		t.Fatal("corpus has no .dockerignore files")
	}
	t.Logf("evaluated %d corpus .dockerignore files", n)
}

func TestInvalidUTF8PatternRejected(t *testing.T) {
	_, err := ParseIgnore([]byte("ok\n*.\x9c\x9c\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("err = %v, want UTF-8 error on line 2", err)
	}
	_, err = ParseIgnore([]byte("a\x00b\n"))
	if err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("err = %v, want NUL error", err)
	}
}

func TestExcludedUsesWalkSemantics(t *testing.T) {
	ig, err := ParseIgnore([]byte("a/b\n!a\n"))
	if err != nil {
		t.Fatal(err)
	}
	// MatchesOrParentMatches would re-include a/b/f through its parent "a";
	// BuildKit's walker (and Excluded) keep it excluded.
	for p, want := range map[string]bool{"a": false, "a/b": true, "a/b/f": true, "a/c": false, ".": false} {
		got, err := ig.Matcher.Excluded(p)
		if err != nil || got != want {
			t.Errorf("Excluded(%q) = %v, %v; want %v", p, got, err, want)
		}
	}
	dir := mkTree(t, map[string]string{"a/b/f": "", "a/c": ""})
	if got := buildkitSent(t, dir, ig.Patterns); !equalStrings(got, []string{"a", "a/c"}) {
		t.Errorf("buildkit sends %q", got)
	}
}
