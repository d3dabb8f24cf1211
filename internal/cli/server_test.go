package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/sbom"
	"github.com/kensa-sec/kensa/internal/server"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// testDatabase creates a fresh database on KENSA_TEST_PG_URL's server
// (scripts/postgres.sh) and returns its URL; it fails without one.
func testDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("KENSA_TEST_PG_URL")
	if admin == "" {
		t.Fatal("KENSA_TEST_PG_URL is not set: start PostgreSQL with `scripts/postgres.sh start` and export KENSA_TEST_PG_URL=$(scripts/postgres.sh url)")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	db := "kensa_cli_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, admin); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") //nolint:errcheck
			c.Close(ctx)
		}
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + db
	return u.String()
}

// TestScanViaServerMatchesLocal scans the real leaky image through kensa
// server (API, worker, PostgreSQL) with `kensa scan --server` and locally
// with `kensa scan`: the JSON reports are identical but for the layers'
// from_cache flags, and the table output too; without a token the client
// is refused.
func TestScanViaServerMatchesLocal(t *testing.T) {
	dir := isolate(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	idx, err := layout.ImageIndexFromPath(testimages.Path(t, testimages.Leaky, testimages.FormLayout))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New())
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/team/leaky:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(dir, "kensa.db")
	if _, err := vulndb.Import(vulndb.ImportOptions{DBPath: dbFile, Paths: []string{filepath.Join(cliTestdata, "..", "..", "vulndb", "testdata", "osv", "Debian")}, Replace: true}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, testDatabase(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.CreateToken(ctx, "test", []string{store.ScopeSubmit})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(server.NewAPI(st, server.APIOptions{ToolVersion: Version}))
	defer api.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go server.NewWorker(st, server.WorkerOptions{DBPath: dbFile, Poll: 20 * time.Millisecond}).Run(wctx) //nolint:errcheck

	// What differs between two runs: layers' from_cache flags and SBOM
	// creation times.
	norm := regexp.MustCompile(`"from_cache": (true|false)|"(timestamp|created)": "[^"]*"`)
	jobID := 0
	for _, format := range []string{"json", "table", "sarif", "cyclonedx", "spdx"} {
		code, local, stderr := run(t, "scan", "--quiet", "--no-cache", "--db", dbFile, "-f", format, ref)
		if code != 0 {
			t.Fatalf("local scan: exit %d: %s", code, stderr)
		}
		code, remoteOut, stderr := run(t, "scan", "--server", api.URL, "--token", tok, "-f", format, ref)
		if code != 0 {
			t.Fatalf("server scan: exit %d: %s", code, stderr)
		}
		if m := regexp.MustCompile(`\(job (\d+)\)`).FindStringSubmatch(stderr); m != nil {
			jobID, _ = strconv.Atoi(m[1])
		}
		local, remoteOut = norm.ReplaceAllString(local, ""), norm.ReplaceAllString(remoteOut, "")
		if local != remoteOut {
			t.Errorf("%s: server scan differs from local scan\n--- local\n%s\n--- server\n%s", format, clip(local), clip(remoteOut))
		}
		if format == "json" && (!strings.Contains(local, `"kind": "vuln"`) || !strings.Contains(local, `"kind": "secret"`)) {
			t.Errorf("the comparison should cover vulnerabilities and secrets:\n%s", clip(local))
		}
		if format == "table" {
			continue
		}
		// The API's own rendering of the format is what the CLI writes.
		for _, how := range []string{"?format=" + format, "Accept"} {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/scans/%d/report", api.URL, jobID), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if how == "Accept" {
				req.Header.Set("Accept", mediaTypes[format]+", application/json;q=0.5")
			} else {
				req.URL.RawQuery = how[1:]
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mediaTypes[format] {
				t.Fatalf("GET report %s (%s): HTTP %d, %s: %s", format, how, resp.StatusCode, resp.Header.Get("Content-Type"), clip(string(b)))
			}
			if got := norm.ReplaceAllString(string(b), ""); got != local {
				t.Errorf("GET report %s (%s) differs from kensa scan -f %s\n--- local\n%s\n--- API\n%s", format, how, format, clip(local), clip(got))
			}
			if format == "cyclonedx" || format == "spdx" {
				res, err := sbom.Read("report."+format+".json", bytes.NewReader(b))
				if err != nil {
					t.Fatalf("the API's %s does not read back: %v", format, err)
				}
				if len(res.Packages) < 50 {
					t.Errorf("the API's %s holds %d packages, want the image's (over 50)", format, len(res.Packages))
				}
			}
		}
	}
	if jobID == 0 {
		t.Fatal("the client did not name its job")
	}
	code, _, stderr := run(t, "scan", "--quiet", "--server", api.URL, ref)
	if code != ExitBadInput || !strings.Contains(stderr, "HTTP 401") {
		t.Errorf("no token: exit %d, %s; want 2 and HTTP 401", code, stderr)
	}
}

// mediaTypes are the Content-Types of the API's report formats.
var mediaTypes = map[string]string{
	"json":      "application/json",
	"sarif":     "application/sarif+json",
	"cyclonedx": "application/vnd.cyclonedx+json",
	"spdx":      "application/spdx+json",
}

func clip(s string) string {
	if len(s) > 6000 {
		return s[:6000] + "..."
	}
	return s
}

func TestServerRegistryLimitsFlag(t *testing.T) {
	lim, err := parseRegistryLimits([]string{"ghcr.io=2", " docker.io = 1", "registry.example:5000=8"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if lim.Default != 4 || len(lim.PerRegistry) != 3 || lim.PerRegistry["ghcr.io"] != 2 || lim.PerRegistry["index.docker.io"] != 1 || lim.PerRegistry["registry.example:5000"] != 8 {
		t.Errorf("limits %+v", lim)
	}
	for _, bad := range []string{"ghcr.io", "ghcr.io=0", "=3", "ghcr.io=x"} {
		if _, err := parseRegistryLimits([]string{bad}, 4); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestServerGCCommand: kensa server gc applies the policy to a database
// and says what it deleted; a bad policy is refused.
func TestServerGCCommand(t *testing.T) {
	isolate(t)
	db := testDatabase(t)
	code, out, stderr := run(t, "server", "gc", "--database", db, "--gc-keep-scans", "3", "--gc-max-age-days", "30")
	if code != 0 || !strings.HasPrefix(out, "deleted 0 scans, 0 jobs, 0 manifests, 0 package sets, 0 packages, 0 layers") {
		t.Errorf("kensa server gc: exit %d: %q %s", code, out, stderr)
	}
	if code, _, stderr := run(t, "server", "gc", "--database", db, "--gc-keep-scans", "0"); code != ExitBadInput || !strings.Contains(stderr, "--gc-keep-scans") {
		t.Errorf("--gc-keep-scans 0: exit %d: %s", code, stderr)
	}
	code, out, _ = run(t, "server", "--help")
	for _, flag := range []string{"--webhook-secret", "--notify-url", "--notify-secret", "--rescan-interval", "--rescan-batch", "--registry-concurrency", "--gc-interval", "--gc-keep-scans", "--gc-max-age-days", "/v1/webhooks/registry"} {
		if code != 0 || !strings.Contains(out, flag) {
			t.Errorf("kensa server --help lacks %s", flag)
		}
	}
}
