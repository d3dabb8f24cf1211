// Package apk reads the installed-package database of Alpine images,
// /lib/apk/db/installed.
package apk

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest database Extract accepts.
const MaxSize = 64 << 20

// Path is the apk database of installed packages.
const Path = "/lib/apk/db/installed"

// Extractor reads the apk database. The zero value is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "apk" }

// Wants reports whether path is the apk database.
func (Extractor) Wants(path string, _ fs.FileMode) bool { return path == Path }

// Extract parses the database: paragraphs of one-letter fields ("P:name",
// "V:version", "o:origin", "A:arch", "L:license") separated by blank lines.
// The origin is the source package (Alpine advisories name it); its
// version is the binary version, as aports builds every subpackage of an
// origin at the origin's version.
func (Extractor) Extract(path string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for an apk database", path, len(content), MaxSize)
	}
	var out []inventory.Package
	var name, version, origin, arch, license string
	flush := func() {
		if name != "" && version != "" {
			src := origin
			if src == "" {
				src = name
			}
			pkg := inventory.NewPackage("apk", "Alpine", "alpine", name, version, path,
				map[string]string{"arch": arch, "upstream": src})
			pkg.SourceName = src
			pkg.SourceVersion = version
			pkg.Arch = arch
			if license != "" {
				pkg.Licenses = []string{license}
			}
			out = append(out, pkg)
		}
		name, version, origin, arch, license = "", "", "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			return nil, fmt.Errorf("%s: line %d: %q is not an \"X:value\" line", path, n, clip(line))
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			name = v
		case 'V':
			version = v
		case 'o':
			origin = v
		case 'A':
			arch = v
		case 'L':
			license = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", path, n+1, err)
	}
	flush()
	return out, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
