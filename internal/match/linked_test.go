package match

import (
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// TestNotLinked: a Go advisory naming the affected packages of a module
// (ecosystem_specific.imports) is suppressed as "not-linked" when the
// binary links none of them, and kept when it links one, when the linked
// set is unknown, or when the advisory names no packages.
func TestNotLinked(t *testing.T) {
	affected := func(imports ...string) map[string]any {
		a := map[string]any{
			"package": map[string]any{"ecosystem": "Go", "name": "example.com/lib"},
			"ranges":  []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "1.2.0"}}}},
		}
		if len(imports) > 0 {
			var ims []any
			for _, im := range imports {
				ims = append(ims, map[string]any{"path": im, "symbols": []string{"Parse"}})
			}
			a["ecosystem_specific"] = map[string]any{"imports": ims}
		}
		return a
	}
	rec := func(id string, aff ...map[string]any) map[string]any {
		var as []any
		for _, a := range aff {
			as = append(as, a)
		}
		return map[string]any{"id": id, "modified": "2026-01-01T00:00:00Z", "summary": id, "affected": as}
	}
	db := buildDB(t, recordsDir(t,
		rec("GO-1-PARSER", affected("example.com/lib/parser")),
		rec("GO-2-WHOLE", affected()),
		rec("GO-3-TWO", affected("example.com/lib/x"), affected("example.com/lib/y")),
	))
	pkg := func(linked ...string) inventory.Package {
		return inventory.Package{Name: "example.com/lib", Version: "1.0.0", Ecosystem: "Go", Type: "golang",
			PURL: "pkg:golang/example.com/lib@v1.0.0", Path: "/bin/app", GoPackages: linked}
	}
	for _, c := range []struct {
		name             string
		p                inventory.Package
		found, suppresed string
	}{
		{"links none", pkg("example.com/lib", "example.com/lib/util"), "GO-2-WHOLE", "GO-1-PARSER GO-3-TWO"},
		{"links parser", pkg("example.com/lib/parser"), "GO-1-PARSER GO-2-WHOLE", "GO-3-TWO"},
		{"links one of two entries", pkg("example.com/lib/y"), "GO-2-WHOLE GO-3-TWO", "GO-1-PARSER"},
		{"unknown", pkg(), "GO-1-PARSER GO-2-WHOLE GO-3-TWO", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Match(db, nil, []inventory.Package{c.p}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var found, supp []string
			for _, f := range res.Findings {
				found = append(found, f.ID)
			}
			for _, f := range res.Suppressed {
				supp = append(supp, f.ID)
				if f.Suppressed == nil || f.Suppressed.By != "not-linked" || !strings.Contains(f.Suppressed.Reason, "/bin/app") {
					t.Errorf("%s: suppression %+v", f.ID, f.Suppressed)
				}
			}
			if got := strings.Join(found, " "); got != c.found {
				t.Errorf("findings %q, want %q", got, c.found)
			}
			if got := strings.Join(supp, " "); got != c.suppresed {
				t.Errorf("suppressed %q, want %q", got, c.suppresed)
			}
		})
	}
}
