// Package dotnet lists NuGet packages from .NET *.deps.json files.
package dotnet

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest file Extract accepts.
const MaxSize = 32 << 20

// Extractor reads *.deps.json files. The zero value is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "dotnet" }

// Wants reports whether p is a deps.json file.
func (Extractor) Wants(p string, _ fs.FileMode) bool { return strings.HasSuffix(p, ".deps.json") }

// Extract returns the libraries of type "package" ("Name/Version" keys);
// projects and reference assemblies are skipped.
func (Extractor) Extract(p string, content []byte) ([]inventory.Package, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit", p, len(content), MaxSize)
	}
	var deps struct {
		Libraries map[string]struct {
			Type string `json:"type"`
		} `json:"libraries"`
	}
	if err := json.Unmarshal(content, &deps); err != nil {
		return nil, fmt.Errorf("%s: parse deps.json: %w", p, err)
	}
	var out []inventory.Package
	for key, lib := range deps.Libraries {
		if lib.Type != "package" {
			continue
		}
		name, version, ok := strings.Cut(key, "/")
		if !ok || name == "" || version == "" {
			continue
		}
		out = append(out, inventory.NewPackage("nuget", "NuGet", "", name, version, p, nil))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}
