package npm

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// ParsePnpmLock reads pnpm-lock.yaml in the v5 ("/name/1.0.0_peer"),
// v6 ("/name@1.0.0(peer)") and v9 ("name@1.0.0") key styles.
func ParsePnpmLock(p string, content []byte) ([]inventory.Package, error) {
	var lock struct {
		LockfileVersion any `yaml:"lockfileVersion"`
		Packages        map[string]struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
			Dev     bool   `yaml:"dev"`
		} `yaml:"packages"`
	}
	if err := yaml.Unmarshal(content, &lock); err != nil {
		return nil, fmt.Errorf("parse pnpm-lock: %w", err)
	}
	v5 := strings.HasPrefix(strings.Trim(fmt.Sprint(lock.LockfileVersion), `'"`), "5")
	var out []inventory.Package
	for key, e := range lock.Packages {
		name, version := pnpmKey(key, v5)
		if e.Name != "" {
			name = e.Name
		}
		if e.Version != "" && (version == "" || !isVersionish(version)) {
			version = e.Version
		}
		if name == "" || version == "" || !isVersionish(version) {
			continue
		}
		out = append(out, NewPackage(name, version, p, e.Dev))
	}
	return dedupe(out), nil
}

// pnpmKey splits a packages key into name and version, dropping the peer
// dependency suffix.
func pnpmKey(key string, v5 bool) (name, version string) {
	key = strings.TrimPrefix(key, "/")
	if i := strings.IndexByte(key, '('); i >= 0 {
		key = key[:i]
	}
	if v5 {
		i := strings.LastIndexByte(key, '/')
		if i <= 0 {
			return "", ""
		}
		name, version = key[:i], key[i+1:]
		if j := strings.IndexByte(version, '_'); j >= 0 {
			version = version[:j]
		}
		return name, version
	}
	if len(key) < 2 {
		return "", ""
	}
	i := strings.LastIndexByte(key[1:], '@')
	if i < 0 {
		return "", ""
	}
	return key[:i+1], key[i+2:]
}

// isVersionish reports whether v looks like a registry version (starts
// with a digit) rather than a tarball URL or git reference.
func isVersionish(v string) bool { return v != "" && v[0] >= '0' && v[0] <= '9' }
