package policy

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// IgnoreRule is one .kensaignore entry: `ID [path-glob] [exp:YYYY-MM-DD] [# reason]`.
type IgnoreRule struct {
	ID string
	// Path is a glob matched against the finding's location path ("" = any).
	Path string
	// Expires is the last day the entry ignores (zero = never expires).
	Expires time.Time
	Reason  string
	// Source is file:line of the entry.
	Source string

	re *regexp.Regexp // compiled Path when it uses "**"
}

// ParseIgnore parses .kensaignore content; name is used in errors and in
// each rule's Source. A comment line directly above an entry is its reason
// unless the entry has a trailing comment.
func ParseIgnore(name string, data []byte) ([]IgnoreRule, error) {
	var out []IgnoreRule
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var pending []string
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" {
			pending = nil
			continue
		}
		if strings.HasPrefix(line, "#") {
			pending = append(pending, strings.TrimSpace(strings.TrimLeft(line, "#")))
			continue
		}
		at := fmt.Sprintf("%s:%d", name, lineNo)
		entry, comment, hasComment := strings.Cut(line, "#")
		fields := strings.Fields(entry)
		r := IgnoreRule{ID: fields[0], Source: at}
		if !idPattern.MatchString(r.ID) {
			return nil, fmt.Errorf("ignore file %s: %q is not a rule or advisory ID", at, r.ID)
		}
		for _, f := range fields[1:] {
			switch {
			case strings.HasPrefix(f, "exp:"):
				if !r.Expires.IsZero() {
					return nil, fmt.Errorf("ignore file %s: more than one exp: date", at)
				}
				t, err := time.Parse("2006-01-02", strings.TrimPrefix(f, "exp:"))
				if err != nil {
					return nil, fmt.Errorf("ignore file %s: bad expiry %q (want exp:YYYY-MM-DD)", at, f)
				}
				r.Expires = t
			case r.Path == "":
				if err := r.setPath(f); err != nil {
					return nil, fmt.Errorf("ignore file %s: bad path glob %q: %v", at, f, err)
				}
			default:
				return nil, fmt.Errorf("ignore file %s: unexpected %q (want `ID [path-glob] [exp:YYYY-MM-DD] [# reason]`)", at, f)
			}
		}
		if hasComment {
			r.Reason = strings.TrimSpace(comment)
		} else if len(pending) > 0 {
			r.Reason = strings.Join(pending, " ")
		}
		pending = nil
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ignore file %s:%d: %w", name, lineNo+1, err)
	}
	return out, nil
}

// LoadIgnore reads and parses an ignore file.
func LoadIgnore(path string) ([]IgnoreRule, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	return ParseIgnore(path, data)
}

func (r *IgnoreRule) setPath(glob string) error {
	glob = strings.TrimPrefix(glob, "./")
	if strings.Contains(glob, "**") {
		re, err := globToRegexp(glob)
		if err != nil {
			return err
		}
		r.re = re
	} else if _, err := path.Match(glob, ""); err != nil {
		return err
	}
	r.Path = glob
	return nil
}

// globToRegexp compiles a glob where "**" crosses folders, "*" and "?" do not.
func globToRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			i++
			if i+1 < len(glob) && glob[i+1] == '/' {
				i++
				b.WriteString("(?:.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Active reports whether the rule still ignores on day now (the expiry day
// itself is included).
func (r IgnoreRule) Active(now time.Time) bool {
	if r.Expires.IsZero() {
		return true
	}
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return !today.After(r.Expires)
}

// Matches reports whether the rule covers a finding with this ID and path.
func (r IgnoreRule) Matches(id, p string) bool {
	if r.ID != id {
		return false
	}
	if r.Path == "" {
		return true
	}
	p = strings.TrimPrefix(strings.ReplaceAll(p, "\\", "/"), "./")
	if r.re != nil {
		return r.re.MatchString(p) || r.re.MatchString(strings.TrimPrefix(p, "/"))
	}
	for _, cand := range []string{p, strings.TrimPrefix(p, "/")} {
		if ok, _ := path.Match(r.Path, cand); ok {
			return true
		}
		// A folder entry covers everything below it.
		if strings.HasPrefix(cand, strings.TrimSuffix(r.Path, "/")+"/") {
			return true
		}
	}
	// A bare name matches that file in any folder.
	if !strings.Contains(r.Path, "/") {
		if ok, _ := path.Match(r.Path, path.Base(p)); ok {
			return true
		}
	}
	return false
}
