// Package golang reads the require directives of go.mod files.
package golang

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/inventory/gobin"
)

// MaxSize is the largest go.mod Extract accepts.
const MaxSize = 4 << 20

// Extractor reads go.mod files. The zero value is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "gomod" }

// Wants reports whether path is a go.mod file.
//
// go.mod files in the module cache (…/pkg/mod/…), in vendor trees and in
// testdata belong to dependencies or fixtures, not to the application, and
// are skipped.
func (Extractor) Wants(p string, _ fs.FileMode) bool {
	return path.Base(p) == "go.mod" && !strings.Contains(p, "/pkg/mod/") &&
		!strings.Contains(p, "/vendor/") && !strings.Contains(p, "/testdata/")
}

// Extract returns every required module, with replace directives applied;
// a module replaced by a local directory is local code and is left out.
func (Extractor) Extract(p string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for go.mod", p, len(content), MaxSize)
	}
	f, err := modfile.Parse(p, content, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	repl := map[string]*modfile.Replace{}
	for _, r := range f.Replace {
		repl[r.Old.Path+"@"+r.Old.Version] = r
	}
	var out []inventory.Package
	for _, r := range f.Require {
		mod, ver := r.Mod.Path, r.Mod.Version
		rp := repl[mod+"@"+ver]
		if rp == nil {
			rp = repl[mod+"@"]
		}
		if rp != nil {
			if rp.New.Version == "" {
				continue // replaced by a local directory: local code
			}
			mod, ver = rp.New.Path, rp.New.Version
		}
		if mod == "" || ver == "" {
			continue
		}
		out = append(out, gobin.NewPackage(mod, ver, p))
	}
	return out, nil
}
