// Package osrelease identifies an image's operating system from
// /etc/os-release (or /usr/lib/os-release) and, when those are missing, from
// /etc/alpine-release or /etc/debian_version.
package osrelease

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest release file Parse accepts.
const MaxSize = 64 << 10

// Paths lists the files that identify the OS, most authoritative first.
var Paths = []string{
	"/etc/os-release",
	"/usr/lib/os-release",
	"/etc/alpine-release",
	"/etc/debian_version",
}

// Wants reports whether path is one of the release files.
func Wants(path string) bool {
	for _, p := range Paths {
		if p == path {
			return true
		}
	}
	return false
}

// Rank orders release files: a lower rank is more authoritative; -1 for a
// path that is not a release file.
func Rank(path string) int {
	for i, p := range Paths {
		if p == path {
			return i
		}
	}
	return -1
}

// Parse reads one release file, chosen by its path, and returns the OS it
// names.
func Parse(path string, content []byte) (*inventory.OS, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for a release file", path, len(content), MaxSize)
	}
	switch path {
	case "/etc/alpine-release":
		v := strings.TrimSpace(firstLine(content))
		if v == "" {
			return nil, fmt.Errorf("%s: empty", path)
		}
		return &inventory.OS{ID: "alpine", VersionID: v, PrettyName: "Alpine Linux v" + v}, nil
	case "/etc/debian_version":
		v := strings.TrimSpace(firstLine(content))
		if v == "" {
			return nil, fmt.Errorf("%s: empty", path)
		}
		return &inventory.OS{ID: "debian", VersionID: v, PrettyName: "Debian GNU/Linux " + v}, nil
	}
	return ParseOSRelease(path, content)
}

// ParseOSRelease parses the os-release format (freedesktop.org): KEY=value
// lines, values optionally quoted with shell quoting rules.
func ParseOSRelease(path string, content []byte) (*inventory.OS, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for a release file", path, len(content), MaxSize)
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 4096), MaxSize+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		vals[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	id := strings.ToLower(vals["ID"])
	if id == "" {
		return nil, fmt.Errorf("%s: no ID field", path)
	}
	o := &inventory.OS{
		ID:         id,
		VersionID:  vals["VERSION_ID"],
		Codename:   vals["VERSION_CODENAME"],
		PrettyName: vals["PRETTY_NAME"],
	}
	if o.Codename == "" && id == "ubuntu" {
		o.Codename = vals["UBUNTU_CODENAME"]
	}
	return o, nil
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}

// unquote removes shell quoting from an os-release value.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			return b.String()
		}
	}
	return v
}
