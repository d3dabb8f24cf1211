// Package buildctx evaluates a Docker build context the way BuildKit does:
// it reads .dockerignore (or the per-Dockerfile `<name>.dockerignore`), walks
// the context folder once, works out which files each COPY/ADD source would
// really send into the image, and reports the KS-CX-* build-context rules
// (missing .dockerignore, secrets sent into the image, costly ignore files,
// large contexts, COPY sources that .dockerignore excludes).
//
// Pattern semantics are those of github.com/moby/patternmatcher, the library
// BuildKit and the docker CLI use, applied the way BuildKit's context walker
// (tonistiigi/fsutil) applies them: each path is matched with the parent
// directory's per-pattern results, an excluded directory is skipped unless a
// `!` exception could re-include something below it, and symlinks are sent
// as links, never followed.
package buildctx

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// MaxIgnoreFileSize bounds how much of a .dockerignore file is read. Real
// files are a few KB; anything larger is rejected as hostile input.
const MaxIgnoreFileSize = 4 << 20

// Ignore is a loaded .dockerignore: where it came from and its patterns.
type Ignore struct {
	// Path is the file the patterns were read from; empty when the context
	// has no ignore file.
	Path string
	// PerDockerfile is true when Path is a `<Dockerfile>.dockerignore` that
	// takes precedence over the context root's .dockerignore.
	PerDockerfile bool
	// Patterns are the cleaned patterns in file order, `!` prefix kept.
	Patterns []string
	// Lines gives, for each pattern, its 1-based line in the file.
	Lines []int
	// Matcher evaluates Patterns.
	Matcher *Matcher
}

// Exceptions counts the `!` re-inclusion patterns.
func (ig *Ignore) Exceptions() int {
	n := 0
	for _, p := range ig.Patterns {
		if strings.HasPrefix(p, "!") {
			n++
		}
	}
	return n
}

// IgnoreFileFor returns the ignore file BuildKit would use for a build of
// dir with the Dockerfile at dockerfilePath (which may be empty): the
// per-Dockerfile `<Dockerfile-name>.dockerignore` next to the Dockerfile when
// it exists, else `<dir>/.dockerignore`. perDockerfile tells which one was
// chosen; found is false when neither exists.
func IgnoreFileFor(dir, dockerfilePath string) (path string, perDockerfile, found bool) {
	if dockerfilePath != "" {
		p := dockerfilePath + ".dockerignore"
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, true, true
		}
	}
	p := filepath.Join(dir, ".dockerignore")
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return p, false, true
	}
	return p, false, false
}

// LoadIgnore reads the ignore file BuildKit would use for a build of dir
// with the Dockerfile at dockerfilePath (see IgnoreFileFor). A context
// without an ignore file yields an Ignore with no patterns and an empty Path.
// Unreadable files and malformed patterns are errors naming the file, the
// line and the pattern.
func LoadIgnore(dir, dockerfilePath string) (*Ignore, error) {
	path, per, found := IgnoreFileFor(dir, dockerfilePath)
	if !found {
		m, _ := NewMatcher(nil)
		return &Ignore{Matcher: m}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ignore file %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxIgnoreFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read ignore file %s: %w", path, err)
	}
	if len(data) > MaxIgnoreFileSize {
		return nil, fmt.Errorf("ignore file %s: larger than %d bytes, refusing to evaluate it", path, MaxIgnoreFileSize)
	}
	ig, err := ParseIgnore(data)
	if err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", path, err)
	}
	ig.Path, ig.PerDockerfile = path, per
	return ig, nil
}

// ParseIgnore parses .dockerignore content exactly as BuildKit does
// (ignorefile.ReadAll: UTF-8 BOM stripped, `#` comment lines and blank lines
// skipped, surrounding space trimmed, patterns cleaned, leading `/` dropped,
// `!` exceptions kept) and compiles the patterns. A malformed pattern is an
// error naming its line and text.
func ParseIgnore(data []byte) (*Ignore, error) {
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	lines := patternLines(data)
	if len(lines) != len(patterns) { // cannot happen unless ReadAll changes its rules
		lines = make([]int, len(patterns))
	}
	for i, p := range patterns {
		if err := validatePattern(p); err != nil {
			return nil, fmt.Errorf("line %d: invalid pattern %q: %w", lines[i], p, err)
		}
	}
	m, err := NewMatcher(patterns)
	if err != nil {
		return nil, err
	}
	return &Ignore{Patterns: patterns, Lines: lines, Matcher: m}, nil
}

// patternLines mirrors ignorefile.ReadAll's line filter to find the line
// number of each pattern it returns.
func patternLines(data []byte) []int {
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		b := sc.Bytes()
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
		}
		if bytes.HasPrefix(b, []byte("#")) || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		out = append(out, n)
	}
	return out
}

// validatePattern compiles one pattern on its own so that a syntax error can
// be attributed to it (patternmatcher.New reports errors without naming the
// pattern, and defers regexp compilation to the first match).
func validatePattern(p string) error {
	body := strings.TrimPrefix(p, "!")
	if strings.TrimSpace(body) == "" {
		return errors.New(`"!" must be followed by a pattern`)
	}
	// patternmatcher's scanner would print errors to stderr (and match
	// U+FFFD) for these; a pattern that is not text is rejected.
	if !utf8.ValidString(body) {
		return errors.New("pattern is not valid UTF-8 text")
	}
	if strings.IndexByte(body, 0) >= 0 {
		return errors.New("pattern contains a NUL byte")
	}
	pm, err := patternmatcher.New([]string{body})
	if err != nil {
		return err
	}
	if _, err := pm.MatchesOrParentMatches("a/b"); err != nil {
		return err
	}
	return nil
}

