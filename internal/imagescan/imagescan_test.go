package imagescan

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/source"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// open opens one test image archive.
func open(t *testing.T, image string) *source.Image {
	t.Helper()
	src, err := source.Open(context.Background(), testimages.Path(t, image, testimages.FormDocker), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestScanLeakyTracesToDockerfile: the library alone (no CLI) finds the
// secret that a later layer deleted and traces it to the COPY line of the
// Dockerfile given in Options; a second scan is served by the image cache
// (no walk, no merged view) and gives the same findings and attribution.
func TestScanLeakyTracesToDockerfile(t *testing.T) {
	df, err := dockerfile.ParseFile(testimages.Dockerfile(t, testimages.Leaky))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Scanners: Scanners{Secret: true, Misconfig: true}, CacheDir: t.TempDir(), Dockerfile: df}
	cold, err := Scan(context.Background(), open(t, testimages.Leaky), "leaky", o)
	if err != nil {
		t.Fatal(err)
	}
	if cold.Walk == nil || cold.Merged == nil {
		t.Fatal("cold scan has no walk result or merged view")
	}
	var deleted *finding.Finding
	for i, f := range cold.Report.Findings {
		if strings.HasPrefix(f.ID, "KS-SE-") && f.Location.Path == "/"+testimages.LeakySecretPath {
			deleted = &cold.Report.Findings[i]
			break
		}
	}
	if deleted == nil {
		t.Fatalf("no secret finding in /%s: %v", testimages.LeakySecretPath, ruleIDs(cold.Report))
	}
	if deleted.Location.DockerfileLine != 7 || deleted.Location.Layer == "" || !strings.Contains(deleted.Location.Step, "COPY") {
		t.Errorf("deleted secret traced to %+v, want the COPY at Dockerfile line 7 with its layer", deleted.Location)
	}

	warm, err := Scan(context.Background(), open(t, testimages.Leaky), "leaky", o)
	if err != nil {
		t.Fatal(err)
	}
	if warm.Walk != nil || warm.Merged != nil {
		t.Error("warm scan walked the layers: image cache missed")
	}
	for i := range warm.Report.Image.Layers {
		if !warm.Report.Image.Layers[i].FromCache {
			t.Errorf("warm layer %d not marked from cache", i)
		}
		warm.Report.Image.Layers[i].FromCache = cold.Report.Image.Layers[i].FromCache
	}
	if a, b := mustJSON(t, cold.Report), mustJSON(t, warm.Report); a != b {
		t.Errorf("warm report differs from cold:\ncold %s\nwarm %s", a, b)
	}
	if len(warm.Digests) != len(cold.Digests) || len(warm.Layers) != len(cold.Layers) {
		t.Errorf("warm attribution: %d digests, %d layers; cold %d, %d", len(warm.Digests), len(warm.Layers), len(cold.Digests), len(cold.Layers))
	}

	// Attribution of a finding added later (as Match's are) by layer index.
	later := []finding.Finding{{ID: "X", Location: finding.Location{LayerIndex: deleted.Location.LayerIndex}}}
	warm.Attribute(later)
	if later[0].Location.DockerfileLine != 7 || later[0].Location.Layer != deleted.Location.Layer {
		t.Errorf("later finding attributed to %+v", later[0].Location)
	}
}

// TestScanKeyChanges: what changes the result changes the cache key.
func TestScanKeyChanges(t *testing.T) {
	src := open(t, testimages.Leaky)
	ic := &imageCache{Dir: t.TempDir()}
	base := Options{Scanners: Scanners{Secret: true}}
	df, err := dockerfile.ParseFile(testimages.Dockerfile(t, testimages.Leaky))
	if err != nil {
		t.Fatal(err)
	}
	edited := *df
	edited.Lines = append(append([]string(nil), df.Lines...), "# edited")
	variants := map[string]Options{
		"base":       base,
		"misconfig":  {Scanners: Scanners{Secret: true, Misconfig: true}},
		"maxfile":    {Scanners: base.Scanners, MaxFileSize: 1 << 10},
		"dockerfile": {Scanners: base.Scanners, Dockerfile: df},
		"edited":     {Scanners: base.Scanners, Dockerfile: &edited},
	}
	seen := map[string]string{}
	for name, o := range variants {
		k := ic.key(src, Analyzers(o.Scanners), o)
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s share cache key %s", name, other, k)
		}
		seen[k] = name
	}
}

// TestScanRejectsNegativeMaxFile: a bad option is an input error.
func TestScanRejectsNegativeMaxFile(t *testing.T) {
	_, err := Scan(context.Background(), open(t, testimages.DebianBase), "x", Options{MaxFileSize: -1})
	if _, ok := err.(*InputError); !ok {
		t.Fatalf("err = %v (%T), want *InputError", err, err)
	}
}

func ruleIDs(rep *finding.Report) []string {
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.ID+" "+f.Location.Path)
	}
	return ids
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
