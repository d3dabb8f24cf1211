package npm

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// ParseYarnLock reads a yarn.lock, classic (v1) or Berry (v2+, a YAML
// subset). Each entry starts with an unindented line listing the
// descriptors it resolves ("name@range", ...:) and has an indented
// version line ("version "1.2.3"" in v1, "version: 1.2.3" in Berry).
// Workspace and local entries of Berry are skipped.
func ParseYarnLock(p string, content []byte) ([]inventory.Package, error) {
	var out []inventory.Package
	var name, version, resolution string
	flush := func() {
		if name != "" && version != "" && version != "0.0.0-use.local" &&
			!strings.Contains(resolution, "@workspace:") && !strings.Contains(resolution, "@link:") &&
			!strings.Contains(resolution, "@portal:") && !strings.Contains(resolution, "@file:") {
			out = append(out, NewPackage(name, version, p, false))
		}
		name, version, resolution = "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			flush()
			if !strings.HasSuffix(trimmed, ":") {
				return nil, fmt.Errorf("yarn.lock line %d: entry header %q does not end with ':'", n, clip(trimmed))
			}
			if strings.HasPrefix(trimmed, "__metadata") {
				continue
			}
			first, _, _ := strings.Cut(strings.TrimSuffix(trimmed, ":"), ",")
			name = descriptorName(strings.Trim(strings.TrimSpace(first), `"`))
			continue
		}
		// Only the entry's own fields (one indent level) matter.
		if strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t\t") {
			continue
		}
		k, v, ok := cutField(trimmed)
		if !ok {
			continue
		}
		switch k {
		case "version":
			version = v
		case "resolution":
			resolution = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("yarn.lock line %d: %w", n+1, err)
	}
	flush()
	return dedupe(out), nil
}

// cutField splits `key "value"` (v1) or `key: value` (Berry), unquoting
// the value.
func cutField(s string) (key, value string, ok bool) {
	i := strings.IndexAny(s, " :")
	if i <= 0 {
		return "", "", false
	}
	key = strings.Trim(s[:i], `"`)
	value = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s[i:]), ":"))
	value = strings.Trim(value, `"'`)
	return key, value, true
}

// descriptorName returns the package name of a descriptor such as
// "lodash@^4.17.0", "@babel/core@npm:7.0.0" or "resolve@patch:resolve@...".
func descriptorName(d string) string {
	if len(d) < 2 {
		return ""
	}
	i := strings.IndexByte(d[1:], '@')
	if i < 0 {
		return ""
	}
	// An alias "string-width-cjs@npm:string-width@^4.2.0" installs
	// string-width.
	if rest, ok := strings.CutPrefix(d[i+2:], "npm:"); ok {
		if real := descriptorName(rest); real != "" {
			return real
		}
	}
	return d[:i+1]
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
