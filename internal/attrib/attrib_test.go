package attrib

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kensa-sec/kensa/internal/dockerfile"
)

func TestStepsAndMatch(t *testing.T) {
	// History as buildah writes it for testdata/Dockerfile built with
	// --layers on a one-layer base.
	hist := []v1.History{
		{CreatedBy: "/bin/sh -c #(nop) ADD file:d27ef7 in / "},
		{CreatedBy: `/bin/sh -c #(nop) CMD ["bash"]`, EmptyLayer: true},
		{CreatedBy: "/bin/sh -c #(nop) ARG GITHUB_TOKEN", EmptyLayer: true},
		{CreatedBy: "/bin/sh -c #(nop) ENV AWS_ACCESS_KEY_ID=AKIAEXAMPLE", EmptyLayer: true},
		{CreatedBy: "/bin/sh -c #(nop) COPY file:3b52 in /etc/secrets.txt "},
		{CreatedBy: "|1 GITHUB_TOKEN=ghp_example /bin/sh -c rm /etc/secrets.txt"},
		{CreatedBy: `|1 GITHUB_TOKEN=ghp_example /bin/sh -c printf 'x %s\n' "$GITHUB_TOKEN"     > /root/.netrc && rm /root/.netrc`},
		{CreatedBy: "/bin/sh -c #(nop) COPY dir:77aa in /app/ "},
		{CreatedBy: "RUN /bin/true # buildkit"},
		{CreatedBy: `/bin/sh -c #(nop) CMD ["bash"]`, EmptyLayer: true},
	}
	cfg := &v1.ConfigFile{History: hist}
	steps := Steps(cfg, 6)
	layers := LayerSteps(steps, 6)
	wantLayerHist := []int{0, 4, 5, 6, 7, 8}
	for i, h := range wantLayerHist {
		if layers[i].History != h || layers[i].Layer != i {
			t.Errorf("layer %d: history %d, want %d", i, layers[i].History, h)
		}
	}
	df, err := dockerfile.ParseFile("testdata/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	Match(steps, df)
	// ARG entries (buildah writes them) are not Dockerfile history steps in
	// the dockerfile model, so they stay unmatched.
	wantLine := map[int]int{0: 0, 1: 0, 2: 0, 3: 6, 4: 7, 5: 8, 6: 9, 7: 11, 8: 12, 9: 13}
	for i, s := range steps {
		if s.Line != wantLine[i] {
			t.Errorf("history %d (%q): line %d, want %d", i, s.CreatedBy, s.Line, wantLine[i])
		}
		if s.Line > 0 && s.Dockerfile != "testdata/Dockerfile" {
			t.Errorf("history %d: dockerfile %q", i, s.Dockerfile)
		}
	}
}

func TestStepsMissingHistory(t *testing.T) {
	steps := Steps(nil, 2)
	if len(steps) != 2 || steps[1].Layer != 1 || steps[1].History != -1 {
		t.Errorf("steps %+v", steps)
	}
}
