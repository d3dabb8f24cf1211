package runtime

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/manifest"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/rules"
)

// testOptions trusts registry.example and Docker Hub's official images.
func testOptions() Options {
	p := &policy.Policy{Config: &policy.Config{TrustedRegistries: []string{"registry.example", "docker.io/library"}}}
	return Options{IsTrusted: p.Trusted, TrustedRegistries: p.TrustedRegistries(), ProfileFor: testProfile}
}

// testProfile is the hardened profile of the images named
// registry.example/hardened/...: an nginx-like image.
func testProfile(image string) *Profile {
	if !strings.HasPrefix(image, "registry.example/hardened/") {
		return nil
	}
	return &Profile{Image: image, UID: 33, GID: 33, Writable: []string{"/run", "/tmp", "/var/lib/nginx"}, CapAdd: []string{"NET_BIND_SERVICE"}, Ports: []int{80}}
}

// scanFiles loads and checks manifest files as one scan.
func scanFiles(t testing.TB, paths ...string) []finding.Finding {
	t.Helper()
	c := New(testOptions())
	for _, p := range paths {
		if _, err := manifest.LoadFile(context.Background(), p, manifest.Options{}, func(w *manifest.Workload) error {
			c.Check(w)
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	return c.Finish()
}

var wantRe = regexp.MustCompile(`#\s*want\s+(KS-RT-\d{3})`)

// wantLines returns the lines of path marked `# want ID`.
func wantLines(t *testing.T, path, id string) []int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		for _, m := range wantRe.FindAllStringSubmatch(sc.Text(), -1) {
			if m[1] == id {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestRuleCases runs testdata/cases/<ID>/{pos,neg}-*.yaml: a positive
// case must report rule ID exactly on the lines marked `# want ID`, a
// negative case must not report it at all. Every rule has at least three
// of each, and every finding has a message and a fix snippet.
func TestRuleCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/KS-RT-*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	covered := map[string]bool{}
	for _, dir := range dirs {
		id := filepath.Base(dir)
		covered[id] = true
		if _, ok := rules.Lookup(id); !ok {
			t.Errorf("%s: not in the catalogue", id)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		pos, neg := 0, 0
		for _, file := range files {
			name := filepath.Base(file)
			isPos := strings.HasPrefix(name, "pos-")
			if isPos {
				pos++
			} else {
				neg++
			}
			t.Run(id+"/"+name, func(t *testing.T) {
				var got []int
				for _, f := range scanFiles(t, file) {
					if f.Message == "" || f.Fix == "" || f.Location.Path != file {
						t.Errorf("malformed finding %+v", f)
					}
					if f.ID == id {
						got = append(got, f.Location.Line)
					}
				}
				sort.Ints(got)
				want := wantLines(t, file, id)
				if isPos && len(want) == 0 {
					t.Fatalf("positive case without a `# want %s` marker", id)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s at lines %v, want %v", id, got, want)
				}
			})
		}
		if pos < 3 || neg < 3 {
			t.Errorf("%s: %d positive and %d negative cases, want at least 3 of each", id, pos, neg)
		}
	}
	for _, r := range rules.WithPrefix("KS-RT-") {
		if !covered[r.ID] {
			t.Errorf("%s has no test cases", r.ID)
		}
	}
}
