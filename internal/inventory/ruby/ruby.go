// Package ruby lists RubyGems from Gemfile.lock files and from installed
// gem specifications (specifications/*.gemspec), read as text: no Ruby is
// executed.
package ruby

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest file Extract accepts.
const MaxSize = 16 << 20

// Extractor reads Gemfile.lock and installed gemspecs. The zero value is
// ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "ruby" }

// Wants reports whether p is a Gemfile.lock or an installed gemspec.
func (Extractor) Wants(p string, _ fs.FileMode) bool {
	base := path.Base(p)
	if base == "Gemfile.lock" || base == "gems.locked" {
		// Installed gems often ship their own Gemfile.lock
		// (.../gems/<name>-<version>/Gemfile.lock): not the app's.
		return !strings.Contains(p, "/gems/") && !strings.Contains(p, "/node_modules/")
	}
	// Default gems (bundled with Ruby) live in specifications/default/.
	return strings.HasSuffix(base, ".gemspec") &&
		(strings.HasSuffix(p, "/specifications/"+base) || strings.HasSuffix(p, "/specifications/default/"+base))
}

// Extract parses the file named by p.
func (Extractor) Extract(p string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit", p, len(content), MaxSize)
	}
	if strings.HasSuffix(p, ".gemspec") {
		pkgs, err := ParseGemspec(p, content)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return pkgs, nil
	}
	return ParseGemfileLock(p, content)
}

// NewPackage returns a RubyGems package.
func NewPackage(name, version, p string) inventory.Package {
	return inventory.NewPackage("gem", "RubyGems", "", name, version, p, nil)
}

var specLine = regexp.MustCompile(`^    ([^ ()]+) \(([^()]+)\)$`)

// ParseGemfileLock reads the gems of the GEM and GIT sections' "specs:"
// lists (four-space indented "name (version[-platform])" lines); PATH
// gems are local code and are skipped.
func ParseGemfileLock(p string, content []byte) ([]inventory.Package, error) {
	var out []inventory.Package
	seen := map[string]bool{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		if line[0] != ' ' {
			section = line
			continue
		}
		if section != "GEM" && section != "GIT" {
			continue
		}
		m := specLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		version := m[2]
		// Platform gems: "nokogiri (1.15.4-x86_64-linux)".
		if i := strings.IndexByte(version, '-'); i > 0 {
			version = version[:i]
		}
		if seen[m[1]+"@"+version] {
			continue
		}
		seen[m[1]+"@"+version] = true
		out = append(out, NewPackage(m[1], version, p))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

var (
	gemspecName    = regexp.MustCompile(`^\s*s\.name\s*=\s*(?:"([^"]+)"|'([^']+)'|%q\{([^}]+)\})`)
	gemspecVersion = regexp.MustCompile(`^\s*s\.version\s*=\s*(?:"([^"]+)"|'([^']+)'|%q\{([^}]+)\})`)
	gemspecLicense = regexp.MustCompile(`^\s*s\.licenses?\s*=\s*\[?\s*"([^"]+)"`)
)

func firstGroup(m []string) string {
	for _, g := range m[1:] {
		if g != "" {
			return g
		}
	}
	return ""
}

// ParseGemspec reads the s.name, s.version and s.license(s) assignments
// of an installed gem specification.
func ParseGemspec(p string, content []byte) ([]inventory.Package, error) {
	var name, version, license string
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gemspecName.FindStringSubmatch(line); m != nil && name == "" {
			name = firstGroup(m)
		} else if m := gemspecVersion.FindStringSubmatch(line); m != nil && version == "" {
			version = firstGroup(m)
		} else if m := gemspecLicense.FindStringSubmatch(line); m != nil && license == "" {
			license = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if name == "" || version == "" {
		return nil, fmt.Errorf("gemspec has no s.name or s.version")
	}
	pkg := NewPackage(name, version, p)
	if license != "" {
		pkg.Licenses = []string{license}
	}
	return []inventory.Package{pkg}, nil
}
