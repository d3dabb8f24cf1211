package buildctx

import (
	"context"
	"fmt"
	"github.com/kensa-sec/kensa/internal/bytesize"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
)

// Default thresholds used when the matching Options field is 0. A negative
// Options value disables that threshold.
const (
	// DefaultMaxPatterns: more .dockerignore patterns than this is costly
	// (every path is matched against every pattern).
	DefaultMaxPatterns = 50
	// DefaultMaxExceptions: more `!` exceptions than this is costly (each
	// one can force excluded folders to be walked).
	DefaultMaxExceptions = 5
	// DefaultMaxForcedWalk: more files walked inside excluded folders (only
	// because an exception might re-include something there) than this is
	// costly.
	DefaultMaxForcedWalk = 10000
	// DefaultMaxBytes: a context sending more bytes than this is large.
	DefaultMaxBytes int64 = 100 << 20
	// DefaultMaxFiles: a context sending more files than this is large.
	DefaultMaxFiles = 10000
	// MaxListed is how many paths one finding names before "and N more".
	MaxListed = 10
)

// CopySource is one COPY or ADD instruction of the Dockerfile, as the
// Dockerfile parser sees it.
type CopySource struct {
	// Line and EndLine are the instruction's 1-based lines in the Dockerfile.
	Line, EndLine int
	// Instruction is "COPY" or "ADD".
	Instruction string
	// Sources are the source arguments as written (destination excluded).
	Sources []string
	// Stage names the build stage (name or index) holding the instruction.
	Stage string
	// FromStage is true when --from was given: the sources are not read
	// from the build context and are skipped.
	FromStage bool
	// Chown is the --chown value, if any.
	Chown string
}

// Options configures Check.
type Options struct {
	// Dir is the build context root.
	Dir string
	// DockerfilePath is the Dockerfile, for finding locations and the
	// per-Dockerfile `<name>.dockerignore`; may be empty.
	DockerfilePath string
	// Copies are the Dockerfile's COPY/ADD instructions.
	Copies []CopySource
	// MaxPatterns, MaxExceptions and MaxForcedWalk are the KS-CX-003
	// thresholds; MaxBytes and MaxFiles the KS-CX-004 ones. 0 means the
	// Default* value, a negative value disables the threshold.
	MaxPatterns, MaxExceptions int
	MaxBytes                   int64
	MaxFiles                   int
	MaxForcedWalk              int
}

// Stats measures the context walk.
type Stats struct {
	// Patterns and Exceptions count the .dockerignore patterns and the `!`
	// exceptions among them.
	Patterns, Exceptions int
	// FilesWalked counts non-directory entries seen (sent or excluded);
	// DirsWalked the directories read.
	FilesWalked, DirsWalked int
	// FilesSent and BytesSent count what the builder receives after
	// .dockerignore: non-directory entries and regular-file bytes. This is
	// the whole filtered context, as the classic builder sends it and as
	// BuildKit sends it for `COPY . .`; BuildKit transfers only the paths
	// the COPY/ADD sources name when none of them is the whole context.
	FilesSent int
	BytesSent int64
	// FilesExcluded counts walked files that .dockerignore excluded;
	// DirsSkipped the excluded folders pruned without walking them.
	FilesExcluded, DirsSkipped int
	// ForcedWalkFiles counts files walked inside excluded folders only
	// because a `!` exception might re-include something there.
	ForcedWalkFiles int
	// Elapsed is the wall time of loading the ignore file and walking.
	Elapsed time.Duration
	// Unreadable lists context-relative paths that could not be read
	// (permission denied, vanished while walking). They are not excluded,
	// so BuildKit would fail to send the context; callers should show them
	// as report notes.
	Unreadable []string
}

// Check evaluates the build context opts.Dir for the Dockerfile's COPY/ADD
// instructions and returns the KS-CX-* findings and the walk statistics. The
// error is non-nil only for unusable input: a missing context folder or an
// unreadable or malformed .dockerignore (the error names the file, line and
// pattern).
func Check(ctx context.Context, opts Options) ([]finding.Finding, *Stats, error) {
	start := time.Now()
	ig, err := LoadIgnore(opts.Dir, opts.DockerfilePath)
	if err != nil {
		return nil, nil, err
	}
	c, err := Walk(ctx, opts.Dir, ig)
	if err != nil {
		return nil, nil, err
	}
	c.Stats.Elapsed = time.Since(start)
	c.Stats.Unreadable = c.Unreadable
	ch := &checker{opts: opts, c: c}
	ch.noIgnore()
	ch.costlyIgnore()
	ch.largeContext()
	for _, cp := range opts.Copies {
		ch.copy(cp)
	}
	finding.Sort(ch.out)
	st := c.Stats
	return ch.out, &st, nil
}

