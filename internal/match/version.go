// Package match finds the vulnerabilities of an inventory: it looks up each
// package in the vulnerability database under its OSV ecosystem, evaluates
// the advisories' affected ranges with that ecosystem's version ordering,
// merges aliases and turns the result into findings.
package match

import (
	"fmt"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// Compare orders two versions a and b of an ecosystem ("Debian:12", "Go",
// "PyPI", ...) with that ecosystem's own rules (dpkg, apk, rpm, PEP 440,
// semver, Maven, RubyGems, NuGet, ...). It returns -1, 0 or +1, and an error
// when the ecosystem is unknown or a version does not parse.
func Compare(ecosystem, a, b string) (int, error) {
	va, err := parse(ecosystem, a)
	if err != nil {
		return 0, err
	}
	return compareParsed(ecosystem, va, b)
}

func parse(ecosystem, v string) (pv semantic.Version, err error) {
	defer func() {
		if r := recover(); r != nil { // hostile version strings must not end a scan
			pv, err = nil, fmt.Errorf("%s version %q: unparseable: %v", ecosystem, v, r)
		}
	}()
	pv, err = semantic.Parse(normVersion(ecosystem, v), ecosystem)
	if err != nil {
		return nil, fmt.Errorf("%s version %q: %w", ecosystem, v, err)
	}
	return pv, nil
}

func compareParsed(ecosystem string, a semantic.Version, b string) (c int, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = 0, fmt.Errorf("%s version %q: unparseable: %v", ecosystem, b, r)
		}
	}()
	c, err = a.CompareStr(normVersion(ecosystem, b))
	if err != nil {
		return 0, fmt.Errorf("%s version %q: %w", ecosystem, b, err)
	}
	return c, nil
}

// normVersion strips the prefixes Go tooling writes ("v1.2.3",
// "go1.21.3") so they compare with OSV's bare versions.
func normVersion(ecosystem, v string) string {
	v = strings.TrimSpace(v)
	if base, _, _ := strings.Cut(ecosystem, ":"); base == "Go" {
		v = strings.TrimPrefix(v, "go")
		v = strings.TrimPrefix(v, "v")
	}
	return v
}