// Matcher decides whether a context path is excluded by .dockerignore
// patterns. It is not safe for concurrent use (patternmatcher compiles
// patterns lazily).
type Matcher struct {
	pm       *patternmatcher.PatternMatcher
	patterns []string
	// prefixOnlyExceptions is true when no `!` pattern has wildcards other
	// than a trailing `/*` or `/**`; only then can BuildKit skip an excluded
	// directory without walking it.
	prefixOnlyExceptions bool
	exceptionDirs        []string // exception patterns without trailing glob, plus "/"
}

// NewMatcher compiles patterns (as returned by ParseIgnore) into a Matcher.
// Nil or empty patterns exclude nothing.
func NewMatcher(patterns []string) (*Matcher, error) {
	for _, p := range patterns {
		if err := validatePattern(p); err != nil {
			return nil, fmt.Errorf("invalid pattern %q: %w", p, err)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("compile patterns: %w", err)
	}
	m := &Matcher{pm: pm, patterns: patterns, prefixOnlyExceptions: true}
	for _, p := range pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		s := trimTrailingGlob(p.String())
		if strings.ContainsAny(s, "*[]?^\\") {
			m.prefixOnlyExceptions = false
		}
		m.exceptionDirs = append(m.exceptionDirs, s+"/")
	}
	return m, nil
}

func trimTrailingGlob(s string) string {
	s = strings.TrimSuffix(s, "/**")
	return strings.TrimSuffix(s, "/*")
}

// Empty reports whether the matcher has no patterns.
func (m *Matcher) Empty() bool { return m == nil || len(m.pm.Patterns()) == 0 }

// HasExceptions reports whether any `!` pattern exists.
func (m *Matcher) HasExceptions() bool { return m != nil && m.pm.Exclusions() }

// Excluded reports whether BuildKit leaves the slash-separated
// context-relative path out of the context it sends: the path is evaluated
// component by component with each parent's per-pattern results (as
// BuildKit's walker does, which differs in corner cases from
// patternmatcher's MatchesOrParentMatches, e.g. `a/b` then `!a` keeps
// a/b/f excluded), and it is also excluded when an ancestor directory is
// excluded and pruned.
func (m *Matcher) Excluded(path string) (bool, error) {
	if m.Empty() {
		return false, nil
	}
	p := cleanRel(path)
	if p == "." {
		return false, nil
	}
	return m.excludedWalk(p)
}

// match evaluates path with its parent directory's per-pattern results, the
// way BuildKit's walker does.
func (m *Matcher) match(path string, parent patternmatcher.MatchInfo) (bool, patternmatcher.MatchInfo, error) {
	if m.Empty() {
		return false, parent, nil
	}
	return m.pm.MatchesUsingParentResults(path, parent)
}

// CanSkipDir reports whether BuildKit skips the excluded directory dir
// (context-relative) without walking it: true when there are no exceptions,
// or when every exception is a plain path (no wildcards before a trailing
// `/*` or `/**`) and none lies below dir. Otherwise the whole excluded tree
// is walked so that exceptions can re-include files inside it.
func (m *Matcher) CanSkipDir(dir string) bool {
	if !m.HasExceptions() {
		return true
	}
	if !m.prefixOnlyExceptions {
		return false
	}
	dirSlash := cleanRel(dir) + "/"
	for _, e := range m.exceptionDirs {
		if strings.HasPrefix(e, dirSlash) {
			return false
		}
	}
	return true
}

// ExcludedBy names the last non-exception pattern that matches path (or a
// parent of it), for messages; empty when none does.
func (m *Matcher) ExcludedBy(path string) string {
	if m.Empty() {
		return ""
	}
	path = cleanRel(path)
	last := ""
	for _, p := range m.patterns {
		if strings.HasPrefix(p, "!") {
			continue
		}
		pm, err := patternmatcher.New([]string{p})
		if err != nil {
			continue
		}
		if ok, _ := pm.MatchesOrParentMatches(path); ok {
			last = p
		}
	}
	return last
}

// cleanRel turns a COPY-style or user path into a clean context-relative
// slash path: "/a/./b/" → "a/b", "" or "/" → ".", and ".." cannot climb
// above the context root.
func cleanRel(p string) string {
	p = filepath.ToSlash(p)
	c := path.Clean("/" + p)
	if c == "/" {
		return "."
	}
	return c[1:]
}

// excludedWalk evaluates p the way the walker does, component by component
// with parent match results; it also counts p as excluded when an ancestor
// directory would have been pruned (so p is never seen).
func (m *Matcher) excludedWalk(p string) (excluded bool, err error) {
	ex, pruned, err := m.walkVerdict(p)
	return ex || pruned, err
}

func (m *Matcher) walkVerdict(p string) (excluded, pruned bool, err error) {
	var info patternmatcher.MatchInfo
	parts := strings.Split(p, "/")
	for i := range parts {
		sub := strings.Join(parts[:i+1], "/")
		ex, next, err := m.match(sub, info)
		if err != nil {
			return false, false, err
		}
		if i < len(parts)-1 && ex && m.CanSkipDir(sub) {
			return true, true, nil
		}
		info = next
		excluded = ex
	}
	return excluded, false, nil
}
