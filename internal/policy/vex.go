package policy

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/kensa-sec/kensa/internal/finding"
)

// maxVEXSize bounds one VEX document.
const maxVEXSize = 32 << 20

// VEX holds the OpenVEX documents given with --vex. Statements whose status
// is not_affected or fixed suppress the vulnerability findings they cover;
// affected and under_investigation statements leave findings in place.
type VEX struct {
	docs []vexDoc
}

type vexDoc struct {
	path string
	doc  *vex.VEX
}

// LoadVEX reads OpenVEX documents (JSON). A file that is not valid OpenVEX
// is an error naming the file.
func LoadVEX(paths []string) (*VEX, error) {
	v := &VEX{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("vex %s: %w", p, err)
		}
		if st.Size() > maxVEXSize {
			return nil, fmt.Errorf("vex %s: %d bytes is larger than the %d-byte limit", p, st.Size(), maxVEXSize)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("vex %s: %w", p, err)
		}
		doc, err := ParseVEX(p, data)
		if err != nil {
			return nil, err
		}
		v.docs = append(v.docs, vexDoc{path: p, doc: doc})
	}
	return v, nil
}

// ParseVEX decodes one OpenVEX document and checks its statements.
func ParseVEX(name string, data []byte) (doc *vex.VEX, err error) {
	defer func() {
		if r := recover(); r != nil { // go-vex must never take kensa down
			doc, err = nil, fmt.Errorf("vex %s: unreadable document: %v", name, r)
		}
	}()
	if !strings.Contains(string(data[:min(len(data), 4096)]), "openvex") {
		return nil, fmt.Errorf("vex %s: not an OpenVEX document (no openvex @context)", name)
	}
	doc, err = vex.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("vex %s: %w", name, err)
	}
	for i := range doc.Statements {
		s := &doc.Statements[i]
		if !s.Status.Valid() {
			return nil, fmt.Errorf("vex %s: statement %d: unknown status %q", name, i+1, s.Status)
		}
		if s.Vulnerability.Name == "" && s.Vulnerability.ID == "" {
			return nil, fmt.Errorf("vex %s: statement %d names no vulnerability", name, i+1)
		}
	}
	return doc, nil
}

// imageIDs are the identifiers a VEX product may use for the scanned image:
// the target as given, the image reference and digest, the digest's hex
// (for product hashes) and a pkg:oci purl.
func imageIDs(rep *finding.Report) []string {
	ids := []string{rep.Target}
	if rep.Image == nil {
		return ids
	}
	ref := rep.Image.Reference
	if ref != "" {
		ids = append(ids, ref)
	}
	if d := rep.Image.Digest; d != "" {
		ids = append(ids, d)
		if _, hex, ok := strings.Cut(d, ":"); ok {
			ids = append(ids, hex)
		}
		name := ref
		if name == "" {
			name = rep.Target
		}
		name, _, _ = strings.Cut(name, "@")
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		if i := strings.LastIndex(name, ":"); i >= 0 {
			name = name[:i]
		}
		if name != "" {
			ids = append(ids, "pkg:oci/"+strings.ToLower(name)+"@"+url.PathEscape(d))
		}
	}
	return ids
}

// covers reports whether statement product p covers a package (purl) of the
// scanned image: the product is the package itself, or the product is the
// image and either lists the package as a subcomponent or lists none.
func covers(p *vex.Product, pkgPURL string, image []string) bool {
	if pkgPURL != "" && p.Component.Matches(pkgPURL) {
		return true
	}
	for _, id := range image {
		if id == "" || !p.Component.Matches(id) {
			continue
		}
		if len(p.Subcomponents) == 0 {
			return true
		}
		for i := range p.Subcomponents {
			if pkgPURL != "" && p.Subcomponents[i].Matches(pkgPURL) {
				return true
			}
		}
	}
	return false
}

// Apply moves the vulnerability findings of rep that a not_affected or fixed
// statement covers into rep.Suppressed. When several statements cover a
// finding, the latest (statement timestamp, else document timestamp, else
// order given) decides. It returns the number of findings suppressed.
func (v *VEX) Apply(rep *finding.Report) int {
	if v == nil || len(v.docs) == 0 {
		return 0
	}
	image := imageIDs(rep)
	return rep.SuppressWhere(func(f finding.Finding) *finding.Suppression { return v.decide(f, image) })
}

func (v *VEX) decide(f finding.Finding, image []string) *finding.Suppression {
	if f.Kind != finding.KindVuln {
		return nil
	}
	pkgPURL := ""
	if f.Package != nil {
		pkgPURL = f.Package.PURL
	}
	ids := append([]string{f.ID}, f.Aliases...)
	var best *vex.Statement
	var bestTime time.Time
	bestPath := ""
	for _, d := range v.docs {
		for i := range d.doc.Statements {
			s := &d.doc.Statements[i]
			if !matchesAny(&s.Vulnerability, ids) {
				continue
			}
			covered := false
			for j := range s.Products {
				if covers(&s.Products[j], pkgPURL, image) {
					covered = true
					break
				}
			}
			if !covered {
				continue
			}
			t := d.doc.Timestamp
			if s.Timestamp != nil {
				t = s.Timestamp
			}
			var ts time.Time
			if t != nil {
				ts = *t
			}
			if best == nil || !ts.Before(bestTime) {
				best, bestTime, bestPath = s, ts, d.path
			}
		}
	}
	if best == nil || (best.Status != vex.StatusNotAffected && best.Status != vex.StatusFixed) {
		return nil
	}
	reason := string(best.Status)
	if best.Justification != "" {
		reason += ": " + string(best.Justification)
	}
	if best.ImpactStatement != "" {
		reason += ": " + best.ImpactStatement
	} else if best.StatusNotes != "" {
		reason += ": " + best.StatusNotes
	}
	src := bestPath
	if best.ID != "" {
		src += "#" + best.ID
	}
	return &finding.Suppression{By: "vex", Source: src, Reason: reason}
}

func matchesAny(v *vex.Vulnerability, ids []string) bool {
	for _, id := range ids {
		if id != "" && v.Matches(id) {
			return true
		}
	}
	return false
}
