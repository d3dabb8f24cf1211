package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

// contentHash hashes what an SBOM describes (target, OS, packages), so
// serial numbers and namespaces are deterministic for the same content.
func contentHash(r *finding.Report) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", r.Target, r.TargetKind)
	_ = json.NewEncoder(h).Encode(struct {
		OS       *inventory.OS
		Packages []inventory.Package
	}{r.OS, r.Packages})
	return hex.EncodeToString(h.Sum(nil))
}

// uuidFromHash formats the first 16 bytes of a hex hash as an RFC 4122
// version-5-style UUID.
func uuidFromHash(hexHash string) string {
	b, _ := hex.DecodeString(hexHash[:32])
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// packageRefs assigns each package a unique reference: its purl, with a
// suffix when several packages share one (the same library in two places).
func packageRefs(pkgs []inventory.Package) []string {
	refs := make([]string, len(pkgs))
	seen := map[string]int{}
	for i, p := range pkgs {
		base := p.PURL
		if base == "" {
			base = p.Type + ":" + p.Name + "@" + p.Version
		}
		n := seen[base]
		seen[base] = n + 1
		if n == 0 {
			refs[i] = base
		} else {
			refs[i] = base + "#" + strconv.Itoa(n+1)
		}
	}
	return refs
}

// packageProps are kensa's per-package properties: where it was found.
func packageProps(p inventory.Package) [][2]string {
	var out [][2]string
	if p.LayerDigest != "" {
		out = append(out, [2]string{"kensa:layer_digest", p.LayerDigest})
	}
	if p.LayerDigest != "" || p.Layer > 0 {
		out = append(out, [2]string{"kensa:layer_index", strconv.Itoa(p.Layer)})
	}
	if p.Path != "" {
		out = append(out, [2]string{"kensa:path", p.Path})
	}
	if p.Ecosystem != "" {
		out = append(out, [2]string{"kensa:ecosystem", p.Ecosystem})
	}
	if p.SourceName != "" {
		out = append(out, [2]string{"kensa:source_name", p.SourceName})
	}
	if p.SourceVersion != "" {
		out = append(out, [2]string{"kensa:source_version", p.SourceVersion})
	}
	if p.Dev {
		out = append(out, [2]string{"kensa:dev", "true"})
	}
	if p.ManagedBy != "" {
		out = append(out, [2]string{"kensa:managed_by", p.ManagedBy})
	}
	if p.IdentifiedBy != "" {
		out = append(out, [2]string{"kensa:identified_by", p.IdentifiedBy})
	}
	return out
}
