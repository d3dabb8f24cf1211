package buildctx

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
)

// Entry is one path of the build context that the builder would receive.
type Entry struct {
	// Path is slash-separated and relative to the context root.
	Path string
	// Size is the byte size of a regular file (0 for directories, symlinks
	// and special files).
	Size int64
	// Mode holds the file type bits (directory, symlink, ...) and, for
	// non-directories, the permissions, from lstat: symlinks are never
	// followed. Directories are not stat'ed (only fs.ModeDir is meaningful).
	Mode fs.FileMode
}

// IsDir reports whether the entry is a directory.
func (e Entry) IsDir() bool { return e.Mode.IsDir() }

// Context is the result of walking a build context once: every entry the
// builder would receive after .dockerignore, and what the walk cost.
type Context struct {
	// Dir is the context root as given to Walk.
	Dir string
	// Ignore holds the patterns the walk applied.
	Ignore *Ignore
	// Entries are the files, symlinks and directories sent, sorted by Path.
	Entries []Entry
	// Stats counts the walk's work and result.
	Stats Stats
	// Unreadable lists context-relative paths the walk could not read
	// (permission denied, vanished). BuildKit fails the build on an
	// unreadable path that is not excluded. Stats.Unreadable holds the
	// same list after Check.
	Unreadable []string
}

// Walk walks the context folder dir once, applying ig (nil means no ignore
// file) the way BuildKit's context walker does: excluded directories are
// skipped unless a `!` exception could re-include something below them,
// symlinks are recorded as links and never followed, and unreadable
// directories are noted rather than fatal. Only metadata is read, never file
// contents.
func Walk(ctx context.Context, dir string, ig *Ignore) (*Context, error) {
	start := time.Now()
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s: not a directory", dir)
	}
	if ig == nil {
		m, _ := NewMatcher(nil)
		ig = &Ignore{Matcher: m}
	}
	w := &walker{ctx: ctx, m: ig.Matcher, keptDirs: map[string]bool{".": true}}
	w.c = &Context{Dir: dir, Ignore: ig}
	w.c.Stats.Patterns = len(ig.Patterns)
	w.c.Stats.Exceptions = ig.Exceptions()
	if err := w.dir(dir, "", patternmatcher.MatchInfo{}, false); err != nil {
		return nil, err
	}
	w.addMissingParents()
	sort.Slice(w.c.Entries, func(i, j int) bool { return w.c.Entries[i].Path < w.c.Entries[j].Path })
	w.c.Stats.Elapsed = time.Since(start)
	return w.c, nil
}

type walker struct {
	ctx      context.Context
	m        *Matcher
	c        *Context
	keptDirs map[string]bool
	// orphans are kept entries whose parent directory is excluded; their
	// parents are still sent (BuildKit sends the parents of re-included
	// paths).
	orphans []string
}

// dir reads one directory. rel is its context-relative path ("" for the
// root); info holds its per-pattern match results; excluded says whether the
// directory itself is excluded (walked only because an exception may
// re-include something below it).
func (w *walker) dir(abs, rel string, info patternmatcher.MatchInfo, excluded bool) error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("walk build context %s: %w", w.c.Dir, err)
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		if !excluded {
			w.c.Unreadable = append(w.c.Unreadable, relOrDot(rel))
		}
		// os.ReadDir returns what it could read before the error.
		if len(ents) == 0 {
			return nil
		}
	}
	w.c.Stats.DirsWalked++
	for _, e := range ents {
		p := e.Name()
		if rel != "" {
			p = rel + "/" + p
		}
		ex, childInfo, err := w.m.match(p, info)
		if err != nil {
			return fmt.Errorf("match %s against %s: %w", p, w.c.Ignore.Path, err)
		}
		childAbs := filepath.Join(abs, e.Name())
		if e.IsDir() {
			if ex {
				if w.m.CanSkipDir(p) {
					w.c.Stats.DirsSkipped++
					continue
				}
			} else {
				w.keep(Entry{Path: p, Mode: fs.ModeDir | 0o755}, excluded)
				w.keptDirs[p] = true
			}
			if err := w.dir(childAbs, p, childInfo, ex); err != nil {
				return err
			}
			continue
		}
		w.c.Stats.FilesWalked++
		if excluded {
			w.c.Stats.ForcedWalkFiles++
		}
		if ex {
			w.c.Stats.FilesExcluded++
			continue
		}
		fi, err := e.Info()
		if err != nil {
			w.c.Unreadable = append(w.c.Unreadable, p)
			continue
		}
		ent := Entry{Path: p, Mode: fi.Mode()}
		if fi.Mode().IsRegular() {
			ent.Size = fi.Size()
		}
		w.keep(ent, excluded)
		w.c.Stats.FilesSent++
		w.c.Stats.BytesSent += ent.Size
	}
	return nil
}

func (w *walker) keep(e Entry, parentExcluded bool) {
	w.c.Entries = append(w.c.Entries, e)
	if parentExcluded {
		w.orphans = append(w.orphans, e.Path)
	}
}

