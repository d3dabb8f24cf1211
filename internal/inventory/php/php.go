// Package php lists Composer packages from composer.lock and from
// vendor/composer/installed.json (Composer 1 and 2 layouts).
package php

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest file Extract accepts.
const MaxSize = 32 << 20

// Extractor reads Composer files. The zero value is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "composer" }

// Wants reports whether p is a composer.lock or an installed.json.
func (Extractor) Wants(p string, _ fs.FileMode) bool {
	if path.Base(p) == "composer.lock" {
		// Packages under vendor/ may ship their own composer.lock.
		return !strings.Contains(p, "/vendor/")
	}
	return strings.HasSuffix(p, "/vendor/composer/installed.json")
}

type composerPkg struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

// Extract parses the file named by p.
func (Extractor) Extract(p string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit", p, len(content), MaxSize)
	}
	var prod, dev []composerPkg
	if path.Base(p) == "composer.lock" {
		var lock struct {
			Packages    []composerPkg `json:"packages"`
			PackagesDev []composerPkg `json:"packages-dev"`
		}
		if err := json.Unmarshal(content, &lock); err != nil {
			return nil, fmt.Errorf("%s: parse composer.lock: %w", p, err)
		}
		prod, dev = lock.Packages, lock.PackagesDev
	} else {
		trimmed := strings.TrimSpace(string(content))
		if strings.HasPrefix(trimmed, "[") { // Composer 1: a bare array
			if err := json.Unmarshal(content, &prod); err != nil {
				return nil, fmt.Errorf("%s: parse installed.json: %w", p, err)
			}
		} else {
			var v2 struct {
				Packages        []composerPkg `json:"packages"`
				DevPackageNames []string      `json:"dev-package-names"`
			}
			if err := json.Unmarshal(content, &v2); err != nil {
				return nil, fmt.Errorf("%s: parse installed.json: %w", p, err)
			}
			devNames := map[string]bool{}
			for _, n := range v2.DevPackageNames {
				devNames[n] = true
			}
			for _, c := range v2.Packages {
				if devNames[c.Name] {
					dev = append(dev, c)
				} else {
					prod = append(prod, c)
				}
			}
		}
	}
	var out []inventory.Package
	add := func(list []composerPkg, isDev bool) {
		for _, c := range list {
			vendor, name, ok := strings.Cut(c.Name, "/")
			version := Version(c.Version)
			if !ok || vendor == "" || name == "" || version == "" {
				continue
			}
			pkg := inventory.NewPackage("composer", "Packagist", vendor, name, version, p, nil)
			pkg.Name = c.Name
			pkg.Dev = isDev
			var lic []string
			if json.Unmarshal(c.License, &lic) == nil && len(lic) > 0 {
				pkg.Licenses = lic
			}
			out = append(out, pkg)
		}
	}
	add(prod, false)
	add(dev, true)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Version drops the "v" of a tag-style version ("v5.4.0" → "5.4.0"), as
// Packagist advisories list versions without it. Branch versions
// ("dev-main") are kept.
func Version(v string) string {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}
