package baseimage

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kensa-sec/kensa/internal/attrib"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/source"
)

func parse(t *testing.T, text string) *dockerfile.File {
	t.Helper()
	df, err := dockerfile.Parse("Dockerfile", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return df
}

func TestFromDockerfile(t *testing.T) {
	steps := []attrib.Step{
		{History: 0, Layer: 0, CreatedBy: "ADD rootfs /"},
		{History: 1, Layer: -1, CreatedBy: "CMD bash"},
		{History: 2, Layer: 1, CreatedBy: "RUN apt-get install -y curl", Line: 3},
		{History: 3, Layer: -1, CreatedBy: "USER app", Line: 4},
	}
	cases := []struct {
		name, text string
		steps      []attrib.Step
		want       *finding.BaseImage
	}{
		{"one stage", "FROM debian:12\nUSER root\nRUN apt-get install -y curl\nUSER app\n", steps,
			&finding.BaseImage{Name: "debian:12", Layers: 1, Source: "dockerfile"}},
		{"final stage from a stage", "FROM debian:12@sha256:" + strings.Repeat("a", 64) + " AS b\nFROM b\nRUN apt-get install -y curl\nUSER app\n", steps,
			&finding.BaseImage{Name: "debian:12@sha256:" + strings.Repeat("a", 64), Digest: "sha256:" + strings.Repeat("a", 64), Layers: 1, Source: "dockerfile"}},
		{"scratch", "FROM scratch\nCOPY app /\n", []attrib.Step{{Layer: 0, CreatedBy: "COPY app /", Line: 2}},
			&finding.BaseImage{Name: "scratch", Layers: 0, Source: "dockerfile"}},
		{"nothing matched", "FROM debian:12\nRUN true\n", []attrib.Step{{Layer: 0, CreatedBy: "ADD rootfs /"}}, nil},
	}
	for _, tc := range cases {
		got, ok := FromDockerfile(parse(t, tc.text), tc.steps)
		if (tc.want == nil) != !ok || (ok && *got != *tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, ok, tc.want)
		}
	}
	if _, ok := FromDockerfile(nil, steps); ok {
		t.Error("a nil Dockerfile gave a base")
	}
}

func TestFromLabels(t *testing.T) {
	cfg := &v1.ConfigFile{}
	if _, ok := FromLabels(cfg); ok {
		t.Error("no labels gave a base")
	}
	cfg.Config.Labels = map[string]string{LabelBaseName: "docker.io/library/debian:12", LabelBaseDigest: "sha256:bb"}
	b, ok := FromLabels(cfg)
	if !ok || b.Name != "docker.io/library/debian:12" || b.Digest != "sha256:bb" || b.Layers != -1 || b.Source != "label" {
		t.Errorf("got %+v", b)
	}
}

func img(ref string, diffIDs ...string) *source.Image {
	im := &source.Image{Reference: ref, Digest: "sha256:" + ref}
	for i, d := range diffIDs {
		im.Layers = append(im.Layers, source.Layer{Index: i, DiffID: d})
	}
	return im
}

func TestFromImage(t *testing.T) {
	app := img("app", "sha256:1", "sha256:2", "sha256:3")
	cases := []struct {
		base    *source.Image
		layers  int
		wantErr string
	}{
		{img("base", "sha256:1", "sha256:2"), 2, ""},
		{img("same", "sha256:1", "sha256:2", "sha256:3"), 3, ""},
		{img("other", "sha256:9"), 0, "shares no layers"},
		{img("newer", "sha256:1", "sha256:7"), 0, "shares only its first 1 of 2 layers"},
		{img("empty"), 0, "has no layers"},
	}
	for _, tc := range cases {
		b, err := FromImage(app, tc.base)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.base.Reference, err, tc.wantErr)
			}
			continue
		}
		if err != nil || b.Layers != tc.layers || b.Name != tc.base.Reference || b.Source != "--base" {
			t.Errorf("%s: %+v, %v", tc.base.Reference, b, err)
		}
	}
}

func TestApply(t *testing.T) {
	rep := finding.NewReport("x", "image")
	rep.Image = &finding.ImageInfo{}
	rep.Findings = []finding.Finding{
		{ID: "a", Location: finding.Location{LayerIndex: finding.IntPtr(0)}},
		{ID: "b", Location: finding.Location{LayerIndex: finding.IntPtr(1)}},
		{ID: "c", Location: finding.Location{LayerIndex: finding.IntPtr(2)}},
		{ID: "d", Location: finding.Location{Step: "ENV X=1", DockerfileLine: 4}},
		{ID: "e"},
	}
	Apply(rep, &finding.BaseImage{Name: "b", Layers: 2})
	want := []string{"base", "base", "own", "own", ""}
	for i, f := range rep.Findings {
		if f.Origin != want[i] {
			t.Errorf("%s: origin %q, want %q", f.ID, f.Origin, want[i])
		}
	}
	rep.Finalize()
	if rep.Summary.ByOrigin["base"] != 2 || rep.Summary.ByOrigin["own"] != 2 {
		t.Errorf("by origin %v", rep.Summary.ByOrigin)
	}
	// Only a name: no origins.
	rep2 := finding.NewReport("x", "image")
	rep2.Image = &finding.ImageInfo{}
	rep2.Findings = []finding.Finding{{ID: "a", Location: finding.Location{LayerIndex: finding.IntPtr(0)}}}
	Apply(rep2, &finding.BaseImage{Name: "b", Layers: -1})
	if rep2.Findings[0].Origin != "" || rep2.Image.Base == nil {
		t.Errorf("name-only base: %+v, base %+v", rep2.Findings[0], rep2.Image.Base)
	}
}
