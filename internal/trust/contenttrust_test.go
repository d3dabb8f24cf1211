package trust

import (
	"os"
	"path/filepath"
	"testing"
)

func TestContentTrust(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		".github/workflows/release.yaml": "env:\n  DOCKER_CONTENT_TRUST: 1\n",
		".gitlab-ci.yml":                 "build:\n  script:\n    - export DOCKER_CONTENT_TRUST=1\n    - docker push x\n",
		"Jenkinsfile":                    "environment {\n  DOCKER_CONTENT_TRUST = 'true'\n}\n",
		".travis.yml":                    "env:\n  - DOCKER_CONTENT_TRUST=0\n# DOCKER_CONTENT_TRUST=1\n",
		"ci/other.yml":                   "DOCKER_CONTENT_TRUST: 1\n", // not a CI file kensa knows
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := ContentTrust(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range fs {
		rel, _ := filepath.Rel(dir, f.Location.Path)
		got[rel] = f.Location.Line
		if f.ID != "KS-TR-007" {
			t.Errorf("id %s", f.ID)
		}
	}
	want := map[string]int{".github/workflows/release.yaml": 2, ".gitlab-ci.yml": 3, "Jenkinsfile": 2}
	if len(got) != len(want) {
		t.Fatalf("findings at %v, want %v", got, want)
	}
	for p, l := range want {
		if got[p] != l {
			t.Errorf("%s: line %d, want %d", p, got[p], l)
		}
	}
}
