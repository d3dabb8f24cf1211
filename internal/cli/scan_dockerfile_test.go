package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dfScan runs `kensa scan args...` and returns exit code, stdout, stderr.
func dfScan(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"scan"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func dfWrite(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type dfReport struct {
	TargetKind string `json:"target_kind"`
	Findings   []struct {
		ID       string `json:"id"`
		Kind     string `json:"kind"`
		Message  string `json:"message"`
		Location struct {
			Path string `json:"path"`
			Line int    `json:"line"`
		} `json:"location"`
	} `json:"findings"`
}

func dfParseReport(t *testing.T, s string) dfReport {
	t.Helper()
	var r dfReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, s)
	}
	return r
}

func (r dfReport) lines(id string) []int {
	var out []int
	for _, f := range r.Findings {
		if f.ID == id {
			out = append(out, f.Location.Line)
		}
	}
	return out
}

const dfSample = `FROM node:20
ENV API_PASSWORD=s3cr3t-Pa55w0rd-9f8e7d
# kensa ignore=KS-DF-006
RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*
COPY . /app
CMD ["node", "/app/server.js"]
`

func TestScanDockerfileFolder(t *testing.T) {
	dir := t.TempDir()
	dfWrite(t, dir, "Dockerfile", dfSample)
	dfWrite(t, dir, ".dockerignore", ".git\n")
	dfWrite(t, dir, ".env", "TOKEN=x\n")
	dfWrite(t, dir, "server.js", "console.log(1)\n")
	code, out, errs := dfScan(t, dir, "-f", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r := dfParseReport(t, out)
	if r.TargetKind != "dockerfile" {
		t.Errorf("target_kind = %q", r.TargetKind)
	}
	if got := r.lines("KS-DF-001"); len(got) != 1 || got[0] != 1 {
		t.Errorf("KS-DF-001 lines = %v, want [1]", got)
	}
	// The inline ignore moves the line-4 finding aside; line 5 stays.
	if got := r.lines("KS-DF-006"); len(got) != 1 || got[0] != 5 {
		t.Errorf("KS-DF-006 lines = %v, want [5] (line 4 ignored inline)", got)
	}
	if got := r.lines("KS-DF-010"); len(got) != 1 || got[0] != 2 {
		t.Errorf("KS-DF-010 lines = %v, want [2]", got)
	}
	for _, f := range r.Findings {
		if strings.HasPrefix(f.ID, "KS-DF-") && f.Location.Path != "Dockerfile" {
			t.Errorf("%s path = %q, want Dockerfile (relative to the scanned folder)", f.ID, f.Location.Path)
		}
		if strings.Contains(f.Message, "s3cr3t-Pa55w0rd") {
			t.Errorf("%s leaks the secret value: %s", f.ID, f.Message)
		}
	}
	// The build-context check runs for a folder: .env is copied by COPY . /app.
	if len(r.lines("KS-CX-002")) == 0 {
		t.Errorf("no KS-CX-002 for .env sent by COPY . /app: %+v", r.Findings)
	}

	// --scanners misconfig drops secret-kind findings.
	_, out, _ = dfScan(t, dir, "-f", "json", "--scanners", "misconfig")
	if r := dfParseReport(t, out); len(r.lines("KS-DF-010")) != 0 || len(r.lines("KS-DF-001")) != 1 {
		t.Errorf("--scanners misconfig: %+v", r.Findings)
	}
}

func TestScanDockerfileFileAndConfig(t *testing.T) {
	dir := t.TempDir()
	p := dfWrite(t, dir, "app.Dockerfile", "FROM quay.io/other/base:1\nUSER 10001\n")
	cfg := dfWrite(t, dir, "kensa.yaml", "trusted_registries:\n  - ghcr.io/acme\n")
	code, out, errs := dfScan(t, p, "-f", "json", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r := dfParseReport(t, out)
	if got := r.lines("KS-DF-004"); len(got) != 1 {
		t.Fatalf("KS-DF-004 with trusted_registries: %v", r.Findings)
	}
	for _, f := range r.Findings {
		if f.Location.Path != p {
			t.Errorf("path %q, want %q as given", f.Location.Path, p)
		}
		if strings.HasPrefix(f.ID, "KS-CX-") {
			t.Errorf("build-context check ran for a single-file target: %s", f.ID)
		}
	}
	// Without the config the rule is silent.
	empty := t.TempDir()
	p2 := dfWrite(t, empty, "Dockerfile", "FROM quay.io/other/base:1\nUSER 10001\n")
	_, out, _ = dfScan(t, p2, "-f", "json")
	if got := dfParseReport(t, out).lines("KS-DF-004"); len(got) != 0 {
		t.Errorf("KS-DF-004 without trusted_registries: %v", got)
	}
}

// TestScanDockerfileBadInput: each bad input exits 2 with one line naming the file and the problem.
func TestScanDockerfileBadInput(t *testing.T) {
	dir := t.TempDir()
	long := "FROM debian:12\nRUN echo " + strings.Repeat("x", 10<<20) + "\n"
	for _, tc := range []struct{ name, path, want string }{
		{"json", dfWrite(t, dir, "j/Dockerfile", `{"name": "x", "dependencies": {}}`), "not a Dockerfile"},
		{"readme", dfWrite(t, dir, "README.md", "# Title\n\nSome prose here.\n"), "not a Dockerfile"},
		{"binary", dfWrite(t, dir, "b/Dockerfile", "\x7fELF\x02\x01\x01\x00\x00\x00"), "binary data"},
		{"heredoc", dfWrite(t, dir, "h/Dockerfile", "FROM debian:12\nRUN <<EOF\necho hi\n"), "unterminated heredoc"},
		{"long line", dfWrite(t, dir, "l/Dockerfile", long), "line is longer than"},
		{"missing", filepath.Join(dir, "nope", "Dockerfile"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := dfScan(t, tc.path)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want %d (stdout %q)", code, ExitBadInput, out)
			}
			lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("stderr %q: want one line containing %q", errs, tc.want)
			}
			if tc.name != "missing" && !strings.Contains(lines[0], tc.path) {
				t.Fatalf("stderr %q does not name %s", errs, tc.path)
			}
		})
	}
}
