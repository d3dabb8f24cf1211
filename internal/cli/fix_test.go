package cli

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fixFixture writes a Dockerfile whose base lives in an in-process
// registry and returns its path and the base's digest.
func fixFixture(t *testing.T) (string, string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host + "/library/base:1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "Dockerfile")
	src := "FROM " + host + "/library/base:1\n" +
		"# tools\n" +
		"RUN apt-get update && \\\n" +
		"    apt-get install -y curl=7.88.1-10\n" +
		"USER 10001\n" +
		"CMD /usr/bin/curl --version\n"
	if err := os.WriteFile(p, []byte(src), 0o640); err != nil {
		t.Fatal(err)
	}
	return p, d.String()
}

func TestFixDiffAndWrite(t *testing.T) {
	p, digest := fixFixture(t)
	orig, _ := os.ReadFile(p)

	code, out, errOut := run(t, "fix", filepath.Dir(p))
	if code != 1 {
		t.Fatalf("fix with fixes available: exit %d, want 1\nstderr: %s", code, errOut)
	}
	for _, want := range []string{
		"--- a/", "+++ b/", "@@ -1,6 +1,7 @@",
		"/library/base:1@" + digest + "\n",
		"+    apt-get install --no-install-recommends -y curl=7.88.1-10 \\\n+    && rm -rf /var/lib/apt/lists/*\n",
		"+CMD [\"/usr/bin/curl\", \"--version\"]\n",
		" # tools\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"fixed KS-DF-003 " + p + ":1: pinned", "fixed KS-DF-006 " + p + ":3", "fixed KS-DF-007 " + p + ":3", "fixed KS-DF-024 " + p + ":6"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if now, _ := os.ReadFile(p); string(now) != string(orig) {
		t.Fatal("fix without --write changed the file")
	}
	// The diff is a real unified diff: git applies it.
	if git, err := exec.LookPath("git"); err == nil {
		patch := filepath.Join(t.TempDir(), "fix.patch")
		if err := os.WriteFile(patch, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		c := exec.Command(git, "apply", "--check", "-v", patch)
		c.Dir = "/"
		if b, err := c.CombinedOutput(); err != nil {
			t.Errorf("git apply --check: %v\n%s", err, b)
		}
	}

	code, out, errOut = run(t, "fix", "--write", p)
	if code != 0 || out != "" {
		t.Fatalf("fix --write: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	fixed, _ := os.ReadFile(p)
	if !strings.Contains(string(fixed), "@"+digest) || !strings.Contains(string(fixed), "--no-install-recommends") {
		t.Errorf("file not rewritten:\n%s", fixed)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}
	// Fixed files have nothing left to fix, and scan agrees.
	code, out, errOut = run(t, "fix", p)
	if code != 0 || out != "" || !strings.Contains(errOut, "nothing to fix") {
		t.Errorf("second fix: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	_, scanOut, _ := run(t, "scan", p)
	for _, id := range []string{"KS-DF-003", "KS-DF-006", "KS-DF-007", "KS-DF-024"} {
		if strings.Contains(scanOut, id) {
			t.Errorf("scan still reports %s after fix --write:\n%s", id, scanOut)
		}
	}
}

func TestFixOfflineRulesAndExitCodes(t *testing.T) {
	p, digest := fixFixture(t)
	code, out, errOut := run(t, "fix", "--offline", p)
	if code != 1 || strings.Contains(out, digest) || !strings.Contains(errOut, "left  KS-DF-003 "+p+":1: --offline: not resolved") {
		t.Errorf("--offline: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(p), ".kensaignore"), []byte("KS-DF-006 # we want recommends\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "fix", "--offline", p)
	if code != 1 || strings.Contains(out, "no-install-recommends") || !strings.Contains(errOut, "left  KS-DF-006 "+p+":3: ignored by ") {
		t.Errorf(".kensaignore: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, _ = run(t, "fix", "--offline", "--rules", "KS-DF-024", "--exit-code", "0", p)
	if code != 0 || !strings.Contains(out, "+CMD [") || strings.Contains(out, "no-install-recommends") {
		t.Errorf("--rules KS-DF-024 --exit-code 0: exit %d\n%s", code, out)
	}
	code, _, errOut = run(t, "fix", "--offline", "--write", "--exit-code", "3", p)
	if code != 3 {
		t.Errorf("--write --exit-code 3 with changes: exit %d (%s)", code, errOut)
	}
	if code, _, errOut = run(t, "fix", "--rules", "KS-DF-010", p); code != 2 || !strings.Contains(errOut, "no mechanical fix") {
		t.Errorf("unfixable rule: exit %d, %s", code, errOut)
	}
	if code, _, errOut = run(t, "fix", filepath.Join(t.TempDir(), "nope")); code != 2 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(bad, []byte("{\"not\": \"a dockerfile\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = run(t, "fix", bad); code != 2 || !strings.Contains(errOut, "not a Dockerfile") {
		t.Errorf("not a Dockerfile: exit %d, %s", code, errOut)
	}
	code, out, _ = run(t, "fix", "--help")
	if code != 0 || !strings.Contains(out, "Exit codes") || !strings.Contains(out, "KS-DF-024") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

// TestFixManyFiles: several targets give one diff each and one exit code.
func TestFixManyFiles(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.Dockerfile")
	dirty := filepath.Join(dir, "dirty", "Dockerfile")
	if err := os.MkdirAll(filepath.Dir(dirty), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clean, []byte("FROM debian:12@sha256:0000000000000000000000000000000000000000000000000000000000000000\nUSER 10001\nCMD [\"x\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dirty, []byte("FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\nRUN apk add curl=8.9.0-r0\nUSER 10001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "fix", "--offline", clean, filepath.Dir(dirty))
	if code != 1 || strings.Count(out, "+++ ") != 1 || !strings.Contains(out, "apk add --no-cache curl") || !strings.Contains(errOut, clean+": nothing to fix") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if code, _, _ := run(t, "fix", "--offline", clean, clean); code != 0 {
		t.Errorf("clean files: exit %d", code)
	}
	if code, _, errOut := run(t, "fix", "--offline", clean, filepath.Join(dir, "nope")); code != 2 || !strings.Contains(errOut, "nope") {
		t.Errorf("one missing file: exit %d, %s", code, errOut)
	}
}

// TestFixJSON: --format json reports each file's fixes, what was left and
// the diff, and keeps the exit codes.
func TestFixJSON(t *testing.T) {
	p, digest := fixFixture(t)
	code, out, errOut := run(t, "fix", "--format", "json", p)
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep struct {
		Files []struct {
			Path    string
			Changed bool
			Written bool
			Applied []struct {
				Rule, Finding, Change string
				Line                  int
			}
			Left []struct {
				Rule, Reason string
				Line         int
			}
			Diff string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Files) != 1 || !rep.Files[0].Changed || rep.Files[0].Written || !strings.Contains(rep.Files[0].Diff, "@"+digest) {
		t.Fatalf("report: %+v", rep)
	}
	rules := map[string]int{}
	for _, a := range rep.Files[0].Applied {
		rules[a.Rule] = a.Line
		if a.Finding == "" || a.Change == "" {
			t.Errorf("applied without finding or change: %+v", a)
		}
	}
	if rules["KS-DF-003"] != 1 || rules["KS-DF-006"] != 3 || rules["KS-DF-007"] != 3 || rules["KS-DF-024"] != 6 {
		t.Errorf("applied rules/lines: %v", rules)
	}
	if code, _, errOut := run(t, "fix", "--format", "sarif", p); code != 2 || !strings.Contains(errOut, "want diff or json") {
		t.Errorf("--format sarif: exit %d, %s", code, errOut)
	}
}
