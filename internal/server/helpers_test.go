package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// pgURL returns KENSA_TEST_PG_URL; without it the test fails (CI starts
// PostgreSQL with scripts/postgres.sh; never a silent skip).
func pgURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("KENSA_TEST_PG_URL")
	if u == "" {
		t.Fatal("KENSA_TEST_PG_URL is not set: start PostgreSQL with `scripts/postgres.sh start` and export KENSA_TEST_PG_URL=$(scripts/postgres.sh url)")
	}
	return u
}

// newDatabase creates a fresh database for one test on the server of
// KENSA_TEST_PG_URL and returns its URL; it is dropped when the test ends.
func newDatabase(t testing.TB) string {
	t.Helper()
	admin := pgURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL %s: %v", admin, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "kensa_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func openStore(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// testRegistry is go-containerregistry's in-process registry, counting
// blob downloads and optionally slowing them.
type testRegistry struct {
	srv      *httptest.Server
	Host     string
	blobGets atomic.Int64
	// slow holds a blob digest (or "*" for every blob) whose downloads
	// hang until the client gives up; "" for none.
	slow atomic.Value
}

func newRegistry(t testing.TB) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			r.blobGets.Add(1)
			if d, _ := r.slow.Load().(string); d == "*" || (d != "" && strings.HasSuffix(req.URL.Path, d)) {
				select {
				case <-time.After(30 * time.Second):
				case <-req.Context().Done():
					return
				}
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// buildDB imports the OSV records of dir into a new database file.
func buildDB(t testing.TB, path, dir string) {
	t.Helper()
	if _, err := vulndb.Import(vulndb.ImportOptions{DBPath: path, Paths: []string{dir}, Replace: true}); err != nil {
		t.Fatal(err)
	}
}

// apiClient calls the API with a token.
type apiClient struct {
	t     testing.TB
	base  string
	token string
}

func (c apiClient) do(method, path string, body io.Reader, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (c apiClient) submit(ref string) int64 {
	c.t.Helper()
	var j store.Job
	body, _ := json.Marshal(SubmitRequest{Image: ref})
	if code := c.do("POST", "/v1/scans", bytes.NewReader(body), &j); code != http.StatusAccepted {
		c.t.Fatalf("submit %s: HTTP %d", ref, code)
	}
	return j.ID
}

// waitJobs waits until every job is done or failed.
func waitJobs(t testing.TB, st *store.Store, ids []int64, within time.Duration) map[int64]*store.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	out := map[int64]*store.Job{}
	for {
		pending := 0
		for _, id := range ids {
			j, err := st.Job(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			out[id] = j
			if j.State != store.JobDone && j.State != store.JobFailed {
				pending++
			}
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs not finished after %s", pending, len(ids), within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testdata(name string) string { return filepath.Join("testdata", name) }

// queryRow runs one query on the database at dbURL and scans its row.
func queryRow(t testing.TB, dbURL, sql string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pushCorrupt pushes an image whose only layer is not a tar stream and
// returns its reference.
func pushCorrupt(t testing.TB, r string) string {
	t.Helper()
	l := static.NewLayer([]byte(strings.Repeat("this is not a tar archive\n", 40)), types.DockerLayer)
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return r
}

// writeDockerArchive returns img as a docker-archive (docker save).
func writeDockerArchive(t testing.TB, img v1.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	ref, err := name.ParseReference("example.test/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.Write(ref, img, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// latestSchema is the version of the newest migration in store/migrations.
const latestSchema = 8
