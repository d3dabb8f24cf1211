package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/server"
	"github.com/kensa-sec/kensa/internal/server/store"
)

// TestServerComposeFile checks deploy/compose.yaml, the containerized
// kensa server: compose-go loads it with full validation (networks,
// volumes, secrets and dependencies consistent), and kensa's own scan of
// it finds only what the file says it leaves (tags without digests; no
// healthcheck for the one-off database download and the portless
// workers): every container is non-root, read-only, without
// capabilities, with CPU and memory limits. The repository's Dockerfile lints
// without findings above LOW.
func TestServerComposeFile(t *testing.T) {
	deploy, err := filepath.Abs(filepath.Join("..", "..", "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(deploy, "compose.yaml")
	data, err := os.ReadFile(compose)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  deploy,
		ConfigFiles: []types.ConfigFile{{Filename: compose, Content: data}},
		Environment: types.Mapping{},
	})
	if err != nil {
		t.Fatalf("compose-go: %v", err)
	}
	var names []string
	for n, s := range proj.Services {
		names = append(names, n)
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || s.User == "" || strings.HasPrefix(s.User, "0") {
			t.Errorf("service %s: read_only %v, cap_drop %v, user %q", n, s.ReadOnly, s.CapDrop, s.User)
		}
		if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.NanoCPUs == 0 || s.Deploy.Resources.Limits.MemoryBytes == 0 {
			t.Errorf("service %s: no CPU and memory limits", n)
		}
		for _, p := range s.Ports {
			if p.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes port %d beyond loopback", n, p.Target)
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"api", "postgres", "vulndb", "worker"}) {
		t.Errorf("services %v", names)
	}
	if b := proj.Services["vulndb"].Build; b == nil || b.Dockerfile != "Dockerfile" || b.Context != filepath.Dir(deploy) {
		t.Errorf("vulndb build %+v: want the repository's Dockerfile", b)
	}

	isolate(t)
	code, out, stderr := run(t, "scan", "-f", "json", compose)
	if code != 0 {
		t.Fatalf("kensa scan compose.yaml: exit %d: %s", code, stderr)
	}
	var rep finding.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		if f.Severity > finding.SeverityLow {
			t.Errorf("finding above LOW: %s %s: %s", f.Severity, f.ID, f.Message)
		}
		svc, _, _ := strings.Cut(strings.TrimPrefix(f.Message, "service "), " ")
		got = append(got, f.ID+" "+svc)
	}
	slices.Sort(got)
	want := []string{"KS-RT-012 api", "KS-RT-012 postgres", "KS-RT-012 worker", "KS-RT-018 vulndb", "KS-RT-018 worker"}
	if !slices.Equal(got, want) {
		t.Errorf("compose findings %v, want %v", got, want)
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "4 objects checked") {
		t.Errorf("notes %q: want the 4 services checked and nothing else (no unset variables, no fallback load)", rep.Notes)
	}

	code, out, stderr = run(t, "scan", "-f", "json", filepath.Join(filepath.Dir(deploy), "Dockerfile"))
	if code != 0 {
		t.Fatalf("kensa scan Dockerfile: exit %d: %s", code, stderr)
	}
	rep = finding.Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity > finding.SeverityLow {
			t.Errorf("Dockerfile: %s %s: %s", f.Severity, f.ID, f.Message)
		}
	}
}

// TestServerHealthcheckCommand: `kensa server healthcheck` (the compose
// file's health check) exits 0 against a live server and fails against
// no server.
func TestServerHealthcheckCommand(t *testing.T) {
	isolate(t)
	st, err := store.Open(context.Background(), testDatabase(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := httptest.NewServer(server.NewAPI(st, server.APIOptions{}))
	code, out, stderr := run(t, "server", "healthcheck", "--url", api.URL)
	if code != 0 || !strings.Contains(out, `"ok"`) {
		t.Errorf("healthcheck of a live server: exit %d, %q, %s", code, out, stderr)
	}
	api.Close()
	code, _, stderr = run(t, "server", "healthcheck", "--url", api.URL, "--timeout", "2s")
	if code == 0 || !strings.Contains(stderr, "health check") {
		t.Errorf("healthcheck of a closed server: exit %d, %s", code, stderr)
	}
}