// addMissingParents records the excluded directories that must still be sent
// because something below them was re-included.
func (w *walker) addMissingParents() {
	for _, p := range w.orphans {
		for d := path.Dir(p); d != "." && !w.keptDirs[d]; d = path.Dir(d) {
			w.keptDirs[d] = true
			w.c.Entries = append(w.c.Entries, Entry{Path: d, Mode: fs.ModeDir | 0o755})
		}
	}
	w.orphans = nil
}

func relOrDot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// Lookup returns the entry at the context-relative path p, if it is sent.
func (c *Context) Lookup(p string) (Entry, bool) {
	p = cleanRel(p)
	i := sort.Search(len(c.Entries), func(i int) bool { return c.Entries[i].Path >= p })
	if i < len(c.Entries) && c.Entries[i].Path == p {
		return c.Entries[i], true
	}
	return Entry{}, false
}

// Under returns the sent entries strictly below directory dir ("." for the
// whole context), in path order. The slice aliases Entries.
func (c *Context) Under(dir string) []Entry {
	dir = cleanRel(dir)
	if dir == "." {
		return c.Entries
	}
	prefix := dir + "/"
	lo := sort.Search(len(c.Entries), func(i int) bool { return c.Entries[i].Path >= prefix })
	hi := lo
	for hi < len(c.Entries) && strings.HasPrefix(c.Entries[hi].Path, prefix) {
		hi++
	}
	return c.Entries[lo:hi]
}

// HasWildcards reports whether a COPY source is a wildcard pattern: it holds
// an unescaped `*`, `?` or `[` (BuildKit then expands it with Go's
// filepath.Match rules; a source without one is a literal path, backslashes
// included).
func HasWildcards(src string) bool {
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// Resolve returns the files (non-directory entries) that the COPY/ADD source
// src would copy from this context, with BuildKit's source semantics: src is
// relative to the context root (a leading `/` and `..` cannot leave it); a
// directory means its contents, recursively; `.` is the whole context; a
// source with wildcards matches each path component with filepath.Match.
// matched is false when src names nothing that was sent (the build fails
// with "not found"); it is true for an empty directory, which yields no
// files.
func (c *Context) Resolve(src string) (files []Entry, matched bool) {
	p := cleanRel(src)
	if p == "." {
		return filesOnly(c.Entries), true
	}
	if !HasWildcards(p) {
		rp, ok := c.FollowLinks(p)
		if !ok {
			return nil, false
		}
		if rp == "." {
			return filesOnly(c.Entries), true
		}
		e, _ := c.Lookup(rp)
		if e.IsDir() {
			return filesOnly(c.Under(rp)), true
		}
		return []Entry{e}, true
	}
	parts := strings.Split(p, "/")
	for _, e := range c.Entries {
		// Entries below a matched directory have more components, so they
		// are never matched (and counted) twice.
		if strings.Count(e.Path, "/")+1 != len(parts) || !matchParts(parts, e.Path) {
			continue
		}
		matched = true
		if e.IsDir() {
			files = append(files, filesOnly(c.Under(e.Path))...)
			continue
		}
		files = append(files, e)
	}
	return files, matched
}

// maxLinkHops bounds symlink resolution (Linux's own limit is 40).
const maxLinkHops = 40

// FollowLinks resolves symlinks in the context-relative path p the way
// BuildKit resolves a COPY source: every component, the last one included,
// is followed, and targets are scoped to the context root (an absolute or
// `..` target cannot leave it). It returns the resolved path and whether it
// names something that is sent; a dangling link, a link leaving the sent
// set, or a loop yields false.
func (c *Context) FollowLinks(p string) (string, bool) {
	parts := strings.Split(cleanRel(p), "/")
	if len(parts) == 1 && parts[0] == "." {
		return ".", true
	}
	cur, hops := "", 0
	for i := 0; i < len(parts); i++ {
		next := path.Join(cur, parts[i])
		e, ok := c.Lookup(next)
		if !ok {
			return "", false
		}
		if e.Mode&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", false
		}
		target, err := os.Readlink(filepath.Join(c.Dir, filepath.FromSlash(next)))
		if err != nil {
			return "", false
		}
		base := path.Join("/", cur, filepath.ToSlash(target))
		if path.IsAbs(target) {
			base = target
		}
		np := cleanRel(path.Join(append([]string{base}, parts[i+1:]...)...))
		if np == "." {
			return ".", true
		}
		parts, cur, i = strings.Split(np, "/"), "", -1
	}
	return cur, true
}

func matchParts(parts []string, p string) bool {
	for i, seg := range strings.Split(p, "/") {
		ok, err := path.Match(parts[i], seg)
		if err != nil || !ok {
			return false
		}
	}
	return true
}

func filesOnly(es []Entry) []Entry {
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		if !e.IsDir() {
			out = append(out, e)
		}
	}
	return out
}
