package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/baseline"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// copyDir copies the regular files of src (recursively) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBaselineHidesKnownFindings: a report saved from the example web
// app is the baseline; rescanning with it shows and gates nothing, also
// after lines moved (a comment block added at the top); one new mistake
// is the only finding shown and fails the gate; the baselined ones are
// listed as suppressed by the baseline with --show-suppressed.
func TestBaselineHidesKnownFindings(t *testing.T) {
	src, _ := filepath.Abs("../../examples/webapp")
	dir := isolate(t)
	app := filepath.Join(dir, "webapp")
	copyDir(t, src, app)
	base := filepath.Join(dir, "base.json")
	var out, errb bytes.Buffer
	if code := Main([]string{"scan", "-q", "--format", "json", "-o", base, app}, &out, &errb); code != 0 {
		t.Fatalf("baseline scan: exit %d: %s", code, errb.String())
	}
	old, err := baseline.ReadReport(base)
	if err != nil || len(old.Findings) < 10 {
		t.Fatalf("baseline: %v, %d findings", err, len(old.Findings))
	}
	df := filepath.Join(app, "Dockerfile")
	orig, _ := os.ReadFile(df)
	scan := func(args ...string) (int, map[string]any) {
		t.Helper()
		out.Reset()
		errb.Reset()
		code := Main(append([]string{"scan", "-q", "--format", "json", "--exit-code", "3", "--baseline", base}, append(args, app)...), &out, &errb)
		var rep map[string]any
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("exit %d, %s: %v", code, errb.String(), err)
		}
		return code, rep
	}
	ids := func(rep map[string]any, key string) []string {
		var out []string
		list, _ := rep[key].([]any)
		for _, f := range list {
			out = append(out, f.(map[string]any)["id"].(string))
		}
		return out
	}

	if code, rep := scan(); code != 0 || len(ids(rep, "findings")) != 0 {
		t.Fatalf("same files: exit %d, findings %v", code, ids(rep, "findings"))
	}
	moved := append([]byte("# syntax=docker/dockerfile:1\n# moved\n# every\n# line\n"), orig...)
	os.WriteFile(df, moved, 0o644)
	if code, rep := scan(); code != 0 || len(ids(rep, "findings")) != 0 {
		t.Fatalf("lines moved: exit %d, findings %v", code, ids(rep, "findings"))
	}
	os.WriteFile(df, append(moved, []byte("ENV STRIPE_SECRET_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc1a\n")...), 0o644)
	code, rep := scan("--show-suppressed")
	if got := ids(rep, "findings"); code != 3 || len(got) == 0 {
		t.Fatalf("new credential: exit %d, findings %v, want it alone and exit 3", code, got)
	}
	for _, f := range rep["findings"].([]any) {
		if msg := f.(map[string]any)["message"].(string); !strings.Contains(msg, "STRIPE_SECRET_KEY") {
			t.Errorf("a known finding came back: %s", msg)
		}
	}
	sup := rep["suppressed"].([]any)
	if len(sup) != len(old.Findings) {
		t.Errorf("%d suppressed, want the baseline's %d", len(sup), len(old.Findings))
	}
	if by := sup[0].(map[string]any)["suppressed"].(map[string]any)["by"]; by != "baseline" {
		t.Errorf("suppressed by %v", by)
	}

	// Not a report: a clear input error before scanning.
	os.WriteFile(filepath.Join(dir, "x.json"), []byte(`{"a": 1}`), 0o644)
	out.Reset()
	errb.Reset()
	if code := Main([]string{"scan", "-q", "--baseline", filepath.Join(dir, "x.json"), app}, &out, &errb); code != ExitBadInput || !strings.Contains(errb.String(), "not a kensa JSON report") {
		t.Errorf("bad baseline: exit %d, %q", code, errb.String())
	}
}

// TestDiffImages diffs the debian-base image against the gobin app built
// on it (both scanned now), and a saved report against itself: the app's
// Go vulnerabilities and its binary's modules are added, the base layer's
// findings are unchanged, and a report diffed with itself changes nothing.
// --exit-code gates on added findings only.
func TestDiffImages(t *testing.T) {
	db := vulnImportDB(t, "../vulndb/testdata/osv/Debian", "../vulndb/testdata/osv/Go")
	dir := isolate(t)
	baseImg := testimages.Path(t, testimages.DebianBase, testimages.FormDocker)
	app := testimages.Path(t, testimages.Gobin, testimages.FormDocker)
	var out, errb bytes.Buffer
	code := Main([]string{"diff", "-q", "--no-cache", "--db", db, "--format", "json", baseImg, app}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var d baseline.Diff
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Removed {
		if f.Location.LayerIndex != nil {
			t.Errorf("removed %s from layer %d: the base layer's findings should be unchanged", f.ID, *f.Location.LayerIndex)
		}
	}
	goVulns := 0
	for _, f := range d.Added {
		if f.Package != nil && f.Package.Ecosystem == "Go" {
			goVulns++
		}
	}
	if len(d.Unchanged) == 0 || goVulns == 0 {
		t.Errorf("unchanged %d, added Go vulnerabilities %d: want both", len(d.Unchanged), goVulns)
	}
	goMods := 0
	for _, p := range d.Packages {
		if p.From != "" {
			t.Errorf("package %s %s changed or removed going from the base to an app on it", p.Name, p.From)
		}
		if p.Type == "golang" {
			goMods++
		}
	}
	if goMods == 0 {
		t.Errorf("no Go module added: %+v", d.Packages)
	}

	rep := filepath.Join(dir, "app.json")
	if code := Main([]string{"scan", "-q", "--no-cache", "--db", db, "--format", "json", "-o", rep, app}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := Main([]string{"diff", "--exit-code", "1", rep, rep}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Summary: 0 added, 0 removed") {
		t.Errorf("report vs itself: exit %d\n%s", code, out.String())
	}
	out.Reset()
	code = Main([]string{"diff", "-q", "--no-cache", "--db", db, "--exit-code", "4", baseImg, rep}, &out, &errb)
	if code != 4 || !strings.Contains(out.String(), "\nAdded (") {
		t.Errorf("base vs app with --exit-code 4: exit %d\n%s", code, out.String())
	}
}
