package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestBaseSplit scans two apps built on the debian-base test image, one
// with its Dockerfile and one with --base naming the base archive: every
// finding of a layer is marked base or own by that layer, the Debian
// vulnerabilities of the debootstrap packages are the base's, the Go
// module's and the leaky image's planted secrets are the app's own, and
// the summary counts them.
func TestBaseSplit(t *testing.T) {
	db := vulnImportDB(t, "../vulndb/testdata/osv/Debian", "../vulndb/testdata/osv/Go")
	isolate(t)
	base := testimages.Path(t, testimages.DebianBase, testimages.FormLayout)
	cases := []struct {
		name, image string
		args        []string
		source      string
		own         func(f finding.Finding) bool // a finding that must be the app's
	}{
		{"leaky by Dockerfile", testimages.Leaky, []string{"--dockerfile", testimages.Dockerfile(t, testimages.Leaky)}, "dockerfile",
			func(f finding.Finding) bool { return strings.HasPrefix(f.ID, "KS-SE-") }},
		{"gobin by --base", testimages.Gobin, []string{"--base", base}, "--base",
			func(f finding.Finding) bool { return f.Package != nil && f.Package.Ecosystem == "Go" }},
	}
	for _, tc := range cases {
		args := append([]string{"--no-cache", "--db", db}, tc.args...)
		rep := vulnScanJSON(t, append(args, testimages.Path(t, tc.image, testimages.FormDocker))...)
		b := rep.Image.Base
		if b == nil || b.Layers != 1 || b.Source != tc.source {
			t.Fatalf("%s: base %+v, want 1 layer from %s", tc.name, b, tc.source)
		}
		var nBase, nOwn, debBase, own int
		for _, f := range rep.Findings {
			li := f.Location.LayerIndex
			switch {
			case li != nil && *li == 0 && f.Origin != finding.OriginBase,
				li != nil && *li > 0 && f.Origin != finding.OriginOwn:
				t.Errorf("%s: %s in layer %d has origin %q", tc.name, f.ID, *li, f.Origin)
			}
			switch f.Origin {
			case finding.OriginBase:
				nBase++
			case finding.OriginOwn:
				nOwn++
			}
			if f.Package != nil && strings.HasPrefix(f.Package.Ecosystem, "Debian") && f.Origin == finding.OriginBase {
				debBase++
			}
			if tc.own(f) {
				own++
				if f.Origin != finding.OriginOwn {
					t.Errorf("%s: %s %s: origin %q, want own", tc.name, f.ID, f.Location.Path, f.Origin)
				}
			}
		}
		if debBase == 0 || own == 0 {
			t.Errorf("%s: %d Debian findings from the base, %d app findings: want both", tc.name, debBase, own)
		}
		if rep.Summary.ByOrigin[finding.OriginBase] != nBase || rep.Summary.ByOrigin[finding.OriginOwn] != nOwn {
			t.Errorf("%s: summary by origin %v, counted base %d own %d", tc.name, rep.Summary.ByOrigin, nBase, nOwn)
		}
	}

	// The table says it in one line.
	var out, errb bytes.Buffer
	if code := Main([]string{"scan", "-q", "--no-cache", "--db", db, "--base", base, testimages.Path(t, testimages.Gobin, testimages.FormDocker)}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "\nbase "+base+": ") || !strings.Contains(out.String(), "own layers: ") || !strings.Contains(out.String(), "[base]") {
		t.Errorf("table lacks the base/own split:\n%s", out.String())
	}
}

// TestBaseWrongImage: --base naming an image the target is not built on
// is an input error that says so.
func TestBaseWrongImage(t *testing.T) {
	isolate(t)
	var out, errb bytes.Buffer
	code := Main([]string{"scan", "-q", "--no-cache", "--scanners", "misconfig", "--base", testimages.Path(t, testimages.Gobin, testimages.FormDocker),
		testimages.Path(t, testimages.NPM, testimages.FormDocker)}, &out, &errb)
	if code != ExitBadInput || !strings.Contains(errb.String(), "shares only its first 1 of 2 layers") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
