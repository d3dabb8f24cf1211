package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/report"
	"github.com/kensa-sec/kensa/internal/rules"
)

// testReport is what a Dockerfile scan of a small project reports.
func testReport() *finding.Report {
	rep := finding.NewReport("Dockerfile", "dockerfile")
	inline := rules.MustLookup("KS-DF-024").NewFinding("CMD node server.js is in shell form", finding.Location{Path: "Dockerfile", Line: 9})
	inline.Suppressed = &finding.Suppression{By: "inline", Source: "Dockerfile:8"}
	rep.Findings = []finding.Finding{
		rules.MustLookup("KS-DF-001").NewFinding("no USER in the final stage", finding.Location{Path: "Dockerfile", Line: 1}),
		rules.MustLookup("KS-DF-015").NewFinding("no HEALTHCHECK", finding.Location{Path: "Dockerfile", Line: 1}),
		rules.MustLookup("KS-DF-016").NewFinding("no OCI labels", finding.Location{Path: "Dockerfile", Line: 1}),
		inline,
	}
	return rep
}

// runFinish runs finishScan in a fresh working directory holding files.
func runFinish(t *testing.T, o *scanOptions, files map[string]string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.Format == "" {
		o.Format = "json"
	}
	if o.now == nil {
		o.now = func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }
	}
	var out bytes.Buffer
	err := finishScan(o, testReport(), &out)
	return out.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return -1
	}
	return 0
}

func decode(t *testing.T, s string) finding.Report {
	t.Helper()
	var r finding.Report
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, s)
	}
	return r
}

func ids(fs []finding.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return strings.Join(out, ",")
}

func TestFinishScanGate(t *testing.T) {
	cases := []struct {
		name     string
		o        scanOptions
		files    map[string]string
		wantCode int
		wantIDs  string
	}{
		{"default exit 0", scanOptions{}, nil, 0, "KS-DF-001,KS-DF-015,KS-DF-016"},
		{"exit-code with findings", scanOptions{ExitCode: 4}, nil, 4, "KS-DF-001,KS-DF-015,KS-DF-016"},
		{"severity filter hides all", scanOptions{ExitCode: 4, Severity: "CRITICAL"}, nil, 0, ""},
		{"severity filter keeps HIGH", scanOptions{ExitCode: 4, Severity: "HIGH,CRITICAL"}, nil, 4, "KS-DF-001"},
		{"all shown findings ignored", scanOptions{ExitCode: 4, Severity: "HIGH"},
			map[string]string{".kensaignore": "KS-DF-001 Dockerfile # root needed for port 80\n"}, 0, ""},
		{"config override moves below the gate", scanOptions{ExitCode: 1, Severity: "LOW,MEDIUM,HIGH,CRITICAL"},
			map[string]string{"kensa.yaml": "severity_overrides:\n  KS-DF-001: INFO\n  KS-DF-015: INFO\ndisabled_rules: [KS-DF-016]\n"}, 0, ""},
		{"config override raises into the gate", scanOptions{ExitCode: 1, Severity: "CRITICAL"},
			map[string]string{"kensa.yaml": "severity_overrides: {KS-DF-016: CRITICAL}\n"}, 1, "KS-DF-016"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			out, err := runFinish(t, &o, c.files)
			if got := exitCode(err); got != c.wantCode {
				t.Fatalf("exit code %d (err %v), want %d", got, err, c.wantCode)
			}
			if got := ids(decode(t, out).Findings); got != c.wantIDs {
				t.Errorf("shown findings %q, want %q", got, c.wantIDs)
			}
		})
	}
}

func TestFinishScanIgnoreExpiry(t *testing.T) {
	files := map[string]string{".kensaignore": "# accepted until the base image moves\nKS-DF-001 exp:2026-02-15\n"}
	// Before expiry: ignored, shown under --show-suppressed with its source.
	o := scanOptions{ExitCode: 3, Severity: "HIGH", ShowSuppressed: true, now: func() time.Time { return time.Date(2026, 2, 15, 23, 0, 0, 0, time.UTC) }}
	out, err := runFinish(t, &o, files)
	if exitCode(err) != 0 {
		t.Fatalf("before expiry: exit %d", exitCode(err))
	}
	rep := decode(t, out)
	if len(rep.Suppressed) != 1 || rep.Suppressed[0].Suppressed.Source != ".kensaignore:2" || rep.Suppressed[0].Suppressed.Reason != "accepted until the base image moves" {
		t.Errorf("suppressed = %+v", rep.Suppressed)
	}
	// After expiry: counts again, with a note.
	o = scanOptions{ExitCode: 3, Severity: "HIGH", now: func() time.Time { return time.Date(2026, 2, 16, 0, 0, 1, 0, time.UTC) }}
	out, err = runFinish(t, &o, files)
	if exitCode(err) != 3 {
		t.Fatalf("after expiry: exit %d, want 3", exitCode(err))
	}
	rep = decode(t, out)
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], ".kensaignore:2: ignore entry KS-DF-001 expired on 2026-02-15") {
		t.Errorf("notes = %q", rep.Notes)
	}
}

func TestFinishScanInlineSuppressed(t *testing.T) {
	o := scanOptions{ShowSuppressed: true}
	out, err := runFinish(t, &o, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := decode(t, out)
	if ids(rep.Suppressed) != "KS-DF-024" || rep.Summary.Suppressed != 1 {
		t.Errorf("inline suppression: suppressed %q, summary %+v", ids(rep.Suppressed), rep.Summary)
	}
	o = scanOptions{}
	out, _ = runFinish(t, &o, nil)
	if strings.Contains(out, "KS-DF-024") {
		t.Error("suppressed finding written without --show-suppressed")
	}
}

func TestOutputFileAtomic(t *testing.T) {
	o := scanOptions{Format: "sarif", Output: "report.sarif"}
	out, err := runFinish(t, &o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("stdout not empty with --output: %q", out)
	}
	data, err := os.ReadFile("report.sarif")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"version": "2.1.0"`)) || bytes.Contains(data, []byte("\x1b[")) {
		t.Errorf("report.sarif is not plain SARIF: %.200s", data)
	}
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		if strings.Contains(e.Name(), ".kensa-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func TestWriteReportNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Fails half-way, like a full disk.
	w := writerFunc(func(wr io.Writer) error { io.WriteString(wr, "{ partial"); return errors.New("disk full") })
	err := writeReport(path, w, testReport(), nil)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "previous" {
		t.Errorf("existing file changed to %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	if err := writeReport(filepath.Join(dir, "no/such/dir/out.json"), w, testReport(), nil); err == nil || !strings.Contains(err.Error(), "no/such/dir") {
		t.Errorf("missing folder error = %v", err)
	}
}

// writerFunc adapts a function to report.Writer.
type writerFunc func(io.Writer) error

func (f writerFunc) Write(w io.Writer, _ *finding.Report) error { return f(w) }

var _ report.Writer = writerFunc(nil)

func TestUseColor(t *testing.T) {
	var buf bytes.Buffer
	t.Setenv("FORCE_COLOR", "")
	if useColor(&scanOptions{}, &buf) {
		t.Error("colour for a buffer")
	}
	t.Setenv("FORCE_COLOR", "1")
	if !useColor(&scanOptions{}, &buf) {
		t.Error("FORCE_COLOR ignored")
	}
	if useColor(&scanOptions{Output: "x.txt"}, &buf) {
		t.Error("colour when writing --output")
	}
	t.Setenv("NO_COLOR", "")
	if useColor(&scanOptions{}, &buf) {
		t.Error("NO_COLOR (even empty) ignored")
	}
}