type checker struct {
	opts Options
	c    *Context
	out  []finding.Finding
}

func limit(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (ch *checker) add(id, msg string, loc finding.Location, fix string) *finding.Finding {
	f := rules.MustLookup(id).NewFinding(msg, loc)
	if fix != "" {
		f.Fix = fix
	}
	ch.out = append(ch.out, f)
	return &ch.out[len(ch.out)-1]
}

// dockerfileLoc locates context-wide findings: the Dockerfile when known,
// else the context folder.
func (ch *checker) dockerfileLoc() finding.Location {
	if ch.opts.DockerfilePath != "" {
		return finding.Location{Path: ch.opts.DockerfilePath}
	}
	return finding.Location{Path: ch.opts.Dir}
}

func (ch *checker) noIgnore() {
	if ch.c.Ignore.Path != "" {
		return
	}
	st := ch.c.Stats
	msg := fmt.Sprintf("build context %s has no .dockerignore: all %s (%s) are sent to the builder", ch.opts.Dir, plural(st.FilesSent, "file"), bytesize.Format(st.BytesSent))
	var present []string
	for _, top := range []string{".git", "node_modules", ".env", "dist", "build", "target", "__pycache__", ".venv"} {
		if _, ok := ch.c.Lookup(top); ok {
			present = append(present, top)
		}
	}
	fix := ""
	if len(present) > 0 {
		msg += ", including " + strings.Join(present, ", ")
		fix = fmt.Sprintf("Create %s with at least: %s, .env*, *.pem, *.key.", filepath.Join(ch.opts.Dir, ".dockerignore"), strings.Join(present, ", "))
	}
	ch.add("KS-CX-001", msg, ch.dockerfileLoc(), fix)
}

func (ch *checker) costlyIgnore() {
	st := ch.c.Stats
	var why []string
	if m := limit(ch.opts.MaxPatterns, DefaultMaxPatterns); m >= 0 && st.Patterns > m {
		why = append(why, fmt.Sprintf("%d patterns (> %d)", st.Patterns, m))
	}
	if m := limit(ch.opts.MaxExceptions, DefaultMaxExceptions); m >= 0 && st.Exceptions > m {
		why = append(why, fmt.Sprintf("%d `!` exceptions (> %d)", st.Exceptions, m))
	}
	if m := limit(ch.opts.MaxForcedWalk, DefaultMaxForcedWalk); m >= 0 && st.ForcedWalkFiles > m {
		why = append(why, fmt.Sprintf("%d files walked inside excluded folders because an exception might re-include them (> %d)", st.ForcedWalkFiles, m))
	}
	if len(why) == 0 {
		return
	}
	msg := fmt.Sprintf("%s is costly: %s; the walk read %d files in %d folders in %s",
		ch.c.Ignore.Path, strings.Join(why, ", "), st.FilesWalked, st.DirsWalked, st.Elapsed.Round(time.Microsecond))
	fix := ""
	if st.ForcedWalkFiles > 0 {
		fix = "Replace wildcard `!` exceptions with plain paths (e.g. `!dist/app.js` instead of `!**/*.js`) so excluded folders can be skipped, or exclude whole folders and drop the exceptions."
	}
	ch.add("KS-CX-003", msg, finding.Location{Path: ch.c.Ignore.Path}, fix)
}

// Share is one top-level context entry's share of what is sent.
type Share struct {
	// Name is the top-level file or folder name.
	Name string
	// Files and Bytes count the non-directory entries and bytes sent
	// from it.
	Files int
	Bytes int64
}

// TopLevel sums files and bytes sent per top-level context entry, largest
// first.
func (c *Context) TopLevel() []Share {
	idx := map[string]int{}
	var out []Share
	for _, e := range c.Entries {
		if e.IsDir() {
			continue
		}
		top, _, _ := strings.Cut(e.Path, "/")
		i, ok := idx[top]
		if !ok {
			i = len(out)
			idx[top] = i
			out = append(out, Share{Name: top})
		}
		out[i].Files++
		out[i].Bytes += e.Size
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (ch *checker) largeContext() {
	st := ch.c.Stats
	var why []string
	maxB := ch.opts.MaxBytes
	if maxB == 0 {
		maxB = DefaultMaxBytes
	}
	if maxB >= 0 && st.BytesSent > maxB {
		why = append(why, fmt.Sprintf("%s sent (> %s)", bytesize.Format(st.BytesSent), bytesize.Format(maxB)))
	}
	if m := limit(ch.opts.MaxFiles, DefaultMaxFiles); m >= 0 && st.FilesSent > m {
		why = append(why, fmt.Sprintf("%d files sent (> %d)", st.FilesSent, m))
	}
	if len(why) == 0 {
		return
	}
	tops := ch.c.TopLevel()
	var parts, names []string
	for i, t := range tops {
		if i == 5 {
			break
		}
		name := t.Name
		if e, ok := ch.c.Lookup(t.Name); ok && e.IsDir() {
			name += "/"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", name, bytesize.Format(t.Bytes), plural(t.Files, "file")))
		if strings.HasSuffix(name, "/") {
			names = append(names, name)
		}
	}
	msg := fmt.Sprintf("build context %s is large: %s; biggest: %s", ch.opts.Dir, strings.Join(why, ", "), strings.Join(parts, ", "))
	fix := ""
	if len(names) > 0 {
		fix = fmt.Sprintf("Exclude what the image does not need in .dockerignore (largest folders: %s), or build from a smaller context folder.", strings.Join(names, ", "))
	}
	ch.add("KS-CX-004", msg, ch.dockerfileLoc(), fix)
}

// skipSource reports sources that are not context paths: URLs and git
// references (ADD), heredocs, and unexpanded variables.
func skipSource(s string) bool {
	switch {
	case s == "", strings.HasPrefix(s, "<<"), strings.Contains(s, "$"):
		return true
	case strings.Contains(s, "://"), strings.HasPrefix(s, "git@"):
		return true
	}
	return false
}

func (ch *checker) copy(cp CopySource) {
	if cp.FromStage {
		return
	}
	instr := cp.Instruction
	if instr == "" {
		instr = "COPY"
	}
	loc := finding.Location{Path: ch.opts.DockerfilePath, Line: cp.Line, EndLine: cp.EndLine}
	where := fmt.Sprintf("%s %s at line %d", instr, strings.Join(cp.Sources, " "), cp.Line)
	if cp.Stage != "" {
		where += fmt.Sprintf(" (stage %s)", cp.Stage)
	}
	seen := map[string]bool{}
	var files []Entry
	for _, src := range cp.Sources {
		if skipSource(src) {
			continue
		}
		got, matched := ch.c.Resolve(src)
		if !matched {
			ch.missing(instr, src, loc)
			continue
		}
		for _, e := range got {
			if !seen[e.Path] {
				seen[e.Path] = true
				files = append(files, e)
			}
		}
	}
	ch.secrets(files, where, loc)
}

// missing reports a COPY source that matches nothing sent (KS-CX-005).
func (ch *checker) missing(instr, src string, loc finding.Location) {
	rel := cleanRel(src)
	onDisk := diskMatches(ch.opts.Dir, rel, 1)
	wild := HasWildcards(rel)
	if len(onDisk) == 0 {
		if wild {
			return // BuildKit allows wildcards that match nothing
		}
		msg := fmt.Sprintf("%s source %q does not exist in build context %s: the build fails with \"not found\"", instr, src, ch.opts.Dir)
		ch.add("KS-CX-005", msg, loc, "Fix the source path (it is relative to the build context root), or create the file.")
		return
	}
	if _, sent := ch.c.Lookup(onDisk[0]); sent {
		// On disk and sent, yet unresolvable: a symlink whose target is
		// missing, excluded, outside the context, or a loop.
		msg := fmt.Sprintf("%s source %q is a symlink (or passes through one) whose target is missing, excluded or outside build context %s: the build fails with \"not found\"", instr, src, ch.opts.Dir)
		ch.add("KS-CX-005", msg, loc, "Point the symlink at a path inside the build context that .dockerignore does not exclude, or copy the target path directly.")
		return
	}
	ignPath := ch.c.Ignore.Path
	if ex, err := ch.c.Ignore.Matcher.excludedWalk(onDisk[0]); err == nil && !ex {
		// Nothing is excluded, so the walk could not read it.
		msg := fmt.Sprintf("%s source %q exists in build context %s but could not be read: the build fails", instr, src, ch.opts.Dir)
		ch.add("KS-CX-005", msg, loc, "Make the source readable by the user running the build, or fix the source path.")
		return
	}
	pat := ch.c.Ignore.Matcher.ExcludedBy(onDisk[0])
	patDesc := ""
	if pat != "" {
		patDesc = fmt.Sprintf(" (pattern %q", pat)
		for i, p := range ch.c.Ignore.Patterns {
			if p == pat && i < len(ch.c.Ignore.Lines) && ch.c.Ignore.Lines[i] > 0 {
				patDesc += fmt.Sprintf(" at line %d", ch.c.Ignore.Lines[i])
				break
			}
		}
		patDesc += ")"
	}
	outcome := "the build fails with \"not found\""
	if wild {
		outcome = "it copies nothing"
	}
	msg := fmt.Sprintf("%s source %q exists in the build context but %s excludes %s%s: %s", instr, src, ignPath, onDisk[0], patDesc, outcome)
	fix := fmt.Sprintf("Add `!%s` to %s after the pattern that excludes it, or narrow that pattern.", onDisk[0], ignPath)
	if pat != "" {
		fix = fmt.Sprintf("Narrow or remove pattern %q in %s, or add `!%s` after it.", pat, ignPath, onDisk[0])
	}
	ch.add("KS-CX-005", msg, loc, fix)
}

// diskMatches returns up to max context-relative paths on disk (ignoring
// .dockerignore) that the COPY source rel names, without following symlinks
// out of the context.
func diskMatches(dir, rel string, max int) []string {
	if rel == "." {
		return []string{"."}
	}
	parts := strings.Split(rel, "/")
	var out []string
	var rec func(abs, relDir string, i int)
	rec = func(abs, relDir string, i int) {
		if len(out) >= max {
			return
		}
		pat := parts[i]
		var names []string
		if HasWildcards(pat) {
			ents, err := os.ReadDir(abs)
			if err != nil {
				return
			}
			for _, e := range ents {
				if ok, err := path.Match(pat, e.Name()); err == nil && ok {
					names = append(names, e.Name())
				}
			}
		} else {
			names = []string{pat}
		}
		for _, n := range names {
			childAbs := filepath.Join(abs, n)
			fi, err := os.Lstat(childAbs)
			if err != nil {
				continue
			}
			childRel := path.Join(relDir, n)
			if i == len(parts)-1 {
				out = append(out, childRel)
				if len(out) >= max {
					return
				}
				continue
			}
			switch {
			case fi.IsDir():
				rec(childAbs, childRel, i+1)
			case fi.Mode()&os.ModeSymlink != 0:
				// Not followed here: the link itself is what the
				// caller can report on.
				out = append(out, childRel)
			}
		}
	}
	rec(dir, "", 0)
	return out
}

// secrets reports the sensitive files among those one COPY sends
// (KS-CX-002), grouped into one finding per instruction.
func (ch *checker) secrets(files []Entry, where string, loc finding.Location) {
	type hit struct{ path, why string }
	var hits []hit
	gitFiles := 0
	for _, e := range files {
		why := Sensitive(e.Path)
		if why == "" {
			continue
		}
		if NPMRCNeedsContent(e.Path) {
			ok, err := NPMRCHasToken(filepath.Join(ch.opts.Dir, filepath.FromSlash(e.Path)))
			if err != nil || !ok {
				continue
			}
			why = "npm credentials (_authToken)"
		}
		if gitDir := gitRoot(e.Path); gitDir != "" {
			if gitFiles == 0 {
				hits = append(hits, hit{gitDir + "/", why})
			}
			gitFiles++
			continue
		}
		hits = append(hits, hit{e.Path, why})
	}
	if len(hits) == 0 {
		return
	}
	var names []string
	var related []finding.Location
	for i, h := range hits {
		if i == MaxListed {
			break
		}
		name := h.path
		if strings.HasSuffix(name, "/") && gitFiles > 0 {
			name = fmt.Sprintf("%s (%s)", name, plural(gitFiles, "file"))
		}
		names = append(names, fmt.Sprintf("%s [%s]", name, h.why))
		related = append(related, finding.Location{Path: filepath.Join(ch.opts.Dir, filepath.FromSlash(strings.TrimSuffix(h.path, "/")))})
	}
	more := ""
	if len(hits) > MaxListed {
		more = fmt.Sprintf(" and %d more", len(hits)-MaxListed)
	}

	ignPath := ch.c.Ignore.Path
	if ignPath == "" {
		ignPath = filepath.Join(ch.opts.Dir, ".dockerignore")
	}
	msg := fmt.Sprintf("%s sends %s from the build context into the image: %s%s", where, plural(len(hits), "sensitive file"), strings.Join(names, ", "), more)
	var pats []string
	for i, h := range hits {
		if i == MaxListed {
			break
		}
		pats = append(pats, strings.TrimSuffix(h.path, "/"))
	}
	fix := fmt.Sprintf("Add to %s: %s (and rotate the secret if an image with it was ever pushed); copy only what the app needs instead of whole folders.", ignPath, strings.Join(pats, ", "))
	f := ch.add("KS-CX-002", msg, loc, fix)
	f.Related = related
}

// gitRoot returns the path of the .git folder containing p, or "".
func gitRoot(p string) string {
	parts := strings.Split(p, "/")
	for i, c := range parts[:len(parts)-1] {
		if c == ".git" {
			return strings.Join(parts[:i+1], "/")
		}
	}
	return ""
}

// plural formats a count with its noun: "1 file", "3 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
