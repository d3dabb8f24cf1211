// Package dpkg reads the installed-package database of Debian and Ubuntu
// images: /var/lib/dpkg/status and the one-file-per-package folder
// /var/lib/dpkg/status.d/ used by distroless images.
package dpkg

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest status file Extract accepts.
const MaxSize = 64 << 20

const (
	statusPath = "/var/lib/dpkg/status"
	statusDir  = "/var/lib/dpkg/status.d/"
)

// Extractor reads dpkg status files. The zero value is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "dpkg" }

// Wants reports whether path is a dpkg status file.
func (Extractor) Wants(path string, _ fs.FileMode) bool {
	if path == statusPath {
		return true
	}
	if rest, ok := strings.CutPrefix(path, statusDir); ok {
		// status.d also holds <pkg>.md5sums lists in newer distroless images.
		return rest != "" && !strings.Contains(rest, "/") && !strings.HasSuffix(rest, ".md5sums")
	}
	return false
}

// Extract parses a status file and returns its installed packages.
// Paragraphs in /var/lib/dpkg/status must carry a Status whose state is
// "installed"; status.d files (which have no Status field) count as
// installed unless they say otherwise.
func (Extractor) Extract(path string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for a dpkg status file", path, len(content), MaxSize)
	}
	paras, err := Paragraphs(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	needStatus := path == statusPath
	var out []inventory.Package
	for _, p := range paras {
		name, version := p["Package"], p["Version"]
		if name == "" || version == "" {
			continue
		}
		status, hasStatus := p["Status"]
		if hasStatus || needStatus {
			if !installed(status) {
				continue
			}
		}
		srcName, srcVersion := name, version
		if s := p["Source"]; s != "" {
			n, v, ok := strings.Cut(s, " ")
			srcName = n
			if ok {
				v = strings.TrimSpace(v)
				if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
					srcVersion = strings.TrimSpace(v[1 : len(v)-1])
				}
			}
		}
		arch := p["Architecture"]
		q := map[string]string{"arch": arch}
		if srcName != name || srcVersion != version {
			up := srcName
			if srcVersion != version {
				up += "@" + srcVersion
			}
			q["upstream"] = up
		}
		pkg := inventory.NewPackage("deb", "Debian", "debian", name, version, path, q)
		pkg.SourceName = srcName
		pkg.SourceVersion = srcVersion
		pkg.Arch = arch
		out = append(out, pkg)
	}
	return out, nil
}

// installed reports whether a Status field ("want flag state") says the
// package is unpacked and configured.
func installed(status string) bool {
	f := strings.Fields(status)
	return len(f) == 3 && f[1] == "ok" && f[2] == "installed"
}

// Paragraphs splits a deb822 control file into paragraphs of fields.
// Continuation lines (starting with a space or tab) are folded into the
// previous field; only the first line of each field is kept since no field
// the extractor uses spans lines.
func Paragraphs(content []byte) ([]map[string]string, error) {
	var out []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	n := 0
	last := ""
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
			last = ""
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation line outside a field", n)
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: %q is not a \"Field: value\" line", n, clip(line))
		}
		last = k
		cur[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
