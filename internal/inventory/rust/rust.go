// Package rust lists crates from Cargo.lock files and from binaries built
// with cargo-auditable (a zlib-compressed JSON dependency list in the ELF
// section .dep-v0).
package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/inventory/elfsec"
)

// MaxSize is the largest Cargo.lock Extract accepts.
const MaxSize = 16 << 20

// MaxBinarySize is the largest executable Extract reads.
const MaxBinarySize = 512 << 20

// maxAuditJSON caps the decompressed .dep-v0 section (against zlib bombs).
const maxAuditJSON = 16 << 20

// Extractor reads Cargo.lock and cargo-auditable binaries. The zero value
// is ready to use.
type Extractor struct{}

// Name identifies the extractor.
func (Extractor) Name() string { return "rust" }

// Wants reports whether p is a Cargo.lock or an executable (which may be
// an auditable binary; the ELF check happens in Extract).
func (Extractor) Wants(p string, mode fs.FileMode) bool {
	if path.Base(p) == "Cargo.lock" {
		// Crates in cargo's registry cache and vendored crates ship their
		// own lockfiles: not the app's.
		return !strings.Contains(p, "/.cargo/") && !strings.Contains(p, "/vendor/")
	}
	return mode.IsRegular() && mode.Perm()&0o111 != 0
}

// NewPackage returns a crates.io package.
func NewPackage(name, version, p string) inventory.Package {
	return inventory.NewPackage("cargo", "crates.io", "", name, version, p, nil)
}

// Extract parses a Cargo.lock, or the dependency list of an auditable
// binary; other executables give nothing.
func (Extractor) Extract(p string, content []byte) ([]inventory.Package, error) {
	if path.Base(p) == "Cargo.lock" {
		if len(content) > MaxSize {
			return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit", p, len(content), MaxSize)
		}
		pkgs, err := ParseCargoLock(p, content)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return pkgs, nil
	}
	if len(content) > MaxBinarySize || !bytes.HasPrefix(content, []byte("\x7fELF")) {
		return nil, nil
	}
	pkgs, err := ParseAuditable(p, content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return pkgs, nil
}

// ParseCargoLock returns the registry and git crates of a Cargo.lock;
// workspace members (no source) are local code and are skipped.
func ParseCargoLock(p string, content []byte) ([]inventory.Package, error) {
	var lock struct {
		Package []struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
			Source  string `toml:"source"`
		} `toml:"package"`
	}
	if _, err := toml.Decode(string(content), &lock); err != nil {
		return nil, fmt.Errorf("parse Cargo.lock: %w", err)
	}
	var out []inventory.Package
	for _, c := range lock.Package {
		if c.Name == "" || c.Version == "" || c.Source == "" {
			continue
		}
		out = append(out, NewPackage(c.Name, c.Version, p))
	}
	sortPkgs(out)
	return out, nil
}

// ParseAuditable reads the .dep-v0 section of an ELF binary; a binary
// without it gives nothing.
func ParseAuditable(p string, content []byte) ([]inventory.Package, error) {
	if !elfsec.MayHave(content, ".dep-v0") {
		return nil, nil
	}
	f, err := elf.NewFile(bytes.NewReader(content))
	if err != nil {
		return nil, nil // not a readable ELF file: not ours to judge
	}
	defer f.Close()
	sec := f.Section(".dep-v0")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	if sec.Size > uint64(len(content)) {
		return nil, fmt.Errorf(".dep-v0 section size %d is beyond the file", sec.Size)
	}
	raw, err := inflate(sec.Open())
	if err != nil {
		return nil, err
	}
	return ParseAuditJSON(p, raw)
}

// inflate decompresses a .dep-v0 section, refusing more than
// maxAuditJSON bytes.
func inflate(r io.Reader) ([]byte, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("decompress .dep-v0: %w", err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(io.LimitReader(zr, maxAuditJSON+1))
	if err != nil {
		return nil, fmt.Errorf("decompress .dep-v0: %w", err)
	}
	if len(raw) > maxAuditJSON {
		return nil, fmt.Errorf(".dep-v0 decompresses to more than %d bytes", maxAuditJSON)
	}
	return raw, nil
}

// ParseAuditJSON reads cargo-auditable's dependency JSON; only crates from
// crates.io are listed (local and git crates cannot be matched).
func ParseAuditJSON(p string, raw []byte) ([]inventory.Package, error) {
	var audit struct {
		Packages []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Source  string `json:"source"`
			Kind    string `json:"kind"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &audit); err != nil {
		return nil, fmt.Errorf("parse .dep-v0 JSON: %w", err)
	}
	var out []inventory.Package
	for _, c := range audit.Packages {
		if c.Name == "" || c.Version == "" || c.Source != "crates.io" {
			continue
		}
		pkg := NewPackage(c.Name, c.Version, p)
		pkg.Dev = c.Kind == "build"
		out = append(out, pkg)
	}
	sortPkgs(out)
	return out, nil
}

func sortPkgs(out []inventory.Package) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
}
