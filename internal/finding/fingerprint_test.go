package finding

import "testing"

func TestFingerprintStable(t *testing.T) {
	base := Finding{ID: "KS-DF-017", Message: "COPY . . at line 12 copies the whole context before `npm install` at line 13",
		Location: Location{Path: "Dockerfile", Line: 12}}
	vuln := Finding{ID: "CVE-2023-43804", Message: "urllib3 1.26.12 is affected by CVE-2023-43804; fixed in 1.26.17 (layer 1)",
		Location: Location{Path: "/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO", Layer: "sha256:aaaa", LayerIndex: IntPtr(1)},
		Package:  &PackageRef{Name: "urllib3", Version: "1.26.12", Ecosystem: "PyPI"}}
	same := []struct {
		name string
		a, b Finding
	}{
		{"line moved", base, func() Finding {
			f := base
			f.Location.Line = 16
			f.Message = "COPY . . at line 16 copies the whole context before `npm install` at line 17"
			return f
		}()},
		{"layer rebuilt and version bumped", vuln, func() Finding {
			f := vuln
			f.Location.Layer, f.Location.LayerIndex = "sha256:bbbbbbbbbbbb", IntPtr(3)
			f.Message = "urllib3 1.26.13 is affected by CVE-2023-43804; fixed in 1.26.17 (layer 3)"
			f.Package = &PackageRef{Name: "urllib3", Version: "1.26.13", Ecosystem: "PyPI"}
			return f
		}()},
	}
	for _, tc := range same {
		if Fingerprint(tc.a) != Fingerprint(tc.b) {
			t.Errorf("%s: fingerprints differ", tc.name)
		}
	}
	differ := []Finding{
		func() Finding { f := base; f.ID = "KS-DF-018"; return f }(),
		func() Finding { f := base; f.Location.Path = "other/Dockerfile"; return f }(),
		func() Finding { f := base; f.Message = "COPY src . at line 12 copies the whole context"; return f }(),
		func() Finding { f := vuln; f.Package = &PackageRef{Name: "requests", Ecosystem: "PyPI"}; return f }(),
	}
	seen := map[string]int{Fingerprint(base): -1, Fingerprint(vuln): -2}
	for i, f := range differ {
		fp := Fingerprint(f)
		if j, ok := seen[fp]; ok {
			t.Errorf("variant %d has the fingerprint of %d", i, j)
		}
		seen[fp] = i
	}
}
