package buildctx

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTree turns fuzz text into at most 12 safe context paths (a trailing
// "/" makes a directory, "name->target" a symlink, made after everything
// else), and writes them under dir. It returns the files (symlinks
// included) and directories actually created, as slash paths.
func fuzzTree(t *testing.T, dir, spec string) (files, dirs []string) {
	n := 0
	var links [][2]string
	defer func() {
		for _, l := range links {
			abs := filepath.Join(dir, filepath.FromSlash(l[0]))
			if _, err := os.Lstat(abs); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
				continue
			}
			if err := os.Symlink(l[1], abs); err == nil {
				files = append(files, l[0])
			}
		}
	}()
	for _, line := range strings.Split(spec, "\n") {
		if n == 12 {
			break
		}
		if name, target, ok := strings.Cut(line, "->"); ok {
			if target == "" || strings.ContainsRune(target, 0) || len(target) > 200 {
				continue
			}
			if clean := strings.Trim(name, "/"); validFuzzPath(clean) && !strings.HasSuffix(name, "/") {
				links = append(links, [2]string{clean, target})
				n++
			}
			continue
		}
		isDir := strings.HasSuffix(line, "/")
		line = strings.Trim(line, "/")
		if !validFuzzPath(line) {
			continue
		}
		abs := filepath.Join(dir, filepath.FromSlash(line))
		var err error
		if isDir {
			err = os.MkdirAll(abs, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(abs), 0o755); err == nil {
			err = os.WriteFile(abs, []byte("x"), 0o644)
		}
		if err != nil {
			continue // e.g. a file where a directory is needed
		}
		n++
		if isDir {
			dirs = append(dirs, line)
		} else {
			files = append(files, line)
		}
	}
	return files, dirs
}

// validFuzzPath accepts short, clean, relative slash paths.
func validFuzzPath(p string) bool {
	if p == "" || p == ".dockerignore" || len(p) > 120 || !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return false
	}
	parts := strings.Split(p, "/")
	if len(parts) > 6 {
		return false
	}
	for _, s := range parts {
		if s == "" || s == "." || s == ".." || len(s) > 40 {
			return false
		}
	}
	return true
}

// FuzzIgnore evaluates fuzzed .dockerignore content against a fuzzed tree
// and checks: no panic; a malformed file is a clean error; what we send is
// exactly what BuildKit's walker (fsutil) sends; no excluded file is ever
// reported as sent or resolved by a COPY; and Check runs on the result.
func FuzzIgnore(f *testing.F) {
	f.Add("node_modules\n!**/*.md", "node_modules/a/R.md\nnode_modules/a/i.js\nsrc/x.go")
	f.Add("secret\n", "cur->rel/v2\nrel/v2/.env\nloop->loop\nup->../../rel\nabs->/etc\nin->secret/k\nsecret/k")
	f.Fuzz(func(t *testing.T, content, spec string) {
		if len(content) > 4096 || len(spec) > 2048 {
			return
		}
		ig, err := ParseIgnore([]byte(content))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		dir := t.TempDir()
		files, _ := fuzzTree(t, dir, spec)
		c, err := Walk(context.Background(), dir, ig)
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		got := paths(c.Entries)
		want := buildkitSent(t, dir, ig.Patterns)
		if !equalStrings(got, want) {
			t.Fatalf("patterns %q:\n ours     %q\n buildkit %q", ig.Patterns, got, want)
		}
		sent := map[string]bool{}
		for _, p := range got {
			sent[p] = true
		}
		for _, p := range files {
			ex, err := ig.Matcher.excludedWalk(p)
			if err != nil {
				t.Fatalf("match %q: %v", p, err)
			}
			if ex == sent[p] {
				t.Fatalf("%q: excluded=%v but sent=%v (patterns %q)", p, ex, sent[p], ig.Patterns)
			}
			res, matched := c.Resolve(p)
			if HasWildcards(p) {
				continue // a name with glob characters is a pattern to COPY
			}
			if e, ok := c.Lookup(p); ok && e.Mode&os.ModeSymlink != 0 {
				continue // COPY follows the link; Resolve names its target
			}
			if ex && (matched || len(res) > 0) {
				t.Fatalf("excluded %q resolved by COPY: %v", p, paths(res))
			}
			if !ex && (!matched || len(res) != 1 || res[0].Path != p) {
				t.Fatalf("sent %q not resolved: %v %v", p, paths(res), matched)
			}
			_, _ = ig.Matcher.Excluded(p)
			_ = ig.Matcher.ExcludedBy(p)
		}
		if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		cps := []CopySource{{Line: 1, Instruction: "COPY", Sources: append([]string{"."}, files...)}}
		fs, st, err := Check(context.Background(), Options{Dir: dir, Copies: cps})
		if err != nil {
			// .dockerignore is now in the tree and may itself be excluded
			// or not; the content already parsed, so Check must not fail.
			t.Fatalf("check: %v", err)
		}
		if st.FilesSent > len(files)+1 {
			t.Fatalf("sent %d files from a tree of %d", st.FilesSent, len(files)+1)
		}
		for _, fd := range fs {
			if fd.ID == "KS-CX-002" {
				for _, p := range files {
					if ex, _ := ig.Matcher.excludedWalk(p); ex && (strings.Contains(fd.Message, ": "+p+" [") || strings.Contains(fd.Message, ", "+p+" [")) {
						t.Fatalf("excluded %q reported as sent: %s", p, fd.Message)
					}
				}
			}
		}
	})
}
